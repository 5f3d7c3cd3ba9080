/*
 * schema_gen: reads the FileDescriptorSet protoc-c wrote for proto/ and writes the C tables
 * behind boussole/schema.h. protobuf-c's generated descriptors carry names and types but no
 * options and no comments; this tool keeps both, so that the idempotency level and the
 * MethodPolicy of a method are declared once, in its .proto.
 *
 * Usage: bsl_schema_gen <descriptor set> <output .c>
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boussole/v1/options.pb-c.h"
#include "google/protobuf/descriptor.pb-c.h"

#define POLICY_FIELD 51730 /* options.proto: extend MethodOptions { policy = 51730 } */

typedef struct {
    char *full_name;
    char *service;
    char *name;
    char *service_sym;
    unsigned index;
    int idempotency;
    int anonymous;
    int internal;
    unsigned timeout_ms;
    char *comment;
} method_row;

typedef struct {
    char *name;
    char *text;
} comment_row;

typedef struct {
    method_row *methods;
    size_t n_methods, cap_methods;
    comment_row *comments;
    size_t n_comments, cap_comments;
    char **headers;
    size_t n_headers;
} tables;

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL) {
        fprintf(stderr, "bsl_schema_gen: out of memory\n");
        exit(1);
    }
    return q;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xrealloc(NULL, n), s, n);
}

static char *joinf(const char *a, const char *sep, const char *b)
{
    size_t n = strlen(a) + strlen(sep) + strlen(b) + 1;
    char *s = xrealloc(NULL, n);
    snprintf(s, n, "%s%s%s", a, sep, b);
    return s;
}

/* protoc-c's CamelToLower: an underscore before an upper-case letter that follows a lower-case
 * one, everything lower-cased. Used to name the generated descriptor symbols. */
static void camel_to_lower(const char *in, char *out, size_t cap)
{
    int was_upper = 1;
    size_t o = 0;
    for (; *in != '\0' && o + 2 < cap; in++) {
        int up = isupper((unsigned char)*in);
        if (up && !was_upper) {
            out[o++] = '_';
        }
        out[o++] = up ? (char)tolower((unsigned char)*in) : *in;
        was_upper = up;
    }
    out[o] = '\0';
}

static char *descriptor_symbol(const char *package, const char *service)
{
    char buf[512], part[128];
    size_t o = 0;
    const char *p = package;
    while (*p != '\0') {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        char comp[128];
        snprintf(comp, sizeof(comp), "%.*s", (int)len, p);
        camel_to_lower(comp, part, sizeof(part));
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s__", part);
        p += len + (dot ? 1 : 0);
    }
    camel_to_lower(service, part, sizeof(part));
    snprintf(buf + o, sizeof(buf) - o, "%s__descriptor", part);
    return xstrdup(buf);
}

/* The comment of the element at `path` in a file, trimmed, or "". */
static const char *find_comment(const Google__Protobuf__FileDescriptorProto *f, const int32_t *path,
                                size_t depth)
{
    if (f->source_code_info == NULL) {
        return "";
    }
    for (size_t i = 0; i < f->source_code_info->n_location; i++) {
        const Google__Protobuf__SourceCodeInfo__Location *l = f->source_code_info->location[i];
        if (l->n_path == depth && memcmp(l->path, path, depth * sizeof(int32_t)) == 0) {
            return l->leading_comments ? l->leading_comments : "";
        }
    }
    return "";
}

static void add_comment(tables *t, const char *name, const char *text)
{
    if (text == NULL || text[0] == '\0') {
        return;
    }
    if (t->n_comments == t->cap_comments) {
        t->cap_comments = t->cap_comments ? t->cap_comments * 2 : 256;
        t->comments = xrealloc(t->comments, t->cap_comments * sizeof(comment_row));
    }
    t->comments[t->n_comments].name = xstrdup(name);
    t->comments[t->n_comments].text = xstrdup(text);
    t->n_comments++;
}

static void walk_enum(tables *t, const Google__Protobuf__FileDescriptorProto *f,
                      const Google__Protobuf__EnumDescriptorProto *e, const char *scope,
                      int32_t *path, size_t depth)
{
    char *full = joinf(scope, ".", e->name);
    add_comment(t, full, find_comment(f, path, depth));
    for (size_t v = 0; v < e->n_value; v++) {
        path[depth] = 2; /* EnumDescriptorProto.value */
        path[depth + 1] = (int32_t)v;
        char *vn = joinf(full, ".", e->value[v]->name);
        add_comment(t, vn, find_comment(f, path, depth + 2));
        free(vn);
    }
    free(full);
}

