/*
 * Checks protobuf wire bytes against a message descriptor before protobuf-c unpacks them, so
 * that a bad payload is refused with the path of the field that broke it
 * ("steps[2].title: not valid UTF-8") rather than a bare "cannot decode". It checks what
 * protobuf-c does not: UTF-8 in string fields (proto3 requires it; JSON, logs and the PDF
 * depend on it), nesting depth, and wire types of known fields.
 */
#ifndef BOUSSOLE_PBCHECK_H
#define BOUSSOLE_PBCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#define BSL_PB_MAX_DEPTH 32

/* Returns true when the bytes are a well-formed encoding of `desc`. Otherwise false, with the
 * field path in path[] and the reason in why[] (both NUL-terminated, possibly empty). */
bool bsl_pb_check(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                  char *path, size_t path_cap, char *why, size_t why_cap);

/* True when s[0..len) is valid UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF). */
bool bsl_utf8_valid(const char *s, size_t len);

#endif /* BOUSSOLE_PBCHECK_H */
