/*
 * RPC status: the 17 canonical gRPC codes (numerically identical to boussole.v1.Code), with the
 * mappings to the Connect protocol's code names and HTTP statuses kept in one place.
 */
#ifndef BOUSSOLE_STATUS_H
#define BOUSSOLE_STATUS_H

#include <stdbool.h>

typedef enum {
    BSL_STATUS_OK = 0,
    BSL_STATUS_CANCELLED = 1,
    BSL_STATUS_UNKNOWN = 2,
    BSL_STATUS_INVALID_ARGUMENT = 3,
    BSL_STATUS_DEADLINE_EXCEEDED = 4,
    BSL_STATUS_NOT_FOUND = 5,
    BSL_STATUS_ALREADY_EXISTS = 6,
    BSL_STATUS_PERMISSION_DENIED = 7,
    BSL_STATUS_RESOURCE_EXHAUSTED = 8,
    BSL_STATUS_FAILED_PRECONDITION = 9,
    BSL_STATUS_ABORTED = 10,
    BSL_STATUS_OUT_OF_RANGE = 11,
    BSL_STATUS_UNIMPLEMENTED = 12,
    BSL_STATUS_INTERNAL = 13,
    BSL_STATUS_UNAVAILABLE = 14,
    BSL_STATUS_DATA_LOSS = 15,
    BSL_STATUS_UNAUTHENTICATED = 16,
} bsl_status;

#define BSL_STATUS_COUNT 17

/* The largest answer (the RpcResponse envelope with its payload) a client accepts; a server
 * answers RESOURCE_EXHAUSTED instead of sending a larger one. */
#define BSL_RESPONSE_MAX_BYTES (16u << 20)

/* "NOT_FOUND"; "UNKNOWN" for a value out of range. */
const char *bsl_status_name(int status);

/* Connect protocol code name: "not_found", "invalid_argument"; "unknown" out of range. */
const char *bsl_status_connect_name(int status);

/* The status of a Connect code name, or -1. */
int bsl_status_from_connect_name(const char *name);

/* HTTP status the Connect protocol assigns to a status (e.g. NOT_FOUND -> 404). */
int bsl_status_http(int status);

/* True for a value in 0..16. */
bool bsl_status_valid(int status);

/* The status a runtime error maps to (BSL_ETIMEDOUT -> DEADLINE_EXCEEDED, BSL_EUNAVAIL ->
 * UNAVAILABLE, ...). The one place where the two error spaces meet. */
bsl_status bsl_status_from_err(int err);

#endif /* BOUSSOLE_STATUS_H */
