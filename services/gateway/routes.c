#include "routes.h"

#include <stdio.h>
#include <string.h>

#include "boussole/err.h"

static bool pattern_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n >= sizeof(((gw_route *)0)->pattern)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || (c == '*' && i == n - 1);
        if (!ok) {
            return false;
        }
    }
    return true;
}

int gw_routes_add(gw_routes *r, const char *name, const char *pattern, const char *url,
                  char *errbuf, size_t errlen)
{
    if (!pattern_ok(pattern)) {
        snprintf(errbuf, errlen,
                 "route pattern '%s': a full service name, optionally ending with '*'", pattern);
        return BSL_EINVAL;
    }
    if (url == NULL || url[0] == '\0') {
        return BSL_OK; /* not served by this gateway */
    }
    if (strlen(url) >= sizeof(r->backends[0].url)) {
        snprintf(errbuf, errlen, "route %s: URL too long", pattern);
        return BSL_EINVAL;
    }
    for (size_t i = 0; i < r->n_routes; i++) {
        if (strcmp(r->routes[i].pattern, pattern) == 0) {
            snprintf(errbuf, errlen, "route pattern '%s' given twice", pattern);
            return BSL_EINVAL;
        }
    }
    gw_backend *b = NULL;
    for (size_t i = 0; i < r->n_backends && b == NULL; i++) {
        if (strcmp(r->backends[i].url, url) == 0) {
            b = &r->backends[i];
        }
    }
    if (b == NULL) {
        if (r->n_backends == GW_MAX_BACKENDS) {
            snprintf(errbuf, errlen, "more than %d backends", GW_MAX_BACKENDS);
            return BSL_EINVAL;
        }
        b = &r->backends[r->n_backends++];
        snprintf(b->name, sizeof(b->name), "%s", name && name[0] ? name : pattern);
        snprintf(b->url, sizeof(b->url), "%s", url);
    }
    if (r->n_routes == GW_MAX_ROUTES) {
        snprintf(errbuf, errlen, "more than %d routes", GW_MAX_ROUTES);
        return BSL_EINVAL;
    }
    gw_route *rt = &r->routes[r->n_routes++];
    snprintf(rt->pattern, sizeof(rt->pattern), "%s", pattern);
    rt->backend = (size_t)(b - r->backends);
    return BSL_OK;
}

int gw_routes_parse(gw_routes *r, const char *spec, char *errbuf, size_t errlen)
{
    const char *p = spec ? spec : "";
    while (*p != '\0') {
        size_t len = strcspn(p, ";");
        char one[1200];
        if (len >= sizeof(one)) {
            snprintf(errbuf, errlen, "route too long");
            return BSL_EINVAL;
        }
        memcpy(one, p, len);
        one[len] = '\0';
        p += len + (p[len] == ';');
        char *s = one;
        while (*s == ' ') {
            s++;
        }
        if (*s == '\0') {
            continue;
        }
        char *eq = strchr(s, '=');
        if (eq == NULL || eq[1] == '\0') {
            snprintf(errbuf, errlen, "route '%s': expected pattern=url", s);
            return BSL_EINVAL;
        }
        *eq = '\0';
        int rv = gw_routes_add(r, NULL, s, eq + 1, errbuf, errlen);
        if (rv != BSL_OK) {
            return rv;
        }
    }
    return BSL_OK;
}

gw_backend *gw_routes_lookup(gw_routes *r, const char *service)
{
    const gw_route *best = NULL;
    size_t best_len = 0;
    bool best_exact = false;
    for (size_t i = 0; i < r->n_routes; i++) {
        const char *p = r->routes[i].pattern;
        size_t n = strlen(p);
        bool prefix = p[n - 1] == '*';
        size_t len = prefix ? n - 1 : n;
        bool match = prefix ? strncmp(service, p, len) == 0 : strcmp(service, p) == 0;
        if (match &&
            (best == NULL || len > best_len || (len == best_len && !prefix && !best_exact))) {
            best = &r->routes[i];
            best_len = len;
            best_exact = !prefix;
        }
    }
    return best ? &r->backends[best->backend] : NULL;
}
