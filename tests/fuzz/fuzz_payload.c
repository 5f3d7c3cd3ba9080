/* Every request message through generic dispatch: the first byte picks a method of the schema,
 * the rest is its payload. What decodes must pack and decode again to the same bytes' worth. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boussole/arena.h"
#include "server_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 1 || bsl__schema_n_methods == 0) {
        return 0;
    }
    bsl_arena *a = bsl_arena_create();
    if (a == NULL) {
        return 0;
    }
    Boussole__V1__RpcRequest req = BOUSSOLE__V1__RPC_REQUEST__INIT;
    bsl__decoded d;
    memset(&d, 0, sizeof(d));
    d.method = &bsl__schema_methods[data[0] % bsl__schema_n_methods];
    d.req = &req;
    req.payload.data = (uint8_t *)data + 1;
    req.payload.len = len - 1;
    if (bsl__decode_payload(a, &d) == BSL_STATUS_OK) {
        size_t n = protobuf_c_message_get_packed_size(d.input);
        uint8_t *buf = malloc(n ? n : 1);
        protobuf_c_message_pack(d.input, buf);
        ProtobufCMessage *again =
            protobuf_c_message_unpack(d.input->descriptor, bsl_arena_allocator(a), n, buf);
        if (again == NULL || protobuf_c_message_get_packed_size(again) != n) {
            __builtin_trap();
        }
        free(buf);
    }
    bsl_arena_free(a);
    return 0;
}
