#include "meta.h"

#include <string.h>
#include <strings.h>

#include <sodium.h>

bool gw_meta_request_id_ok(const char *v)
{
    if (v == NULL) {
        return false;
    }
    size_t n = strlen(v);
    if (n == 0 || n > GW_REQUEST_ID_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-')) {
            return false;
        }
    }
    return true;
}

static bool lower_hex(const char *s, size_t n, bool *all_zero)
{
    *all_zero = true;
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
        if (s[i] != '0') {
            *all_zero = false;
        }
    }
    return true;
}

bool gw_meta_traceparent(const char *v, char *trace_id, char *parent_id)
{
    /* vv-tttttttttttttttttttttttttttttttt-pppppppppppppppp-ff */
    if (v == NULL || strlen(v) < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') {
        return false;
    }
    bool zero;
    if (!lower_hex(v, 2, &zero) || strncmp(v, "ff", 2) == 0 || !lower_hex(v + 53, 2, &zero)) {
        return false;
    }
    /* Version 00 has exactly these fields; later versions may add some after a '-'. */
    if ((strncmp(v, "00", 2) == 0 && v[55] != '\0') || (v[55] != '\0' && v[55] != '-')) {
        return false;
    }
    if (!lower_hex(v + 3, 32, &zero) || zero) {
        return false;
    }
    if (!lower_hex(v + 36, 16, &zero) || zero) {
        return false;
    }
    memcpy(trace_id, v + 3, 32);
    trace_id[32] = '\0';
    memcpy(parent_id, v + 36, 16);
    parent_id[16] = '\0';
    return true;
}

bool gw_meta_idempotency_ok(const char *v)
{
    if (v == NULL) {
        return false;
    }
    size_t n = strlen(v);
    if (n == 0 || n > GW_IDEMPOTENCY_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i] <= 0x20 || v[i] >= 0x7f) {
            return false;
        }
    }
    return true;
}

const char *gw_meta_bearer(const char *h, size_t *len)
{
    if (h == NULL || strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t')) {
        return NULL;
    }
    const char *t = h + 7;
    while (*t == ' ' || *t == '\t') {
        t++;
    }
    size_t n = strlen(t);
    while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t')) {
        n--;
    }
    if (n == 0) {
        return NULL;
    }
    *len = n;
    return t;
}
