#include "boussole/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "boussole/clock.h"
#include "boussole/err.h"

/* A line longer than this is cut: logs are for operators, not for data. */
#define LINE_MAX_BYTES 4096
/* Lines gathered by the loop's thread before one write (bsl_logger_buffer). */
#define GATHER_BYTES (64 * 1024)

/* What bsl_logger_buffer adds: lines from the loop's thread wait here for the end of the loop
 * iteration. Only that thread touches it. */
typedef struct log_gather {
    struct ev_loop *loop;
    ev_prepare flush; /* runs when the loop is about to wait */
    pthread_t owner;
    size_t len;
    char buf[GATHER_BYTES];
} log_gather;

struct bsl_logger {
    bsl_log_level min;
    int fd;
    char service[64];
    log_gather *gather; /* NULL: every line is written at once */
};

static const char *level_names[] = { "debug", "info", "warn", "error" };

int bsl_logger_create(bsl_logger **out, const char *service, bsl_log_level min, int fd)
{
    bsl_logger *log = calloc(1, sizeof(*log));
    if (log == NULL) {
        return BSL_ENOMEM;
    }
    log->min = min;
    log->fd = fd;
    snprintf(log->service, sizeof(log->service), "%s", service);
    *out = log;
    return BSL_OK;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return; /* nowhere to report a failure to log */
        }
        p += w;
        n -= (size_t)w;
    }
}

static void gather_flush(const bsl_logger *log)
{
    log_gather *g = log->gather;
    if (g->len > 0) {
        write_all(log->fd, g->buf, g->len);
        g->len = 0;
    }
}

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)loop;
    (void)revents;
    gather_flush(w->data);
}

void bsl_logger_flush(const bsl_logger *log)
{
    if (log != NULL && log->gather != NULL && pthread_equal(log->gather->owner, pthread_self())) {
        gather_flush(log);
    }
}

int bsl_logger_buffer(bsl_logger *log, struct ev_loop *loop)
{
    if (log->gather != NULL) {
        return BSL_EINVAL;
    }
    log_gather *g = malloc(sizeof(*g));
    if (g == NULL) {
        return BSL_ENOMEM;
    }
    g->loop = loop;
    g->owner = pthread_self();
    g->len = 0;
    ev_prepare_init(&g->flush, on_prepare);
    g->flush.data = log;
    ev_prepare_start(loop, &g->flush);
    ev_unref(loop); /* the flush must not keep the loop running on its own */
    log->gather = g;
    return BSL_OK;
}

void bsl_logger_free(bsl_logger *log)
{
    if (log == NULL) {
        return;
    }
    if (log->gather != NULL) {
        gather_flush(log);
        ev_ref(log->gather->loop);
        ev_prepare_stop(log->gather->loop, &log->gather->flush);
        free(log->gather);
    }
    free(log);
}

/* Writes one finished line: gathered when the calling thread is the loop's and the line is
 * routine, written at once otherwise (with what was gathered before it, to keep the order). */
static void emit(const bsl_logger *log, bsl_log_level level, const char *line, size_t n)
{
    log_gather *g = log->gather;
    if (g == NULL || !pthread_equal(g->owner, pthread_self())) {
        write_all(log->fd, line, n);
        return;
    }
    if (g->len + n > sizeof(g->buf)) {
        gather_flush(log);
    }
    memcpy(g->buf + g->len, line, n);
    g->len += n;
    if (level >= BSL_LOG_WARN) {
        gather_flush(log);
    }
}

int bsl_log_level_parse(const char *s, bsl_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (s != NULL && strcmp(s, level_names[i]) == 0) {
            *out = (bsl_log_level)i;
            return BSL_OK;
        }
    }
    return BSL_EINVAL;
}

bool bsl_log_enabled(const bsl_logger *log, bsl_log_level level)
{
    return log != NULL && level >= log->min;
}

/* Length of the valid UTF-8 sequence at s, or 0 if the bytes there are not one. */
static size_t utf8_seq(const unsigned char *s)
{
    if (s[0] < 0x80) {
        return 1;
    }
    size_t n;
    unsigned min;
    unsigned cp;
    if ((s[0] & 0xe0) == 0xc0) {
        n = 2, cp = s[0] & 0x1f, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3, cp = s[0] & 0x0f, min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4, cp = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return n;
}

static bool put(char *buf, size_t cap, size_t *pos, const char *s, size_t n)
{
    if (*pos + n >= cap) {
        return false;
    }
    memcpy(buf + *pos, s, n);
    *pos += n;
    buf[*pos] = '\0';
    return true;
}

/* Printable ASCII other than '"' and '\\': copied as they are. */
static bool plain(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

bool bsl_json_escape(char *buf, size_t cap, size_t *pos, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        /* Most of what is logged is ids, names and codes: take such runs in one copy. */
        const unsigned char *run = p;
        while (plain(*p)) {
            p++;
        }
        size_t n_run = (size_t)(p - run);
        if (n_run > 0 && !put(buf, cap, pos, (const char *)run, n_run)) {
            /* Keep what fits, as the byte-by-byte path would. */
            size_t room = *pos + 1 < cap ? cap - 1 - *pos : 0;
            memcpy(buf + *pos, run, room);
            *pos += room;
            if (*pos < cap) {
                buf[*pos] = '\0';
            }
            return false;
        }
        if (*p == '\0') {
            break;
        }
        char esc[8];
        size_t n;
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\', esc[1] = (char)*p, n = 2;
        } else if (*p == '\n') {
            memcpy(esc, "\\n", 2), n = 2;
        } else if (*p == '\t') {
            memcpy(esc, "\\t", 2), n = 2;
        } else if (*p == '\r') {
            memcpy(esc, "\\r", 2), n = 2;
        } else if (*p < 0x20) {
            n = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", *p);
        } else {
            size_t seq = utf8_seq(p);
            if (seq == 0) {
                if (!put(buf, cap, pos, "\xef\xbf\xbd", 3)) {
                    return false;
                }
                p++;
                continue;
            }
            if (!put(buf, cap, pos, (const char *)p, seq)) {
                return false;
            }
            p += seq;
            continue;
        }
        if (!put(buf, cap, pos, esc, n)) {
            return false;
        }
        p++;
    }
    return true;
}

