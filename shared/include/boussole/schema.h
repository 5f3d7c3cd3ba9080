/*
 * The schema table: every service and method of proto/, with the facts protobuf-c's own
 * descriptors drop (idempotency level, MethodPolicy, comments). It is generated at build time
 * from the descriptor set by shared/tools/schema_gen.c, so adding an RPC to a .proto is all it
 * takes for the runtime, the gateway and reflection to know it.
 *
 * Everything here is immutable after start-up and may be read from any thread.
 */
#ifndef BOUSSOLE_SCHEMA_H
#define BOUSSOLE_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* Mirrors google.protobuf.MethodOptions.IdempotencyLevel. */
typedef enum {
    BSL_IDEMPOTENCY_UNKNOWN = 0,         /* not idempotent: callers send an idempotency key */
    BSL_IDEMPOTENCY_NO_SIDE_EFFECTS = 1, /* a read */
    BSL_IDEMPOTENCY_IDEMPOTENT = 2,      /* a write that may be repeated */
} bsl_idempotency;

typedef struct bsl_method_info {
    const char *full_name;    /* "boussole.v1.SessionService/GetBilan" */
    const char *service_name; /* "boussole.v1.SessionService" */
    const char *name;         /* "GetBilan" */
    const ProtobufCServiceDescriptor *service;
    unsigned index; /* position in service->methods */
    bsl_idempotency idempotency;
    bool anonymous; /* MethodPolicy.anonymous */
    bool internal;  /* MethodPolicy.internal */
    uint32_t default_timeout_ms;
    const char *comment; /* leading comment in the .proto, "" if none */
} bsl_method_info;

typedef struct bsl_service_info {
    const char *name; /* "boussole.v1.SessionService" */
    const ProtobufCServiceDescriptor *descriptor;
    const char *comment;
    const bsl_method_info *methods; /* contiguous, sorted by name */
    size_t n_methods;
} bsl_service_info;

/* The method of that full name, or NULL. `name` need not be NUL-terminated. */
const bsl_method_info *bsl_schema_method(const char *name, size_t len);

/* The method at `index` of a protobuf-c service descriptor, or NULL. */
const bsl_method_info *bsl_schema_method_of(const ProtobufCServiceDescriptor *service,
                                            unsigned index);

/* Every service of the schema, sorted by name. */
const bsl_service_info *bsl_schema_services(size_t *n);

/* The service of that full name, or NULL. */
const bsl_service_info *bsl_schema_service(const char *name);

/* The leading comment of a message ("boussole.v1.Bilan"), a field ("boussole.v1.Bilan.id"),
 * an enum or an enum value, or NULL when there is none. */
const char *bsl_schema_comment(const char *full_name);

/* A method that may be retried and deduplicated freely (a read, or an idempotent write). */
static inline bool bsl_method_retry_safe(const bsl_method_info *m)
{
    return m->idempotency != BSL_IDEMPOTENCY_UNKNOWN;
}

/* The generated tables (bsl_schema_table.c). Use the functions above instead. */
typedef struct bsl_schema_comment_entry {
    const char *name;
    const char *text;
} bsl_schema_comment_entry;

extern const bsl_method_info bsl__schema_methods[];
extern const size_t bsl__schema_n_methods;
extern const bsl_service_info bsl__schema_services[];
extern const size_t bsl__schema_n_services;
extern const bsl_schema_comment_entry bsl__schema_comments[];
extern const size_t bsl__schema_n_comments;

#endif /* BOUSSOLE_SCHEMA_H */
