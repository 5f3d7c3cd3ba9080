/*
 * Wall-clock time for everything the domain dates (creation times, the agreement's 10-day
 * limit, retention). Tests move it: when the clock is created with an offset file, the number
 * of milliseconds in that file is added to the real time, re-read whenever the file changes,
 * so a test can jump a running service a year ahead. Production leaves the file unset.
 *
 * Deadlines and timeouts do not use this clock; they use libev's monotonic time.
 */
#ifndef BOUSSOLE_CLOCK_H
#define BOUSSOLE_CLOCK_H

#include <stdint.h>

typedef struct bsl_clock bsl_clock;

/* offset_file may be NULL or "" for the real clock. The path is copied. */
int bsl_clock_create(bsl_clock **out, const char *offset_file);
void bsl_clock_free(bsl_clock *c);

/* Milliseconds since the Unix epoch, offset included. A NULL clock is the real clock. */
int64_t bsl_clock_now_ms(bsl_clock *c);

/* Formats a Unix time in ms as RFC 3339 UTC ("2026-11-26T12:00:00.000Z"); out >= 25 bytes. */
void bsl_time_format(int64_t unix_ms, char *out, unsigned long cap);

/* Parses "YYYY-MM-DD" into days since the epoch; -1 when not a valid date. */
long bsl_date_parse(const char *s);

#endif /* BOUSSOLE_CLOCK_H */
