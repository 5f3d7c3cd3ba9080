/* Bytes from the network as an RPC request: the envelope, then (for a method of the schema)
 * the payload, exactly as the server decodes them (shared/src/decode.c). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "boussole/arena.h"
#include "server_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    bsl_arena *a = bsl_arena_create();
    if (a == NULL) {
        return 0;
    }
    bsl__decoded d;
    if (bsl__decode_envelope(data, len, 1 << 20, a, &d) == BSL_STATUS_OK) {
        /* A decoded envelope names a method of the schema and carries printable ids. */
        if (d.method == NULL || d.req == NULL) {
            __builtin_trap();
        }
        bsl__decode_payload(a, &d);
    }
    if (d.message == NULL) {
        __builtin_trap(); /* every outcome has a message for the caller */
    }
    bsl_arena_free(a);
    return 0;
}
