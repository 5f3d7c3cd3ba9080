/*
 * A growable byte buffer for building response bodies (JSON, OpenAPI, Prometheus text). An
 * allocation failure is sticky: appends become no-ops and gw_buf_failed() says so, so that a
 * writer checks once at the end instead of after every append (as Redis's sds users do with
 * their final length check).
 */
#ifndef GW_BUF_H
#define GW_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gw_buf {
    char *data; /* NUL-terminated while not failed; owned (free with gw_buf_free) */
    size_t len;
    size_t cap;
    size_t limit; /* 0: unlimited; appends past it fail the buffer */
    bool failed;
} gw_buf;

/* An empty buffer; `limit` caps its size (0: none). Nothing is allocated until the first
 * append. */
void gw_buf_init(gw_buf *b, size_t limit);

/* Frees the data; the buffer may be reused after gw_buf_init. */
void gw_buf_free(gw_buf *b);

void gw_buf_append(gw_buf *b, const void *data, size_t len);
void gw_buf_puts(gw_buf *b, const char *s);
void gw_buf_putc(gw_buf *b, char c);
void gw_buf_printf(gw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends an integer in decimal (without printf: these are on every response's path). */
void gw_buf_put_u64(gw_buf *b, uint64_t v);
void gw_buf_put_i64(gw_buf *b, int64_t v);

/* Appends `s` (len bytes) as a JSON string with its quotes. Returns false, leaving the buffer
 * unchanged, when s is not valid UTF-8. */
bool gw_buf_json_string(gw_buf *b, const char *s, size_t len);

/* Hands the data over to the caller (who frees it with free()); the buffer is empty after.
 * NULL when the buffer failed. */
char *gw_buf_take(gw_buf *b, size_t *len);

static inline bool gw_buf_failed(const gw_buf *b)
{
    return b->failed;
}

#endif /* GW_BUF_H */
