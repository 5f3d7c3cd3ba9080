/*
 * Field rules for handlers: each check records a violation (field path and reason) instead of
 * answering at once, so that one INVALID_ARGUMENT lists every bad field of a request.
 *
 *     bsl_check chk = bsl_check_begin(call);
 *     bsl_check_text(&chk, "title", req->title, 1, 200);
 *     bsl_check_id(&chk, "bilan_id", req->bilan_id);
 *     if (!bsl_check_end(&chk))
 *         return;              // the call has been answered INVALID_ARGUMENT
 *
 * Texts are counted in Unicode characters, not bytes, since that is what people type.
 */
#ifndef BOUSSOLE_CHECK_H
#define BOUSSOLE_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "boussole/server.h"

typedef struct bsl_check {
    bsl_call *call;
    unsigned violations;
    char first[256]; /* "<field>: <why>" of the first violation */
} bsl_check;

bsl_check bsl_check_begin(bsl_call *call);

/* Records a violation of `field` (printf-style reason). Always returns false. */
bool bsl_check_violation(bsl_check *c, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A text of min..max characters (min 0: may be empty). Control characters other than
 * newline and tab are refused. */
bool bsl_check_text(bsl_check *c, const char *field, const char *v, size_t min, size_t max);

/* An entity id (id.h). */
bool bsl_check_id(bsl_check *c, const char *field, const char *v);

/* A subject id (id.h); empty is refused. */
bool bsl_check_subject(bsl_check *c, const char *field, const char *v);

/* A value of the enum; UNSPECIFIED (0) refused unless allow_zero. */
bool bsl_check_enum(bsl_check *c, const char *field, const ProtobufCEnumDescriptor *e, int v,
                    bool allow_zero);

/* A "YYYY-MM-DD" date; empty accepted when optional. Returns the day number in *days (or -1
 * when empty). */
bool bsl_check_date(bsl_check *c, const char *field, const char *v, bool optional, long *days);

/* min <= v <= max. */
bool bsl_check_range(bsl_check *c, const char *field, int64_t v, int64_t min, int64_t max);

/* At most max elements in a repeated field. */
bool bsl_check_count(bsl_check *c, const char *field, size_t n, size_t max);

/* An http(s) URL of at most max characters, or empty when optional. */
bool bsl_check_url(bsl_check *c, const char *field, const char *v, size_t max, bool optional);

/* True when no violation was recorded; otherwise answers the call INVALID_ARGUMENT (message:
 * the first violation, details: all of them) and returns false. */
bool bsl_check_end(bsl_check *c);

/* Number of Unicode characters in valid UTF-8 text. */
size_t bsl_utf8_chars(const char *s);

#endif /* BOUSSOLE_CHECK_H */