static void vlog(const bsl_logger *log, bsl_log_level level, const char *request_id,
                 const char *trace_id, const bsl_log_field *fields, size_t n_fields,
                 const char *fmt, va_list ap) __attribute__((format(printf, 7, 0)));

static void vlog(const bsl_logger *log, bsl_log_level level, const char *request_id,
                 const char *trace_id, const bsl_log_field *fields, size_t n_fields,
                 const char *fmt, va_list ap)
{
    if (!bsl_log_enabled(log, level)) {
        return;
    }
    char line[LINE_MAX_BYTES];
    char msg[LINE_MAX_BYTES / 2];
    char ts[32];
    size_t pos = 0;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    bsl_time_format((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, ts, sizeof(ts));
    /* Most messages are a word ("call", "request"): no formatting for those. */
    const char *text = msg;
    if (strchr(fmt, '%') == NULL) {
        text = fmt;
    } else {
        vsnprintf(msg, sizeof(msg), fmt, ap);
    }

    /* Reserve 2 bytes for the closing brace and newline whatever happens. */
    size_t cap = sizeof(line) - 2;
    put(line, cap, &pos, "{\"time\":\"", 9);
    put(line, cap, &pos, ts, strlen(ts));
    put(line, cap, &pos, "\",\"level\":\"", 11);
    put(line, cap, &pos, level_names[level], strlen(level_names[level]));
    put(line, cap, &pos, "\",\"service\":\"", 13);
    bsl_json_escape(line, cap, &pos, log->service);
    put(line, cap, &pos, "\"", 1);
    if (request_id != NULL && request_id[0] != '\0') {
        put(line, cap, &pos, ",\"request_id\":\"", 15);
        bsl_json_escape(line, cap, &pos, request_id);
        put(line, cap, &pos, "\"", 1);
    }
    if (trace_id != NULL && trace_id[0] != '\0') {
        put(line, cap, &pos, ",\"trace_id\":\"", 13);
        bsl_json_escape(line, cap, &pos, trace_id);
        put(line, cap, &pos, "\"", 1);
    }
    for (size_t i = 0; i < n_fields; i++) {
        put(line, cap, &pos, ",\"", 2);
        bsl_json_escape(line, cap, &pos, fields[i].key);
        if (fields[i].str != NULL) {
            put(line, cap, &pos, "\":\"", 3);
            bsl_json_escape(line, cap, &pos, fields[i].str);
            put(line, cap, &pos, "\"", 1);
        } else {
            char num[32];
            size_t n = sizeof(num);
            unsigned long long v = fields[i].num < 0 ? 0ull - (unsigned long long)fields[i].num
                                                     : (unsigned long long)fields[i].num;
            do {
                num[--n] = (char)('0' + v % 10);
                v /= 10;
            } while (v != 0);
            if (fields[i].num < 0) {
                num[--n] = '-';
            }
            num[--n] = ':';
            num[--n] = '"';
            put(line, cap, &pos, num + n, sizeof(num) - n);
        }
    }
    put(line, cap, &pos, ",\"msg\":\"", 8);
    bsl_json_escape(line, cap, &pos, text);
    /* A cut line still closes its string and its object, so it stays valid JSON. */
    if (pos + 1 > cap) {
        pos = cap - 1;
    }
    line[pos++] = '"';
    line[pos++] = '}';
    line[pos++] = '\n';
    emit(log, level, line, pos);
}

void bsl_log(const bsl_logger *log, bsl_log_level level, const char *request_id,
             const char *trace_id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(log, level, request_id, trace_id, NULL, 0, fmt, ap);
    va_end(ap);
}

void bsl_log_with(const bsl_logger *log, bsl_log_level level, const char *request_id,
                  const char *trace_id, const bsl_log_field *fields, size_t n_fields,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(log, level, request_id, trace_id, fields, n_fields, fmt, ap);
    va_end(ap);
}
