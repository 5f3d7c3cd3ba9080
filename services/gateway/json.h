/*
 * The proto3 JSON mapping (protobuf.dev/programming-guides/json) for protobuf-c messages,
 * driven by their descriptors: one generic codec for every message of the schema, no code per
 * message. Parsing goes through jansson (a maintained parser; this module only walks its tree);
 * writing is a direct walk of the message into a gw_buf, which also gives numbers their
 * shortest exact form.
 *
 * What the parser accepts, per the mapping: field names in lowerCamelCase or as written in the
 * .proto; enums by name or number; 64-bit integers as strings or numbers; integers as numbers,
 * strings or integral reals ("1e3"); floats as numbers or "NaN"/"Infinity"/"-Infinity"; bytes
 * as standard or URL-safe base64, padded or not; null for "not set"; Timestamp, Duration and
 * the wrapper types in their JSON forms; map fields as objects. Everything else is an error
 * naming the field: unknown fields, a field given twice, wrong types, numbers out of range,
 * two members of one oneof, nesting deeper than GW_JSON_MAX_DEPTH. Invalid UTF-8 and NUL
 * characters are refused by jansson.
 *
 * The writer omits fields holding their default value (as the mapping says), writes lowerCamel
 * names, enum names, 64-bit integers as strings and bytes as padded standard base64.
 *
 * No global state: callable from any thread.
 */
#ifndef GW_JSON_H
#define GW_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "boussole/arena.h"
#include "buf.h"

/* Deepest nesting of objects and arrays accepted; like the binary checker's limit. */
#define GW_JSON_MAX_DEPTH 32

typedef struct gw_json_error {
    char path[192]; /* field path as the client wrote it: "steps[2].title"; "" for the top */
    char why[192];  /* what is wrong, in English */
} gw_json_error;

/*
 * Parses len bytes of JSON text into a new message of type desc, allocated (with everything
 * it points to) in arena. Returns BSL_OK and *out; BSL_EINVAL when the text is not an
 * acceptable encoding of desc (err says where and why); BSL_ENOMEM.
 */
int gw_json_decode(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                   bsl_arena *arena, ProtobufCMessage **out, gw_json_error *err);

/* Writer options. */
enum {
    GW_JSON_PRETTY = 1, /* two-space indentation, for people (boussolectl) */
};

/*
 * Appends the JSON form of msg to b. Returns false when the message holds something the
 * mapping cannot express (a Timestamp out of range, a string that is not UTF-8): err says
 * which field. A buffer failure (memory, limit) shows in gw_buf_failed(b).
 */
bool gw_json_encode(const ProtobufCMessage *msg, int flags, gw_buf *b, gw_json_error *err);

/* The JSON name of a field: its .proto name in lowerCamelCase, as protoc computes it
 * ("beneficiary_id" -> "beneficiaryId"). Truncated to cap. */
void gw_json_name(const char *proto_name, char *out, size_t cap);

/* True for a message type written as something other than an object (Timestamp, Duration,
 * the wrappers). */
bool gw_json_is_special(const ProtobufCMessageDescriptor *d);

/* True for the entry type of a map field (protoc-c turns map<K,V> into repeated XxxEntry). */
bool gw_json_is_map_entry(const ProtobufCMessageDescriptor *d);

#endif /* GW_JSON_H */
