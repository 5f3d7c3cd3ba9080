#include "boussole/clock.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "boussole/err.h"

struct bsl_clock {
    char *offset_file;
    struct timespec seen_mtime;
    int64_t offset_ms;
};

int bsl_clock_create(bsl_clock **out, const char *offset_file)
{
    bsl_clock *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return BSL_ENOMEM;
    }
    if (offset_file != NULL && offset_file[0] != '\0') {
        c->offset_file = strdup(offset_file);
        if (c->offset_file == NULL) {
            free(c);
            return BSL_ENOMEM;
        }
    }
    *out = c;
    return BSL_OK;
}

void bsl_clock_free(bsl_clock *c)
{
    if (c != NULL) {
        free(c->offset_file);
        free(c);
    }
}

/* Re-reads the offset when the file's modification time moved. A missing or unreadable file
 * means no offset. */
static void refresh(bsl_clock *c)
{
    struct stat st;
    if (stat(c->offset_file, &st) != 0) {
        c->offset_ms = 0;
        return;
    }
    if (st.st_mtim.tv_sec == c->seen_mtime.tv_sec && st.st_mtim.tv_nsec == c->seen_mtime.tv_nsec) {
        return;
    }
    FILE *f = fopen(c->offset_file, "r");
    long long v = 0;
    if (f != NULL) {
        if (fscanf(f, "%lld", &v) != 1) {
            v = 0;
        }
        fclose(f);
    }
    c->offset_ms = v;
    c->seen_mtime = st.st_mtim;
}

int64_t bsl_clock_now_ms(bsl_clock *c)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    if (c != NULL && c->offset_file != NULL) {
        refresh(c);
        ms += c->offset_ms;
    }
    return ms;
}

/* y-m-d of a day counted from 1970-01-01, proleptic Gregorian (Howard Hinnant's
 * civil_from_days, the inverse of days_from_civil below). */
static void civil_from_days(long long z, long long *y, unsigned *m, unsigned *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (long long)yoe + era * 400 + (*m <= 2);
}

void bsl_time_format(int64_t unix_ms, char *out, unsigned long cap)
{
    time_t secs = (time_t)(unix_ms / 1000);
    int ms = (int)(unix_ms % 1000);
    if (ms < 0) {
        ms += 1000;
        secs -= 1;
    }
    long long days = (long long)secs / 86400, rem = (long long)secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    long long y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        /* Outside four digits: the slow, general path (never for a log's "now"). */
        struct tm tm;
        gmtime_r(&secs, &tm);
        snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
        return;
    }
    /* Every log line carries the time: digits by hand, no gmtime (locked) nor snprintf. */
    char t[25];
    unsigned hh = (unsigned)(rem / 3600), mi = (unsigned)(rem / 60 % 60), ss = (unsigned)(rem % 60);
    unsigned yy = (unsigned)y;
    t[0] = (char)('0' + yy / 1000), t[1] = (char)('0' + yy / 100 % 10);
    t[2] = (char)('0' + yy / 10 % 10), t[3] = (char)('0' + yy % 10), t[4] = '-';
    t[5] = (char)('0' + m / 10), t[6] = (char)('0' + m % 10), t[7] = '-';
    t[8] = (char)('0' + d / 10), t[9] = (char)('0' + d % 10), t[10] = 'T';
    t[11] = (char)('0' + hh / 10), t[12] = (char)('0' + hh % 10), t[13] = ':';
    t[14] = (char)('0' + mi / 10), t[15] = (char)('0' + mi % 10), t[16] = ':';
    t[17] = (char)('0' + ss / 10), t[18] = (char)('0' + ss % 10), t[19] = '.';
    t[20] = (char)('0' + ms / 100), t[21] = (char)('0' + ms / 10 % 10);
    t[22] = (char)('0' + ms % 10), t[23] = 'Z', t[24] = '\0';
    if (cap > 0) {
        size_t n = cap < sizeof(t) ? cap - 1 : sizeof(t) - 1;
        memcpy(out, t, n);
        out[n] = '\0';
    }
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's
 * days_from_civil). */
static long days_from_civil(long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long)doe - 719468;
}

long bsl_date_parse(const char *s)
{
    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-') {
        return -1;
    }
    for (int i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) {
            return -1;
        }
    }
    long y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
    unsigned d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
    static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (y < 1900 || y > 2999 || m < 1 || m > 12 || d < 1) {
        return -1;
    }
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    unsigned max = mdays[m - 1] + (m == 2 && leap ? 1 : 0);
    if (d > max) {
        return -1;
    }
    return days_from_civil(y, m, d);
}