static void walk_message(tables *t, const Google__Protobuf__FileDescriptorProto *f,
                         const Google__Protobuf__DescriptorProto *m, const char *scope,
                         int32_t *path, size_t depth)
{
    char *full = joinf(scope, ".", m->name);
    add_comment(t, full, find_comment(f, path, depth));
    for (size_t i = 0; i < m->n_field; i++) {
        path[depth] = 2; /* DescriptorProto.field */
        path[depth + 1] = (int32_t)i;
        char *fn = joinf(full, ".", m->field[i]->name);
        add_comment(t, fn, find_comment(f, path, depth + 2));
        free(fn);
    }
    for (size_t i = 0; i < m->n_nested_type; i++) {
        path[depth] = 3; /* DescriptorProto.nested_type */
        path[depth + 1] = (int32_t)i;
        walk_message(t, f, m->nested_type[i], full, path, depth + 2);
    }
    for (size_t i = 0; i < m->n_enum_type; i++) {
        path[depth] = 4; /* DescriptorProto.enum_type */
        path[depth + 1] = (int32_t)i;
        walk_enum(t, f, m->enum_type[i], full, path, depth + 2);
    }
    free(full);
}

/* Reads MethodPolicy out of the unknown fields of MethodOptions (protobuf-c keeps extensions
 * it does not know as unknown fields). */
static void read_policy(const Google__Protobuf__MethodOptions *o, method_row *row)
{
    for (size_t i = 0; o != NULL && i < o->base.n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *u = &o->base.unknown_fields[i];
        if (u->tag != POLICY_FIELD || u->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED) {
            continue;
        }
        /* protobuf-c keeps the length prefix in the data of a length-delimited unknown field. */
        size_t skip = 0;
        while (skip < u->len && (u->data[skip] & 0x80)) {
            skip++;
        }
        skip++;
        Boussole__V1__MethodPolicy *p =
            skip <= u->len
                ? boussole__v1__method_policy__unpack(NULL, u->len - skip, u->data + skip)
                : NULL;
        if (p == NULL) {
            fprintf(stderr, "bsl_schema_gen: %s: malformed MethodPolicy\n", row->full_name);
            exit(1);
        }
        row->anonymous = p->anonymous;
        row->internal = p->internal;
        row->timeout_ms = p->default_timeout_ms;
        boussole__v1__method_policy__free_unpacked(p, NULL);
    }
}

static void walk_file(tables *t, const Google__Protobuf__FileDescriptorProto *f)
{
    int32_t path[64];
    char *scope = xstrdup(f->package ? f->package : "");
    if (strncmp(f->name, "boussole/", 9) != 0) {
        free(scope);
        return; /* imports such as google/protobuf/timestamp.proto */
    }
    t->headers = xrealloc(t->headers, (t->n_headers + 1) * sizeof(char *));
    char hdr[512];
    snprintf(hdr, sizeof(hdr), "%.*s.pb-c.h", (int)(strlen(f->name) - 6), f->name);
    t->headers[t->n_headers++] = xstrdup(hdr);

    for (size_t i = 0; i < f->n_message_type; i++) {
        path[0] = 4;
        path[1] = (int32_t)i;
        walk_message(t, f, f->message_type[i], scope, path, 2);
    }
    for (size_t i = 0; i < f->n_enum_type; i++) {
        path[0] = 5;
        path[1] = (int32_t)i;
        walk_enum(t, f, f->enum_type[i], scope, path, 2);
    }
    for (size_t s = 0; s < f->n_service; s++) {
        const Google__Protobuf__ServiceDescriptorProto *sv = f->service[s];
        char *sname = joinf(scope, ".", sv->name);
        path[0] = 6;
        path[1] = (int32_t)s;
        add_comment(t, sname, find_comment(f, path, 2));
        for (size_t m = 0; m < sv->n_method; m++) {
            const Google__Protobuf__MethodDescriptorProto *md = sv->method[m];
            if (t->n_methods == t->cap_methods) {
                t->cap_methods = t->cap_methods ? t->cap_methods * 2 : 128;
                t->methods = xrealloc(t->methods, t->cap_methods * sizeof(method_row));
            }
            method_row *row = &t->methods[t->n_methods++];
            memset(row, 0, sizeof(*row));
            row->full_name = joinf(sname, "/", md->name);
            row->service = xstrdup(sname);
            row->name = xstrdup(md->name);
            row->service_sym = descriptor_symbol(scope, sv->name);
            row->index = (unsigned)m;
            if (md->options != NULL && md->options->has_idempotency_level) {
                row->idempotency = (int)md->options->idempotency_level;
            }
            read_policy(md->options, row);
            path[2] = 2; /* ServiceDescriptorProto.method */
            path[3] = (int32_t)m;
            row->comment = xstrdup(find_comment(f, path, 4));
        }
        free(sname);
    }
    free(scope);
}

static int cmp_method(const void *a, const void *b)
{
    return strcmp(((const method_row *)a)->full_name, ((const method_row *)b)->full_name);
}

static int cmp_comment(const void *a, const void *b)
{
    return strcmp(((const comment_row *)a)->name, ((const comment_row *)b)->name);
}

