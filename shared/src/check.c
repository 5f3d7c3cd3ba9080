#include "boussole/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "boussole/clock.h"
#include "boussole/id.h"
#include "boussole/pbcheck.h"

bsl_check bsl_check_begin(bsl_call *call)
{
    bsl_check c;
    memset(&c, 0, sizeof(c));
    c.call = call;
    return c;
}

bool bsl_check_violation(bsl_check *c, const char *field, const char *fmt, ...)
{
    char why[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (c->violations++ == 0) {
        snprintf(c->first, sizeof(c->first), "%s: %s", field, why);
    }
    if (c->call != NULL && c->violations <= 32) {
        bsl_call_add_field_violation(c->call, field, why);
    }
    return false;
}

size_t bsl_utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++) {
        if (((unsigned char)*s & 0xc0) != 0x80) {
            n++;
        }
    }
    return n;
}

bool bsl_check_text(bsl_check *c, const char *field, const char *v, size_t min, size_t max)
{
    if (v == NULL) {
        v = "";
    }
    size_t bytes = strlen(v);
    if (!bsl_utf8_valid(v, bytes)) {
        return bsl_check_violation(c, field, "not valid UTF-8");
    }
    for (const unsigned char *p = (const unsigned char *)v; *p != '\0'; p++) {
        if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f) {
            return bsl_check_violation(c, field, "contains a control character");
        }
    }
    size_t n = bsl_utf8_chars(v);
    if (n < min) {
        return min == 1 ? bsl_check_violation(c, field, "required")
                        : bsl_check_violation(c, field, "at least %zu characters", min);
    }
    if (n > max) {
        return bsl_check_violation(c, field, "at most %zu characters (got %zu)", max, n);
    }
    return true;
}

bool bsl_check_id(bsl_check *c, const char *field, const char *v)
{
    if (v == NULL || v[0] == '\0') {
        return bsl_check_violation(c, field, "required");
    }
    if (!bsl_id_valid(v)) {
        return bsl_check_violation(c, field, "not a well-formed id (26 characters of [0-9a-z])");
    }
    return true;
}

bool bsl_check_subject(bsl_check *c, const char *field, const char *v)
{
    if (v == NULL || v[0] == '\0') {
        return bsl_check_violation(c, field, "required");
    }
    if (!bsl_subject_valid(v)) {
        return bsl_check_violation(c, field, "must be 1 to 128 characters of [A-Za-z0-9._@:-]");
    }
    return true;
}

bool bsl_check_enum(bsl_check *c, const char *field, const ProtobufCEnumDescriptor *e, int v,
                    bool allow_zero)
{
    if (v == 0 && !allow_zero) {
        return bsl_check_violation(c, field, "required");
    }
    if (protobuf_c_enum_descriptor_get_value(e, v) == NULL) {
        return bsl_check_violation(c, field, "unknown value %d of %s", v, e->name);
    }
    return true;
}

bool bsl_check_date(bsl_check *c, const char *field, const char *v, bool optional, long *days)
{
    if (days != NULL) {
        *days = -1;
    }
    if (v == NULL || v[0] == '\0') {
        return optional ? true : bsl_check_violation(c, field, "required");
    }
    long d = bsl_date_parse(v);
    if (d < 0) {
        return bsl_check_violation(c, field, "must be a date YYYY-MM-DD");
    }
    if (days != NULL) {
        *days = d;
    }
    return true;
}

bool bsl_check_range(bsl_check *c, const char *field, int64_t v, int64_t min, int64_t max)
{
    if (v < min || v > max) {
        return bsl_check_violation(c, field, "must be from %lld to %lld", (long long)min,
                                   (long long)max);
    }
    return true;
}

bool bsl_check_count(bsl_check *c, const char *field, size_t n, size_t max)
{
    if (n > max) {
        return bsl_check_violation(c, field, "at most %zu items (got %zu)", max, n);
    }
    return true;
}

bool bsl_check_url(bsl_check *c, const char *field, const char *v, size_t max, bool optional)
{
    if (v == NULL || v[0] == '\0') {
        return optional ? true : bsl_check_violation(c, field, "required");
    }
    if (!bsl_check_text(c, field, v, 1, max)) {
        return false;
    }
    if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0) {
        return bsl_check_violation(c, field, "must be an http or https URL");
    }
    for (const char *p = v; *p != '\0'; p++) {
        if (*p == ' ' || *p == '\n' || *p == '\t') {
            return bsl_check_violation(c, field, "must not contain spaces");
        }
    }
    return true;
}

bool bsl_check_end(bsl_check *c)
{
    if (c->violations == 0) {
        return true;
    }
    if (c->call != NULL) {
        if (c->violations > 1) {
            bsl_call_fail(c->call, BSL_STATUS_INVALID_ARGUMENT, "%s (and %u more)", c->first,
                          c->violations - 1);
        } else {
            bsl_call_fail(c->call, BSL_STATUS_INVALID_ARGUMENT, "%s", c->first);
        }
    }
    return false;
}
