/*
 * Logs: one JSON object per line on a file descriptor (stdout in every service), with time,
 * level, service, and the request and trace ids of the call being served. Lines never
 * interleave: each is written whole by one write(2), or gathered with others (below).
 *
 * A logger given a loop (bsl_logger_buffer) gathers the routine (debug, info) lines logged from
 * the loop's thread and writes them at once when the loop is about to wait: one write(2) per
 * loop iteration instead of one per request, which under load is most of a line's cost. A warn
 * or error line is written at once, after the lines gathered before it. A process that dies
 * mid-iteration loses that iteration's routine lines; lines from other threads are written at
 * once and may come before routine lines gathered earlier (the time field tells).
 *
 * Never log a payload, a token, a key or any field that is stored encrypted: the log of a
 * whole test run is checked for them (tests/integration).
 */
#ifndef BOUSSOLE_LOG_H
#define BOUSSOLE_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    BSL_LOG_DEBUG = 0,
    BSL_LOG_INFO = 1,
    BSL_LOG_WARN = 2,
    BSL_LOG_ERROR = 3,
} bsl_log_level;

typedef struct bsl_logger bsl_logger;

/* An extra key of a log line: a string (str != NULL) or an integer. */
typedef struct bsl_log_field {
    const char *key;
    const char *str;
    long long num;
} bsl_log_field;

#define BSL_LOG_STR(k, v) ((bsl_log_field){ .key = (k), .str = (v) ? (v) : "" })
#define BSL_LOG_INT(k, v) ((bsl_log_field){ .key = (k), .str = NULL, .num = (long long)(v) })

/* Creates a logger writing to `fd` (not closed by the logger). `service` is copied. */
int bsl_logger_create(bsl_logger **out, const char *service, bsl_log_level min, int fd);
/* Writes what is gathered, then frees; the loop given to bsl_logger_buffer must still exist. */
void bsl_logger_free(bsl_logger *log);

struct ev_loop;
/* Gathers the routine lines of the calling thread, which runs `loop`, as described above.
 * Call it once, from that thread; BSL_EINVAL the second time. */
int bsl_logger_buffer(bsl_logger *log, struct ev_loop *loop);

/* Writes the lines gathered so far now (from the loop's thread; elsewhere it does nothing):
 * for moments an operator must see even if the process then hangs, such as the start of a
 * drain. */
void bsl_logger_flush(const bsl_logger *log);

/* Parses "debug", "info", "warn", "error". */
int bsl_log_level_parse(const char *s, bsl_log_level *out);

bool bsl_log_enabled(const bsl_logger *log, bsl_log_level level);

/* Writes one line. request_id and trace_id may be NULL. A NULL logger writes nothing. */
void bsl_log(const bsl_logger *log, bsl_log_level level, const char *request_id,
             const char *trace_id, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Same, with extra fields. */
void bsl_log_with(const bsl_logger *log, bsl_log_level level, const char *request_id,
                  const char *trace_id, const bsl_log_field *fields, size_t n_fields,
                  const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* Appends `s` JSON-escaped (without quotes) to buf[*pos..cap), truncating safely; invalid
 * UTF-8 bytes become U+FFFD. Returns false when truncated. Shared with the metrics and the
 * admin endpoints. */
bool bsl_json_escape(char *buf, size_t cap, size_t *pos, const char *s);

#endif /* BOUSSOLE_LOG_H */
