#include "boussole/pbutil.h"

Google__Protobuf__Timestamp *bsl_pb_timestamp(bsl_arena *a, int64_t unix_ms)
{
    Google__Protobuf__Timestamp *ts = bsl_arena_alloc(a, sizeof(*ts));
    if (ts == NULL) {
        return NULL;
    }
    google__protobuf__timestamp__init(ts);
    int64_t s = unix_ms / 1000, ms = unix_ms % 1000;
    if (ms < 0) {
        ms += 1000;
        s -= 1;
    }
    ts->seconds = s;
    ts->nanos = (int32_t)(ms * 1000000);
    return ts;
}

int64_t bsl_pb_timestamp_ms(const Google__Protobuf__Timestamp *ts)
{
    return ts == NULL ? 0 : ts->seconds * 1000 + ts->nanos / 1000000;
}
