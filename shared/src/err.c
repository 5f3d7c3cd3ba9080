#include "boussole/err.h"

const char *bsl_strerror(int err)
{
    switch (err) {
    case BSL_OK:
        return "success";
    case BSL_ENOMEM:
        return "out of memory";
    case BSL_EINVAL:
        return "invalid argument";
    case BSL_ETIMEDOUT:
        return "timed out";
    case BSL_EUNAVAIL:
        return "unavailable";
    case BSL_ECLOSED:
        return "closed";
    case BSL_ETOOBIG:
        return "too big";
    case BSL_EPROTO:
        return "protocol error";
    case BSL_ENOTFOUND:
        return "not found";
    case BSL_EIO:
        return "I/O error";
    case BSL_ECRYPTO:
        return "decryption failed";
    case BSL_EHELP:
        return "help printed";
    case BSL_EEXIST:
        return "already exists";
    case BSL_ENNG:
        return "nng error";
    default:
        return "unknown error";
    }
}
