/* The request-target: path and query, percent-decoding of the path (see target.h). */
#include "target.h"

#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static int unreserved(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

gw_path_status gw_target_split(const char *target, char *path, size_t cap, const char **query)
{
    size_t n = strcspn(target, "?");
    *query = target[n] == '?' ? target + n + 1 : target + n;
    if (cap == 0) {
        return GW_PATH_MALFORMED;
    }
    gw_path_status st = GW_PATH_OK;
    size_t o = 0;
    /* Every escape is looked at, even after a foreign one: a malformed escape anywhere makes
     * the request bad, whatever else it holds. */
    for (size_t i = 0; i < n; i++) {
        char c = target[i];
        if (c == '%') {
            /* i + 1 < n before reading target[i + 1]: the escape must lie within the path, and
             * never read past its end (the NUL or the "?"). */
            int hi = i + 1 < n ? hexval(target[i + 1]) : -1;
            int lo = hi >= 0 && i + 2 < n ? hexval(target[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                st = GW_PATH_MALFORMED;
                break;
            }
            int b = hi * 16 + lo;
            if (!unreserved(b) && st == GW_PATH_OK) {
                st = GW_PATH_FOREIGN;
            }
            c = (char)b;
            i += 2;
        }
        if (o + 1 < cap) {
            path[o++] = c;
        } else {
            st = GW_PATH_MALFORMED; /* the caller's buffer is too small: refuse, never cut */
            break;
        }
    }
    path[o] = '\0';
    return st;
}
