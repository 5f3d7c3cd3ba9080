/*
 * Writes seed corpora for the runtime fuzzers into <dir>/<target>/: envelopes of every method of
 * the schema with an empty and a small payload, the messages the integration tests send, and
 * payloads of every method's default request.
 *   bsl_fuzz_seeds <dir>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "boussole/schema.h"
#include "boussole/v1/rpc.pb-c.h"

static void write_file(const char *dir, const char *target, int n, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, target);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/seed-%04d", dir, target, n);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <dir>\n", argv[0]);
        return 2;
    }
    mkdir(argv[1], 0755);
    Boussole__V1__Caller caller = BOUSSOLE__V1__CALLER__INIT;
    caller.subject = "c-marie";
    caller.role = BOUSSOLE__V1__ROLE__ROLE_COUNSELOR;
    caller.organisation = "org-lumiere";
    Boussole__V1__KeyValue kv = BOUSSOLE__V1__KEY_VALUE__INIT;
    kv.key = "client";
    kv.value = "web";
    Boussole__V1__KeyValue *kvs[] = { &kv };
    Boussole__V1__Metadata md = BOUSSOLE__V1__METADATA__INIT;
    md.caller = &caller;
    md.trace_id = "0af7651916cd43dd8448eb211c80319c";
    md.idempotency_key = "key-1";
    md.extra = kvs;
    md.n_extra = 1;
    int n = 0;
    for (size_t i = 0; i < bsl__schema_n_methods; i++) {
        const bsl_method_info *m = &bsl__schema_methods[i];
        const ProtobufCMessageDescriptor *in = m->service->methods[m->index].input;
        /* The method's request with every string field set: a realistic payload. */
        ProtobufCMessage *msg = calloc(1, in->sizeof_message);
        protobuf_c_message_init(in, msg);
        for (unsigned f = 0; f < in->n_fields; f++) {
            const ProtobufCFieldDescriptor *fd = &in->fields[f];
            if (fd->type == PROTOBUF_C_TYPE_STRING && fd->label != PROTOBUF_C_LABEL_REPEATED) {
                *(const char **)((char *)msg + fd->offset) = "0123456789abcdefghjkmnpqrs";
            }
        }
        size_t plen = protobuf_c_message_get_packed_size(msg);
        uint8_t *payload = malloc(plen + 1);
        protobuf_c_message_pack(msg, payload);
        /* fuzz_payload: method selector byte + payload. */
        uint8_t *sel = malloc(plen + 1);
        sel[0] = (uint8_t)i;
        memcpy(sel + 1, payload, plen);
        write_file(argv[1], "fuzz_payload", n, sel, plen + 1);
        /* fuzz_envelope: the whole envelope. */
        Boussole__V1__RpcRequest r = BOUSSOLE__V1__RPC_REQUEST__INIT;
        r.method = (char *)m->full_name;
        r.request_id = "rid-1";
        r.deadline_ms = 5000;
        r.metadata = &md;
        r.payload.data = payload;
        r.payload.len = plen;
        size_t elen = boussole__v1__rpc_request__get_packed_size(&r);
        uint8_t *env = malloc(elen);
        boussole__v1__rpc_request__pack(&r, env);
        write_file(argv[1], "fuzz_envelope", n, env, elen);
        n++;
        free(env);
        free(sel);
        free(payload);
        free(msg);
    }
    printf("%d seeds per runtime target in %s\n", n, argv[1]);
    return 0;
}
