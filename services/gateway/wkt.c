#include "wkt.h"

#include <stdio.h>
#include <string.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(int64_t y, unsigned m)
{
    static const unsigned days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* Reads exactly n decimal digits at s[*i]. */
static bool digits(const char *s, size_t len, size_t *i, unsigned n, unsigned *out)
{
    unsigned v = 0;
    for (unsigned k = 0; k < n; k++) {
        if (*i >= len || s[*i] < '0' || s[*i] > '9') {
            return false;
        }
        v = v * 10 + (unsigned)(s[(*i)++] - '0');
    }
    *out = v;
    return true;
}

static bool expect(const char *s, size_t len, size_t *i, char c)
{
    if (*i < len && (s[*i] == c || (c >= 'A' && c <= 'Z' && s[*i] == c + 32))) {
        (*i)++;
        return true;
    }
    return false;
}

/* Up to nine digits of a fraction of a second, as nanoseconds. */
static bool fraction(const char *s, size_t len, size_t *i, int32_t *nanos)
{
    *nanos = 0;
    if (*i >= len || s[*i] != '.') {
        return true;
    }
    (*i)++;
    unsigned n = 0;
    int32_t v = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        if (++n > 9) {
            return false;
        }
        v = v * 10 + (s[(*i)++] - '0');
    }
    if (n == 0) {
        return false;
    }
    for (; n < 9; n++) {
        v *= 10;
    }
    *nanos = v;
    return true;
}

bool gw_timestamp_parse(const char *s, size_t len, int64_t *seconds, int32_t *nanos)
{
    size_t i = 0;
    unsigned y, mo, d, h, mi, se;
    if (!digits(s, len, &i, 4, &y) || !expect(s, len, &i, '-') || !digits(s, len, &i, 2, &mo) ||
        !expect(s, len, &i, '-') || !digits(s, len, &i, 2, &d) || !expect(s, len, &i, 'T') ||
        !digits(s, len, &i, 2, &h) || !expect(s, len, &i, ':') || !digits(s, len, &i, 2, &mi) ||
        !expect(s, len, &i, ':') || !digits(s, len, &i, 2, &se) || !fraction(s, len, &i, nanos)) {
        return false;
    }
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 ||
        se > 59) {
        return false;
    }
    int64_t offset = 0;
    if (expect(s, len, &i, 'Z')) {
        offset = 0;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        int sign = s[i++] == '-' ? -1 : 1;
        unsigned oh, om;
        if (!digits(s, len, &i, 2, &oh) || !expect(s, len, &i, ':') ||
            !digits(s, len, &i, 2, &om) || oh > 23 || om > 59) {
            return false;
        }
        offset = sign * (int64_t)(oh * 3600 + om * 60);
    } else {
        return false;
    }
    if (i != len) {
        return false;
    }
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
    if (t < GW_TIMESTAMP_MIN_S || t > GW_TIMESTAMP_MAX_S) {
        return false;
    }
    *seconds = t;
    return true;
}

/* ".250", ".250500" or ".250500125": as few groups of three digits as the value needs
 * (cap >= 11). */
static void format_fraction(int32_t nanos, char *out, size_t cap)
{
    (void)cap;
    if (nanos == 0) {
        out[0] = '\0';
        return;
    }
    unsigned digits = nanos % 1000000 == 0 ? 3 : nanos % 1000 == 0 ? 6 : 9;
    unsigned v = (unsigned)nanos;
    for (unsigned k = digits; k < 9; k++) {
        v /= 10;
    }
    out[0] = '.';
    for (unsigned k = digits; k > 0; k--) {
        out[k] = (char)('0' + v % 10);
        v /= 10;
    }
    out[digits + 1] = '\0';
}

bool gw_timestamp_format(int64_t seconds, int32_t nanos, char *out, size_t cap)
{
    if (seconds < GW_TIMESTAMP_MIN_S || seconds > GW_TIMESTAMP_MAX_S || nanos < 0 ||
        nanos > 999999999 || cap < 32) {
        return false;
    }
    int64_t days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400;
    int64_t rem = seconds - days * 86400;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    /* By hand rather than snprintf: a timestamp is on many responses' path. */
    unsigned f[] = { (unsigned)y,         m, d, (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60),
                     (unsigned)(rem % 60) };
    static const char sep[] = "--T::";
    char *o = out;
    for (int i = 0; i < 6; i++) {
        unsigned v = f[i], w = i == 0 ? 4 : 2;
        for (unsigned k = w; k > 0; k--) {
            o[k - 1] = (char)('0' + v % 10);
            v /= 10;
        }
        o += w;
        if (i < 5) {
            *o++ = sep[i];
        }
    }
    format_fraction(nanos, o, cap - (size_t)(o - out) - 1);
    o += strlen(o);
    *o++ = 'Z';
    *o = '\0';
    return true;
}

bool gw_duration_parse(const char *s, size_t len, int64_t *seconds, int32_t *nanos)
{
    size_t i = 0;
    bool neg = false;
    if (len > 0 && s[0] == '-') {
        neg = true;
        i++;
    }
    int64_t v = 0;
    size_t start = i;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        v = v * 10 + (s[i++] - '0');
        if (v > GW_DURATION_MAX_S) {
            return false;
        }
    }
    int32_t ns;
    if (i == start || !fraction(s, len, &i, &ns) || i + 1 != len || s[i] != 's') {
        return false;
    }
    *seconds = neg ? -v : v;
    *nanos = neg ? -ns : ns;
    return true;
}

bool gw_duration_format(int64_t seconds, int32_t nanos, char *out, size_t cap)
{
    if (seconds < -GW_DURATION_MAX_S || seconds > GW_DURATION_MAX_S || nanos < -999999999 ||
        nanos > 999999999 || (seconds > 0 && nanos < 0) || (seconds < 0 && nanos > 0) || cap < 32) {
        return false;
    }
    bool neg = seconds < 0 || nanos < 0;
    char frac[12];
    format_fraction(nanos < 0 ? -nanos : nanos, frac, sizeof(frac));
    snprintf(out, cap, "%s%lld%ss", neg ? "-" : "", (long long)(seconds < 0 ? -seconds : seconds),
             frac);
    return true;
}
