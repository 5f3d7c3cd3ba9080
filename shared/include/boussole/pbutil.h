/* Small helpers for building protobuf-c messages in a call's arena. */
#ifndef BOUSSOLE_PBUTIL_H
#define BOUSSOLE_PBUTIL_H

#include <stdint.h>

#include "boussole/arena.h"
#include "google/protobuf/timestamp.pb-c.h"

/* A Timestamp for a Unix time in ms, allocated in the arena (NULL when out of memory). */
Google__Protobuf__Timestamp *bsl_pb_timestamp(bsl_arena *a, int64_t unix_ms);

/* Unix ms of a Timestamp (0 for NULL). */
int64_t bsl_pb_timestamp_ms(const Google__Protobuf__Timestamp *ts);

#endif
