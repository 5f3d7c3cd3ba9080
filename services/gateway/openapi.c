#include "openapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json.h"

#define REF "#/components/schemas/"

/* A document under construction; jansson builds it (this module writes no JSON text). */
typedef struct doc {
    json_t *schemas; /* components.schemas, keyed by full type name */
    bool failed;
} doc;

static json_t *ref(const char *name)
{
    char buf[320];
    snprintf(buf, sizeof(buf), REF "%s", name);
    return json_pack("{s:s}", "$ref", buf);
}

static void describe(json_t *schema, const char *full_name)
{
    const char *c = bsl_schema_comment(full_name);
    if (c != NULL && c[0] != '\0' && schema != NULL) {
        json_object_set_new(schema, "description", json_string(c));
    }
}

static void add_message(doc *d, const ProtobufCMessageDescriptor *m);

static void add_enum(doc *d, const ProtobufCEnumDescriptor *e)
{
    if (json_object_get(d->schemas, e->name) != NULL) {
        return;
    }
    json_t *names = json_array();
    for (unsigned i = 0; i < e->n_values; i++) {
        json_array_append_new(names, json_string(e->values[i].name));
    }
    json_t *s = json_pack("{s:s, s:o}", "type", "string", "enum", names);
    if (s == NULL) {
        d->failed = true;
        return;
    }
    /* The enum's comment, then one line per value that has one. */
    const char *c = bsl_schema_comment(e->name);
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    if (text != NULL) {
        len += (size_t)snprintf(text, cap, "%s", c ? c : "");
        for (unsigned i = 0; i < e->n_values && len < cap; i++) {
            char vname[320];
            snprintf(vname, sizeof(vname), "%s.%s", e->name, e->values[i].name);
            const char *vc = bsl_schema_comment(vname);
            if (vc != NULL) {
                len += (size_t)snprintf(text + len, cap - len, "%s- %s: %s", len ? "\n" : "",
                                        e->values[i].name, vc);
            }
        }
        if (len > 0) {
            json_object_set_new(s, "description", json_string(text));
        }
        free(text);
    }
    json_object_set_new(d->schemas, e->name, s);
}

/* The schema of one value of a field (an element, for repeated fields). */
static json_t *value_schema(doc *d, const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_pack("{s:s, s:s}", "type", "integer", "format", "int32");
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_pack("{s:s, s:i, s:I}", "type", "integer", "minimum", 0, "maximum",
                         (json_int_t)4294967295LL);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_pack("{s:s, s:s, s:s}", "type", "string", "format", "int64", "pattern",
                         "^-?[0-9]+$");
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return json_pack("{s:s, s:s, s:s}", "type", "string", "format", "uint64", "pattern",
                         "^[0-9]+$");
    case PROTOBUF_C_TYPE_FLOAT:
        return json_pack("{s:s, s:s}", "type", "number", "format", "float");
    case PROTOBUF_C_TYPE_DOUBLE:
        return json_pack("{s:s, s:s}", "type", "number", "format", "double");
    case PROTOBUF_C_TYPE_BOOL:
        return json_pack("{s:s}", "type", "boolean");
    case PROTOBUF_C_TYPE_STRING:
        return json_pack("{s:s}", "type", "string");
    case PROTOBUF_C_TYPE_BYTES:
        return json_pack("{s:s, s:s}", "type", "string", "format", "byte");
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *e = f->descriptor;
        add_enum(d, e);
        return ref(e->name);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessageDescriptor *m = f->descriptor;
        if (strcmp(m->name, "google.protobuf.Timestamp") == 0) {
            return json_pack("{s:s, s:s}", "type", "string", "format", "date-time");
        }
        if (strcmp(m->name, "google.protobuf.Duration") == 0) {
            return json_pack("{s:s, s:s}", "type", "string", "pattern",
                             "^-?[0-9]+(\\.[0-9]{1,9})?s$");
        }
        if (gw_json_is_special(m)) { /* a wrapper: the wrapped value, or null */
            json_t *s = value_schema(d, &m->fields[0]);
            json_object_set_new(s, "nullable", json_true());
            return s;
        }
        add_message(d, m);
        return ref(m->name);
    }
    }
    return json_object();
}

