/*
 * The runtime's C error type: an int, 0 for success, one of the codes below otherwise, as nng
 * and libuv do it. OS and library errors are converted where they enter the runtime. This is
 * not the RPC status (see status.h): a bsl_err says why a C function failed; a bsl_status
 * says how a call ended.
 */
#ifndef BOUSSOLE_ERR_H
#define BOUSSOLE_ERR_H

enum {
    BSL_OK = 0,
    BSL_ENOMEM = 1,    /* out of memory */
    BSL_EINVAL = 2,    /* invalid argument */
    BSL_ETIMEDOUT = 3, /* a timer ran out first */
    BSL_EUNAVAIL = 4,  /* the peer (Redis, a replica) cannot be reached */
    BSL_ECLOSED = 5,   /* the object is closing or closed */
    BSL_ETOOBIG = 6,   /* a size limit was exceeded */
    BSL_EPROTO = 7,    /* the peer broke the protocol */
    BSL_ENOTFOUND = 8, /* no such thing */
    BSL_EIO = 9,       /* an I/O error */
    BSL_ECRYPTO = 10,  /* decryption or authentication failed */
    BSL_EHELP = 11,    /* --help was asked for and printed */
    BSL_EEXIST = 12,   /* already exists */
    BSL_ENNG = 13,     /* an nng call failed (the message says which) */
};

/* A static English description of an error code. */
const char *bsl_strerror(int err);

#endif /* BOUSSOLE_ERR_H */
