/* Between server.c and builtin.c: the Health and Reflection services every server serves. */
#ifndef BOUSSOLE_SERVER_INTERNAL_H
#define BOUSSOLE_SERVER_INTERNAL_H

#include "boussole/server.h"
#include "boussole/v1/rpc.pb-c.h"

typedef struct bsl__builtin {
    Boussole__V1__Health_Service health;
    Boussole__V1__Reflection_Service reflection;
} bsl__builtin;

/* Fills b and adds both services to srv. */
int bsl__builtin_init(bsl_server *srv, bsl__builtin *b);

bsl_server *bsl__call_server(const bsl_call *call);
int bsl__call_metric_id(const bsl_call *call);

/* What decoding an incoming call found (decode.c). Strings live in the arena given. */
typedef struct bsl__decoded {
    Boussole__V1__RpcRequest *req; /* the envelope, or NULL */
    const bsl_method_info *method; /* the method named, or NULL */
    ProtobufCMessage *input;       /* the decoded request message, or NULL */
    bsl_status status;             /* OK when everything decoded so far */
    const char *message;           /* why not, for the caller */
    char field[128];               /* the field path that broke a rule, or "" */
} bsl__decoded;

/* The envelope: size limit, wire rules, printable ids, the method in the schema. */
bsl_status bsl__decode_envelope(const uint8_t *data, size_t len, size_t max, bsl_arena *a,
                                bsl__decoded *out);

/* The payload of out->req as the input message of out->method (wire rules, then unpack). */
bsl_status bsl__decode_payload(bsl_arena *a, bsl__decoded *out);

/* The services srv serves (at most cap). */
size_t bsl__server_services(const bsl_server *srv, const bsl_service_info **out, size_t cap);

#endif
