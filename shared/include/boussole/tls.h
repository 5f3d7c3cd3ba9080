/*
 * TLS for the internal hop (nng's tls+tcp://, mbedTLS underneath): every process presents a
 * certificate signed by the deployment's internal CA and requires one from its peer, so that
 * only Boussole processes can reach a service port and what they carry is encrypted.
 */
#ifndef BOUSSOLE_TLS_H
#define BOUSSOLE_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

typedef struct bsl_tls_options {
    const char *cert_file;   /* PEM certificate (chain) of this process */
    const char *key_file;    /* PEM private key of this process */
    const char *ca_file;     /* PEM CA certificates that sign the peers */
    const char *server_name; /* client side: name expected in the server's certificate;
                                NULL: the host of the URL dialed */
} bsl_tls_options;

/* True when the three files are set. */
bool bsl_tls_configured(const bsl_tls_options *o);

/* A TLS configuration requiring and verifying the peer's certificate. server selects the mode.
 * The caller frees it with nng_tls_config_free. */
int bsl_tls_config(nng_tls_config **out, const bsl_tls_options *o, bool server,
                   const char *server_name, char *errbuf, size_t errlen);

#endif /* BOUSSOLE_TLS_H */
