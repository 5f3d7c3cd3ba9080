#include "boussole/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "boussole/err.h"

bool bsl_tls_configured(const bsl_tls_options *o)
{
    return o != NULL && o->cert_file && o->cert_file[0] && o->key_file && o->key_file[0] &&
           o->ca_file && o->ca_file[0];
}

/* Reads a whole PEM file (at most 1 MiB) into a NUL-terminated buffer. */
static char *read_pem(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 1 << 20;
    char *buf = malloc(cap + 1);
    size_t n = buf ? fread(buf, 1, cap, f) : 0;
    fclose(f);
    if (buf == NULL || n == 0 || n == cap) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

int bsl_tls_config(nng_tls_config **out, const bsl_tls_options *o, bool server,
                   const char *server_name, char *errbuf, size_t errlen)
{
    if (!bsl_tls_configured(o)) {
        snprintf(errbuf, errlen, "TLS needs a certificate, a key and a CA file");
        return BSL_EINVAL;
    }
    nng_tls_config *cfg;
    int rv = nng_tls_config_alloc(&cfg, server ? NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT);
    if (rv != 0) {
        snprintf(errbuf, errlen, "TLS: %s", nng_strerror(rv));
        return BSL_ENNG;
    }
    char *cert = read_pem(o->cert_file);
    char *key = read_pem(o->key_file);
    const char *what = "certificate";
    if (cert == NULL || key == NULL) {
        snprintf(errbuf, errlen, "TLS: cannot read %s", cert == NULL ? o->cert_file : o->key_file);
        rv = -1;
    } else if ((rv = nng_tls_config_own_cert(cfg, cert, key, NULL)) != 0 ||
               (what = "CA file", rv = nng_tls_config_ca_file(cfg, o->ca_file)) != 0 ||
               (what = "auth mode",
                rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0) {
        snprintf(errbuf, errlen, "TLS %s: %s", what, nng_strerror(rv));
    } else if (!server) {
        const char *name = o->server_name && o->server_name[0] ? o->server_name : server_name;
        if (name != NULL && (rv = nng_tls_config_server_name(cfg, name)) != 0) {
            snprintf(errbuf, errlen, "TLS server name: %s", nng_strerror(rv));
        }
    }
    if (key != NULL) {
        sodium_memzero(key, strlen(key)); /* a private key does not linger in the heap */
    }
    free(cert);
    free(key);
    if (rv != 0) {
        nng_tls_config_free(cfg);
        return BSL_EINVAL;
    }
    *out = cfg;
    return BSL_OK;
}
