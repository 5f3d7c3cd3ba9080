#include "boussole/status.h"

#include <string.h>

#include "boussole/err.h"

/* One row per code, in code order: gRPC name, Connect name, HTTP status (connectrpc.com/docs/
 * protocol, "Error codes"). */
static const struct {
    const char *name;
    const char *connect;
    int http;
} rows[BSL_STATUS_COUNT] = {
    [BSL_STATUS_OK] = { "OK", "ok", 200 },
    [BSL_STATUS_CANCELLED] = { "CANCELLED", "canceled", 499 },
    [BSL_STATUS_UNKNOWN] = { "UNKNOWN", "unknown", 500 },
    [BSL_STATUS_INVALID_ARGUMENT] = { "INVALID_ARGUMENT", "invalid_argument", 400 },
    [BSL_STATUS_DEADLINE_EXCEEDED] = { "DEADLINE_EXCEEDED", "deadline_exceeded", 504 },
    [BSL_STATUS_NOT_FOUND] = { "NOT_FOUND", "not_found", 404 },
    [BSL_STATUS_ALREADY_EXISTS] = { "ALREADY_EXISTS", "already_exists", 409 },
    [BSL_STATUS_PERMISSION_DENIED] = { "PERMISSION_DENIED", "permission_denied", 403 },
    [BSL_STATUS_RESOURCE_EXHAUSTED] = { "RESOURCE_EXHAUSTED", "resource_exhausted", 429 },
    [BSL_STATUS_FAILED_PRECONDITION] = { "FAILED_PRECONDITION", "failed_precondition", 400 },
    [BSL_STATUS_ABORTED] = { "ABORTED", "aborted", 409 },
    [BSL_STATUS_OUT_OF_RANGE] = { "OUT_OF_RANGE", "out_of_range", 400 },
    [BSL_STATUS_UNIMPLEMENTED] = { "UNIMPLEMENTED", "unimplemented", 501 },
    [BSL_STATUS_INTERNAL] = { "INTERNAL", "internal", 500 },
    [BSL_STATUS_UNAVAILABLE] = { "UNAVAILABLE", "unavailable", 503 },
    [BSL_STATUS_DATA_LOSS] = { "DATA_LOSS", "data_loss", 500 },
    [BSL_STATUS_UNAUTHENTICATED] = { "UNAUTHENTICATED", "unauthenticated", 401 },
};

bool bsl_status_valid(int status)
{
    return status >= 0 && status < BSL_STATUS_COUNT;
}

const char *bsl_status_name(int status)
{
    return bsl_status_valid(status) ? rows[status].name : "UNKNOWN";
}

const char *bsl_status_connect_name(int status)
{
    return bsl_status_valid(status) ? rows[status].connect : "unknown";
}

int bsl_status_from_connect_name(const char *name)
{
    for (int i = 0; i < BSL_STATUS_COUNT; i++) {
        if (strcmp(rows[i].connect, name) == 0) {
            return i;
        }
    }
    return -1;
}

int bsl_status_http(int status)
{
    return bsl_status_valid(status) ? rows[status].http : 500;
}

bsl_status bsl_status_from_err(int err)
{
    switch (err) {
    case BSL_OK:
        return BSL_STATUS_OK;
    case BSL_ETIMEDOUT:
        return BSL_STATUS_DEADLINE_EXCEEDED;
    case BSL_EUNAVAIL:
    case BSL_ECLOSED:
        return BSL_STATUS_UNAVAILABLE;
    case BSL_EINVAL:
    case BSL_EPROTO:
        return BSL_STATUS_INVALID_ARGUMENT;
    case BSL_ETOOBIG:
        return BSL_STATUS_RESOURCE_EXHAUSTED;
    case BSL_ENOTFOUND:
        return BSL_STATUS_NOT_FOUND;
    case BSL_EEXIST:
        return BSL_STATUS_ALREADY_EXISTS;
    case BSL_ECRYPTO:
        return BSL_STATUS_DATA_LOSS;
    default:
        return BSL_STATUS_INTERNAL;
    }
}
