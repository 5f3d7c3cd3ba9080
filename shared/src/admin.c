#include "boussole/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "boussole/err.h"

#include <arpa/inet.h>

struct bsl_admin {
    nng_http_server *server;
    nng_url *url;
    bsl_metrics *metrics;
    bsl_ready_fn ready;
    void *ready_arg;
    int port;
};

static void reply(nng_aio *aio, uint16_t status, const char *ctype, const void *body, size_t len)
{
    nng_http_res *res;
    if (nng_http_res_alloc(&res) != 0) {
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    nng_http_res_set_status(res, status);
    nng_http_res_set_header(res, "Content-Type", ctype);
    nng_http_res_set_header(res, "Cache-Control", "no-store");
    if (nng_http_res_copy_data(res, body, len) != 0) {
        nng_http_res_free(res);
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

static void on_healthz(nng_aio *aio)
{
    reply(aio, 200, "text/plain; charset=utf-8", "ok\n", 3);
}

static void on_readyz(nng_aio *aio)
{
    nng_http_handler *h = nng_aio_get_input(aio, 1);
    bsl_admin *a = nng_http_handler_get_data(h);
    char why[256] = "";
    if (a->ready == NULL || a->ready(a->ready_arg, why, sizeof(why))) {
        reply(aio, 200, "text/plain; charset=utf-8", "ready\n", 6);
        return;
    }
    char body[300];
    int n = snprintf(body, sizeof(body), "not ready: %s\n", why);
    reply(aio, 503, "text/plain; charset=utf-8", body, (size_t)n);
}

static void on_metrics(nng_aio *aio)
{
    nng_http_handler *h = nng_aio_get_input(aio, 1);
    bsl_admin *a = nng_http_handler_get_data(h);
    size_t len = 0;
    char *text = bsl_metrics_render(a->metrics, &len);
    if (text == NULL) {
        reply(aio, 500, "text/plain", "out of memory\n", 14);
        return;
    }
    reply(aio, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}

static int add(bsl_admin *a, const char *path, void (*fn)(nng_aio *))
{
    nng_http_handler *h;
    int rv = nng_http_handler_alloc(&h, path, fn);
    if (rv != 0) {
        return rv;
    }
    nng_http_handler_set_method(h, "GET");
    nng_http_handler_set_data(h, a, NULL);
    if ((rv = nng_http_server_add_handler(a->server, h)) != 0) {
        nng_http_handler_free(h);
    }
    return rv;
}

int bsl_admin_start(bsl_admin **out, const char *url, bsl_metrics *metrics, bsl_ready_fn ready,
                    void *arg, char *errbuf, size_t errlen)
{
    bsl_admin *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return BSL_ENOMEM;
    }
    a->metrics = metrics;
    a->ready = ready;
    a->ready_arg = arg;
    int rv;
    if ((rv = nng_url_parse(&a->url, url)) != 0 ||
        (rv = nng_http_server_hold(&a->server, a->url)) != 0 ||
        (rv = add(a, "/healthz", on_healthz)) != 0 || (rv = add(a, "/readyz", on_readyz)) != 0 ||
        (rv = add(a, "/metrics", on_metrics)) != 0 ||
        (rv = nng_http_server_start(a->server)) != 0) {
        snprintf(errbuf, errlen, "admin server on %s: %s", url, nng_strerror(rv));
        if (a->server != NULL) {
            nng_http_server_release(a->server);
        }
        if (a->url != NULL) {
            nng_url_free(a->url);
        }
        free(a);
        return BSL_ENNG;
    }
    nng_sockaddr sa;
    if (nng_http_server_get_addr(a->server, &sa) == 0 && sa.s_family == NNG_AF_INET) {
        a->port = ntohs(sa.s_in.sa_port);
    }
    *out = a;
    return BSL_OK;
}

int bsl_admin_port(const bsl_admin *a)
{
    return a->port;
}

void bsl_admin_stop(bsl_admin *a)
{
    if (a == NULL) {
        return;
    }
    nng_http_server_stop(a->server);
    nng_http_server_release(a->server);
    nng_url_free(a->url);
    free(a);
}
