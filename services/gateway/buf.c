#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boussole/pbcheck.h"

void gw_buf_init(gw_buf *b, size_t limit)
{
    memset(b, 0, sizeof(*b));
    b->limit = limit;
}

void gw_buf_free(gw_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static bool reserve(gw_buf *b, size_t extra)
{
    if (b->failed) {
        return false;
    }
    if (extra > (size_t)-1 / 2 - b->len || (b->limit != 0 && b->len + extra > b->limit)) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) {
        return true;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap *= 2;
    }
    char *d = realloc(b->data, cap);
    if (d == NULL) {
        b->failed = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void gw_buf_append(gw_buf *b, const void *data, size_t len)
{
    if (!reserve(b, len)) {
        return;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void gw_buf_puts(gw_buf *b, const char *s)
{
    gw_buf_append(b, s, strlen(s));
}

void gw_buf_putc(gw_buf *b, char c)
{
    gw_buf_append(b, &c, 1);
}

void gw_buf_printf(gw_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        gw_buf_append(b, small, (size_t)n);
        return;
    }
    if (!reserve(b, (size_t)n)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void gw_buf_put_u64(gw_buf *b, uint64_t v)
{
    char tmp[20];
    size_t n = sizeof(tmp);
    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    gw_buf_append(b, tmp + n, sizeof(tmp) - n);
}

void gw_buf_put_i64(gw_buf *b, int64_t v)
{
    if (v < 0) {
        gw_buf_putc(b, '-');
        gw_buf_put_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        gw_buf_put_u64(b, (uint64_t)v);
    }
}

bool gw_buf_json_string(gw_buf *b, const char *s, size_t len)
{
    if (!bsl_utf8_valid(s, len)) {
        return false;
    }
    static const char hex[] = "0123456789abcdef";
    gw_buf_putc(b, '"');
    size_t run = 0; /* bytes copied as they are, flushed in one append */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        gw_buf_append(b, s + run, i - run);
        run = i + 1;
        char esc[6] = { '\\', 0 };
        size_t n = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        gw_buf_append(b, esc, n);
    }
    gw_buf_append(b, s + run, len - run);
    gw_buf_putc(b, '"');
    return true;
}

char *gw_buf_take(gw_buf *b, size_t *len)
{
    if (b->failed) {
        gw_buf_free(b);
        return NULL;
    }
    if (b->data == NULL && !reserve(b, 0)) {
        return NULL;
    }
    if (b->len == 0) {
        b->data[0] = '\0';
    }
    char *d = b->data;
    if (len != NULL) {
        *len = b->len;
    }
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}