static json_t *field_schema(doc *d, const ProtobufCMessageDescriptor *owner,
                            const ProtobufCFieldDescriptor *f)
{
    json_t *s;
    if (f->label == PROTOBUF_C_LABEL_REPEATED && f->type == PROTOBUF_C_TYPE_MESSAGE &&
        gw_json_is_map_entry(f->descriptor)) {
        const ProtobufCMessageDescriptor *e = f->descriptor;
        s = json_pack("{s:s, s:o}", "type", "object", "additionalProperties",
                      value_schema(d, &e->fields[1]));
    } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        s = json_pack("{s:s, s:o}", "type", "array", "items", value_schema(d, f));
    } else {
        s = value_schema(d, f);
    }
    if (s == NULL) {
        d->failed = true;
        return json_object();
    }
    char full[320];
    snprintf(full, sizeof(full), "%s.%s", owner->name, f->name);
    const char *c = bsl_schema_comment(full);
    if (c != NULL && c[0] != '\0') {
        if (json_object_get(s, "$ref") != NULL) {
            /* OpenAPI 3.0 ignores siblings of $ref: wrap it to keep the field's comment. */
            json_t *w = json_pack("{s:[o]}", "allOf", s);
            s = w ? w : json_object();
        }
        json_object_set_new(s, "description", json_string(c));
    }
    return s;
}

static void add_message(doc *d, const ProtobufCMessageDescriptor *m)
{
    if (json_object_get(d->schemas, m->name) != NULL) {
        return;
    }
    json_t *props = json_object();
    json_t *s = json_pack("{s:s, s:o, s:b}", "type", "object", "properties", props,
                          "additionalProperties", 0);
    if (s == NULL) {
        d->failed = true;
        return;
    }
    describe(s, m->name);
    /* Registered before its fields, so that a recursive message refers to itself. */
    json_object_set_new(d->schemas, m->name, s);
    for (unsigned i = 0; i < m->n_fields; i++) {
        char name[128];
        gw_json_name(m->fields[i].name, name, sizeof(name));
        json_object_set_new(props, name, field_schema(d, m, &m->fields[i]));
    }
}

static json_t *header_param(const char *name, const char *description, json_t *schema)
{
    return json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", name, "in", "header", "required", 0,
                     "description", description, "schema", schema);
}

static json_t *common_params(const bsl_method_info *m)
{
    json_t *p = json_array();
    json_array_append_new(p,
                          header_param("Connect-Protocol-Version", "Connect protocol version: 1.",
                                       json_pack("{s:s, s:[s]}", "type", "string", "enum", "1")));
    json_array_append_new(
        p, header_param("Connect-Timeout-Ms", "The call's deadline, in milliseconds.",
                        json_pack("{s:s, s:s}", "type", "string", "pattern", "^[0-9]{1,10}$")));
    json_array_append_new(p, header_param("X-Request-Id",
                                          "Identifier of the request, echoed in the response "
                                          "(generated when absent).",
                                          json_pack("{s:s}", "type", "string")));
    if (m->idempotency == BSL_IDEMPOTENCY_UNKNOWN) {
        json_array_append_new(p, header_param("Idempotency-Key",
                                              "Repeating a call with the same key returns the "
                                              "first answer instead of acting twice.",
                                              json_pack("{s:s}", "type", "string")));
    }
    return p;
}

static json_t *responses(const ProtobufCMethodDescriptor *md)
{
    return json_pack("{s:{s:s, s:{s:{s:o}, s:{s:{s:s, s:s}}}}, s:{s:s, s:{s:{s:o}}}}", "200",
                     "description", "The method's response message.", "content", "application/json",
                     "schema", ref(md->output->name), "application/proto", "schema", "type",
                     "string", "format", "binary", "default", "description",
                     "A Connect error; the HTTP status follows the error code.", "content",
                     "application/json", "schema", ref("connect.Error"));
}

