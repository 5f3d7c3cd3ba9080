#include "cors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "boussole/err.h"

#define MAX_ORIGINS 64

struct gw_cors {
    bool any;
    size_t n;
    char *origins[MAX_ORIGINS];
};

/* scheme://host[:port] with nothing after it. */
static bool looks_like_origin(const char *o)
{
    const char *sep = strstr(o, "://");
    if (sep == NULL || sep == o || sep[3] == '\0') {
        return false;
    }
    for (const char *p = o; p < sep; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' ||
              *p == '.')) {
            return false;
        }
    }
    return strpbrk(sep + 3, "/?#@ \t,") == NULL;
}

int gw_cors_create(gw_cors **out, const char *origins, char *errbuf, size_t errlen)
{
    gw_cors *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return BSL_ENOMEM;
    }
    const char *p = origins ? origins : "";
    while (*p != '\0') {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        size_t len = strcspn(p, ",");
        while (len > 0 && p[len - 1] == ' ') {
            len--;
        }
        if (len == 0) {
            break;
        }
        char one[512];
        if (len >= sizeof(one)) {
            snprintf(errbuf, errlen, "CORS origin too long");
            gw_cors_free(c);
            return BSL_EINVAL;
        }
        memcpy(one, p, len);
        one[len] = '\0';
        if (strcmp(one, "*") == 0) {
            c->any = true;
        } else if (!looks_like_origin(one) || c->n == MAX_ORIGINS) {
            snprintf(errbuf, errlen,
                     "CORS origin '%s' is not an origin (scheme://host[:port]) or too many", one);
            gw_cors_free(c);
            return BSL_EINVAL;
        } else if ((c->origins[c->n++] = strdup(one)) == NULL) {
            gw_cors_free(c);
            return BSL_ENOMEM;
        }
        p += strcspn(p, ",");
    }
    *out = c;
    return BSL_OK;
}

void gw_cors_free(gw_cors *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->n; i++) {
        free(c->origins[i]);
    }
    free(c);
}

bool gw_cors_any(const gw_cors *c)
{
    return c->any;
}

bool gw_cors_allowed(const gw_cors *c, const char *origin)
{
    if (origin == NULL || origin[0] == '\0' || strcmp(origin, "null") == 0) {
        return false;
    }
    if (c->any) {
        return true;
    }
    for (size_t i = 0; i < c->n; i++) {
        /* Scheme and host are case-insensitive; browsers send them in lowercase anyway. */
        if (strcasecmp(c->origins[i], origin) == 0) {
            return true;
        }
    }
    return false;
}

bool gw_cors_method_ok(const char *method)
{
    return method != NULL && (strcmp(method, "GET") == 0 || strcmp(method, "POST") == 0);
}

static bool header_allowed(const char *name, size_t len)
{
    const char *list = GW_CORS_ALLOW_HEADERS;
    while (*list != '\0') {
        size_t n = strcspn(list, ",");
        if (n == len && strncasecmp(list, name, len) == 0) {
            return true;
        }
        list += n;
        while (*list == ',' || *list == ' ') {
            list++;
        }
    }
    /* The CORS-safelisted request headers need no permission. */
    static const char *const safe[] = { "Accept", "Accept-Language", "Content-Language" };
    for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++) {
        if (strlen(safe[i]) == len && strncasecmp(safe[i], name, len) == 0) {
            return true;
        }
    }
    return false;
}

bool gw_cors_headers_ok(const char *requested)
{
    const char *p = requested ? requested : "";
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        size_t n = strcspn(p, ",");
        size_t len = n;
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
            len--;
        }
        if (len > 0 && !header_allowed(p, len)) {
            return false;
        }
        p += n;
    }
    return true;
}
