#include "boussole/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "boussole/clock.h"
#include "boussole/err.h"

/* A line longer than this is cut: logs are for operators, not for data. */
#define LINE_MAX_BYTES 4096

struct bsl_logger {
    bsl_log_level min;
    int fd;
    char service[64];
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

void bsl_logger_free(bsl_logger *log)
{
    free(log);
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

bool bsl_json_escape(char *buf, size_t cap, size_t *pos, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
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
    vsnprintf(msg, sizeof(msg), fmt, ap);

    /* Reserve 2 bytes for the closing brace and newline whatever happens. */
    size_t cap = sizeof(line) - 2;
    pos = (size_t)snprintf(line, cap, "{\"time\":\"%s\",\"level\":\"%s\",\"service\":\"", ts,
                           level_names[level]);
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
            int n = snprintf(num, sizeof(num), "\":%lld", fields[i].num);
            put(line, cap, &pos, num, (size_t)n);
        }
    }
    put(line, cap, &pos, ",\"msg\":\"", 8);
    bsl_json_escape(line, cap, &pos, msg);
    /* A cut line still closes its string and its object, so it stays valid JSON. */
    if (pos + 1 > cap) {
        pos = cap - 1;
    }
    line[pos++] = '"';
    line[pos++] = '}';
    line[pos++] = '\n';
    ssize_t w = write(log->fd, line, pos);
    (void)w; /* nowhere to report a failure to log */
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