static void put_cstring(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            fprintf(out, "\\%c", c);
        } else if (c == '\n') {
            fputs("\\n", out);
        } else if (c < 0x20 || c >= 0x7f) {
            fprintf(out, "\\%03o", c); /* octal keeps UTF-8 bytes intact */
        } else {
            fputc(c, out);
        }
    }
    fputc('"', out);
}

/* Comments come with the leading space of "// text" on every line: strip it. */
static void tidy_comment(char *s)
{
    char *w = s;
    int at_line_start = 1;
    for (char *r = s; *r != '\0'; r++) {
        if (at_line_start && *r == ' ') {
            at_line_start = 0;
            continue;
        }
        at_line_start = (*r == '\n');
        *w++ = *r;
    }
    while (w > s && (w[-1] == '\n' || w[-1] == ' ')) {
        w--;
    }
    *w = '\0';
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s <descriptor set> <output.c>\n", argv[0]);
        return 2;
    }
    FILE *in = fopen(argv[1], "rb");
    if (in == NULL) {
        fprintf(stderr, "bsl_schema_gen: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = xrealloc(NULL, cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len, in)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
    }
    fclose(in);
    Google__Protobuf__FileDescriptorSet *set =
        google__protobuf__file_descriptor_set__unpack(NULL, len, buf);
    if (set == NULL) {
        fprintf(stderr, "bsl_schema_gen: %s is not a FileDescriptorSet\n", argv[1]);
        return 1;
    }
    tables t = { 0 };
    for (size_t i = 0; i < set->n_file; i++) {
        walk_file(&t, set->file[i]);
    }
    qsort(t.methods, t.n_methods, sizeof(method_row), cmp_method);
    qsort(t.comments, t.n_comments, sizeof(comment_row), cmp_comment);

    FILE *out = fopen(argv[2], "w");
    if (out == NULL) {
        fprintf(stderr, "bsl_schema_gen: %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    fprintf(out, "/* Generated by bsl_schema_gen from %s. Do not edit. */\n", argv[1]);
    fprintf(out, "#include \"boussole/schema.h\"\n");
    for (size_t i = 0; i < t.n_headers; i++) {
        fprintf(out, "#include \"%s\"\n", t.headers[i]);
    }
    fprintf(out, "\nconst bsl_method_info bsl__schema_methods[] = {\n");
    for (size_t i = 0; i < t.n_methods; i++) {
        method_row *r = &t.methods[i];
        tidy_comment(r->comment);
        fprintf(out, "    { ");
        put_cstring(out, r->full_name);
        fprintf(out, ", ");
        put_cstring(out, r->service);
        fprintf(out, ", ");
        put_cstring(out, r->name);
        fprintf(out, ", &%s, %u, (bsl_idempotency)%d, %s, %s, %u, ", r->service_sym, r->index,
                r->idempotency, r->anonymous ? "true" : "false", r->internal ? "true" : "false",
                r->timeout_ms);
        put_cstring(out, r->comment);
        fprintf(out, " },\n");
    }
    fprintf(out, "};\nconst size_t bsl__schema_n_methods = %zu;\n\n", t.n_methods);

    fprintf(out, "const bsl_service_info bsl__schema_services[] = {\n");
    size_t n_services = 0;
    for (size_t i = 0; i < t.n_methods;) {
        size_t j = i;
        while (j < t.n_methods && strcmp(t.methods[j].service, t.methods[i].service) == 0) {
            j++;
        }
        const char *c = "";
        for (size_t k = 0; k < t.n_comments; k++) {
            if (strcmp(t.comments[k].name, t.methods[i].service) == 0) {
                tidy_comment(t.comments[k].text);
                c = t.comments[k].text;
            }
        }
        fprintf(out, "    { ");
        put_cstring(out, t.methods[i].service);
        fprintf(out, ", &%s, ", t.methods[i].service_sym);
        put_cstring(out, c);
        fprintf(out, ", &bsl__schema_methods[%zu], %zu },\n", i, j - i);
        n_services++;
        i = j;
    }
    fprintf(out, "};\nconst size_t bsl__schema_n_services = %zu;\n\n", n_services);

    fprintf(out, "const bsl_schema_comment_entry bsl__schema_comments[] = {\n");
    for (size_t i = 0; i < t.n_comments; i++) {
        tidy_comment(t.comments[i].text);
        fprintf(out, "    { ");
        put_cstring(out, t.comments[i].name);
        fprintf(out, ", ");
        put_cstring(out, t.comments[i].text);
        fprintf(out, " },\n");
    }
    if (t.n_comments == 0) {
        fprintf(out, "    { \"\", \"\" },\n");
    }
    fprintf(out, "};\nconst size_t bsl__schema_n_comments = %zu;\n", t.n_comments);
    if (fclose(out) != 0) {
        fprintf(stderr, "bsl_schema_gen: writing %s failed\n", argv[2]);
        return 1;
    }
    google__protobuf__file_descriptor_set__free_unpacked(set, NULL);
    free(buf);
    return 0;
}
