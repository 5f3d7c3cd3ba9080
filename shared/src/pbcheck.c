#include "boussole/pbcheck.h"

#include <stdio.h>
#include <string.h>

bool bsl_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            n = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i < n) {
            return false;
        }
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += n;
    }
    return true;
}

/* Where the walk is: one frame per nesting level, the field being read at that level. The
 * path text is only made when a check fails (bsl_pb_check runs on every call). */
typedef struct frame {
    const char *name; /* NULL for a field the schema does not know: then "#id" */
    uint32_t id;
    long index; /* occurrence of a repeated field, -1 otherwise */
} frame;

typedef struct {
    char *path;
    size_t path_cap;
    char *why;
    size_t why_cap;
    frame frames[BSL_PB_MAX_DEPTH + 2];
} report;

static bool read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*pos >= len) {
            return false;
        }
        uint8_t b = p[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return true;
        }
    }
    return false; /* more than 10 bytes */
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *d, uint32_t id)
{
    for (unsigned i = 0; i < d->n_fields; i++) {
        if (d->fields[i].id == id) {
            return &d->fields[i];
        }
    }
    return NULL;
}

/* Fails with the path of the first n_frames frames: "a.b[2].#7". */
static bool fail_at(report *r, int n_frames, const char *why)
{
    size_t at = 0;
    r->path[0] = '\0';
    for (int i = 0; i < n_frames && at + 1 < r->path_cap; i++) {
        const frame *f = &r->frames[i];
        int n;
        char num[16];
        const char *name = f->name;
        if (name == NULL) {
            snprintf(num, sizeof(num), "#%u", f->id);
            name = num;
        }
        if (f->index >= 0) {
            n = snprintf(r->path + at, r->path_cap - at, "%s%s[%ld]", i ? "." : "", name, f->index);
        } else {
            n = snprintf(r->path + at, r->path_cap - at, "%s%s", i ? "." : "", name);
        }
        if (n < 0 || (size_t)n >= r->path_cap - at) {
            break; /* cut: snprintf ended it */
        }
        at += (size_t)n;
    }
    snprintf(r->why, r->why_cap, "%s", why);
    return false;
}

static int expected_wire_type(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_BOOL:
    case PROTOBUF_C_TYPE_ENUM:
        return 0;
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 1;
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return 5;
    default:
        return 2;
    }
}

static bool walk(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len, report *r,
                 int depth)
{
    if (depth > BSL_PB_MAX_DEPTH) {
        return fail_at(r, depth, "nested too deeply");
    }
    /* Occurrence counters give repeated fields their index in the path. */
    unsigned counts[256];
    memset(counts, 0, (d->n_fields < 256 ? d->n_fields : 256) * sizeof(counts[0]));
    frame *here = &r->frames[depth];
    size_t pos = 0;
    while (pos < len) {
        uint64_t key;
        if (!read_varint(p, len, &pos, &key)) {
            return fail_at(r, depth, "truncated field key");
        }
        uint32_t id = (uint32_t)(key >> 3);
        int wt = (int)(key & 7);
        if (id == 0 || key >> 32 != 0) {
            return fail_at(r, depth, "invalid field number");
        }
        const ProtobufCFieldDescriptor *f = find_field(d, id);
        here->name = f != NULL ? f->name : NULL;
        here->id = id;
        here->index = -1;
        if (f != NULL && f->label == PROTOBUF_C_LABEL_REPEATED) {
            unsigned slot = (unsigned)(f - d->fields) % 256;
            here->index = (long)counts[slot]++;
        }
        uint64_t v = 0;
        switch (wt) {
        case 0:
            if (!read_varint(p, len, &pos, &v)) {
                return fail_at(r, depth + 1, "truncated varint");
            }
            break;
        case 1:
            if (len - pos < 8) {
                return fail_at(r, depth + 1, "truncated 64-bit value");
            }
            pos += 8;
            break;
        case 5:
            if (len - pos < 4) {
                return fail_at(r, depth + 1, "truncated 32-bit value");
            }
            pos += 4;
            break;
        case 2:
            if (!read_varint(p, len, &pos, &v) || v > len - pos) {
                return fail_at(r, depth + 1, "length runs past the end of the message");
            }
            break;
        default:
            return fail_at(r, depth + 1, "unsupported wire type");
        }
        if (f == NULL) {
            /* Unknown fields are skipped whole, as proto3 says: a length-delimited one with its
             * contents, which are not fields of this message. */
            if (wt == 2) {
                pos += (size_t)v;
            }
            continue;
        }
        int want = expected_wire_type(f->type);
        bool packed_ok = wt == 2 && f->label == PROTOBUF_C_LABEL_REPEATED && want != 2;
        if (wt != want && !packed_ok) {
            return fail_at(r, depth + 1, "wrong wire type for this field");
        }
        if (wt != 2) {
            continue;
        }
        const uint8_t *sub = p + pos;
        size_t sublen = (size_t)v;
        pos += sublen;
        if (packed_ok) {
            /* A packed run must split into whole values. */
            size_t q = 0;
            while (q < sublen) {
                uint64_t x;
                if (want == 0 && !read_varint(sub, sublen, &q, &x)) {
                    return fail_at(r, depth + 1, "truncated packed value");
                }
                if (want == 1 || want == 5) {
                    size_t w = want == 1 ? 8 : 4;
                    if (sublen - q < w) {
                        return fail_at(r, depth + 1, "truncated packed value");
                    }
                    q += w;
                }
            }
        } else if (f->type == PROTOBUF_C_TYPE_STRING) {
            if (!bsl_utf8_valid((const char *)sub, sublen)) {
                return fail_at(r, depth + 1, "not valid UTF-8");
            }
            if (memchr(sub, '\0', sublen) != NULL) {
                /* protobuf-c strings are NUL-terminated: an embedded NUL would cut the text
                 * silently. */
                return fail_at(r, depth + 1, "contains a NUL character");
            }
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            if (!walk(f->descriptor, sub, sublen, r, depth + 1)) {
                return false;
            }
        }
    }
    return true;
}

bool bsl_pb_check(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                  char *path, size_t path_cap, char *why, size_t why_cap)
{
    report r = { .path = path, .path_cap = path_cap, .why = why, .why_cap = why_cap };
    path[0] = '\0';
    why[0] = '\0';
    return walk(desc, data, len, &r, 0);
}