static json_t *operation(doc *d, const bsl_method_info *m, bool get)
{
    const ProtobufCMethodDescriptor *md = &m->service->methods[m->index];
    add_message(d, md->input);
    add_message(d, md->output);
    char op_id[320];
    snprintf(op_id, sizeof(op_id), "%s.%s%s", m->service_name, m->name, get ? ".get" : "");
    const char *comment = m->comment && m->comment[0] ? m->comment : m->name;
    char summary[160];
    snprintf(summary, sizeof(summary), "%.*s", (int)strcspn(comment, ".\n"), comment);
    json_t *op = json_pack("{s:s, s:s, s:s, s:[s], s:o, s:o}", "operationId", op_id, "summary",
                           summary, "description", comment, "tags", m->service_name, "parameters",
                           common_params(m), "responses", responses(md));
    if (op == NULL) {
        d->failed = true;
        return json_object();
    }
    if (m->anonymous) {
        json_object_set_new(op, "security", json_array()); /* callable without a token */
    }
    json_t *params = json_object_get(op, "parameters");
    if (get) {
        json_array_append_new(
            params, json_pack("{s:s, s:s, s:b, s:s, s:{s:s}}", "name", "message", "in", "query",
                              "required", 1, "description",
                              "The request message, in the encoding given (URL-safe base64 when "
                              "base64=1).",
                              "schema", "type", "string"));
        json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:{s:s, s:[s, s]}}", "name",
                                                "encoding", "in", "query", "required", 1, "schema",
                                                "type", "string", "enum", "json", "proto"));
        json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:{s:s, s:[s]}}", "name", "base64",
                                                "in", "query", "required", 0, "schema", "type",
                                                "string", "enum", "1"));
        json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:{s:s, s:[s]}}", "name",
                                                "connect", "in", "query", "required", 0, "schema",
                                                "type", "string", "enum", "v1"));
    } else {
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b, s:{s:{s:o}, s:{s:{s:s, s:s}}}}", "required", 1,
                                      "content", "application/json", "schema", ref(md->input->name),
                                      "application/proto", "schema", "type", "string", "format",
                                      "binary"));
    }
    return op;
}

static json_t *error_schema(void)
{
    return json_pack(
        "{s:s, s:s, s:[s], s:{s:{s:s, s:[s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s]}, s:{s:s}, "
        "s:{s:s, s:{s:s, s:{s:{s:s}, s:{s:s, s:s}, s:{}}}}}}",
        "type", "object", "description",
        "The Connect protocol's error body. details[].value is the base64 of the binary "
        "detail message named by type (boussole.v1.FieldViolation, "
        "boussole.v1.PreconditionViolation, boussole.v1.RetryInfo); debug is the same in JSON.",
        "required", "code", "properties", "code", "type", "string", "enum", "canceled", "unknown",
        "invalid_argument", "deadline_exceeded", "not_found", "already_exists", "permission_denied",
        "resource_exhausted", "failed_precondition", "aborted", "out_of_range", "unimplemented",
        "internal", "unavailable", "data_loss", "unauthenticated", "message", "type", "string",
        "details", "type", "array", "items", "type", "object", "properties", "type", "type",
        "string", "value", "type", "string", "format", "byte", "debug");
}

char *gw_openapi_build(bool (*exposed)(const bsl_method_info *m, void *arg), void *arg, size_t *len)
{
    doc d = { .schemas = json_object() };
    json_t *paths = json_object();
    json_t *root = json_pack(
        "{s:s, s:{s:s, s:s, s:s}, s:[{s:s}], s:[{s:[]}], s:{s:{s:{s:s, s:s, s:s}}, s:o}, s:o}",
        "openapi", "3.0.3", "info", "title", "Boussole API", "version", "v1", "description",
        "Boussole's services over the Connect protocol (connectrpc.com/docs/protocol): POST "
        "/<service>/<method> with a JSON (proto3 JSON mapping) or binary protobuf body; GET for "
        "side-effect-free methods. Authenticate with Authorization: Bearer <JWT>.",
        "servers", "url", "/", "security", "bearer", "components", "securitySchemes", "bearer",
        "type", "http", "scheme", "bearer", "bearerFormat", "JWT", "schemas", d.schemas, "paths",
        paths);
    if (root == NULL) {
        return NULL;
    }
    json_object_set_new(d.schemas, "connect.Error", error_schema());
    size_t n;
    const bsl_service_info *svc = bsl_schema_services(&n);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < svc[i].n_methods; k++) {
            const bsl_method_info *m = &svc[i].methods[k];
            if (!exposed(m, arg)) {
                continue;
            }
            char path[300];
            snprintf(path, sizeof(path), "/%s", m->full_name);
            json_t *item = json_pack("{s:o}", "post", operation(&d, m, false));
            if (item != NULL && m->idempotency == BSL_IDEMPOTENCY_NO_SIDE_EFFECTS) {
                json_object_set_new(item, "get", operation(&d, m, true));
            }
            if (item == NULL) {
                d.failed = true;
            } else {
                json_object_set_new(paths, path, item);
            }
        }
    }
    char *text = d.failed ? NULL : json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (text != NULL && len != NULL) {
        *len = strlen(text);
    }
    return text;
}
