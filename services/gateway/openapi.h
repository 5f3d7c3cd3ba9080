/*
 * An OpenAPI 3 description of the Connect API, generated from the schema: one path per exposed
 * method (POST, and GET for side-effect-free methods), request and response schemas from the
 * protobuf-c descriptors in their proto3 JSON form, and descriptions from the .proto comments
 * (bsl_schema_comment). REST tooling (code generators, API explorers) reads it.
 */
#ifndef GW_OPENAPI_H
#define GW_OPENAPI_H

#include <stdbool.h>
#include <stddef.h>

#include "boussole/schema.h"

/* The document as compact JSON (malloc'd, NUL-terminated) for the methods `exposed` accepts,
 * or NULL when out of memory. */
char *gw_openapi_build(bool (*exposed)(const bsl_method_info *m, void *arg), void *arg,
                       size_t *len);

#endif /* GW_OPENAPI_H */
