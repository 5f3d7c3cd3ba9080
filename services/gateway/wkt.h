/*
 * The text forms the proto3 JSON mapping gives two well-known types:
 * google.protobuf.Timestamp as RFC 3339 ("2026-12-01T09:30:00Z", "…00.250Z", offsets accepted
 * on input, always UTC on output) and google.protobuf.Duration as "1.500s". Ranges are those
 * of the protobuf definitions (years 0001 to 9999; ±10 000 years of seconds).
 */
#ifndef GW_WKT_H
#define GW_WKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_TIMESTAMP_MIN_S (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define GW_TIMESTAMP_MAX_S 253402300799LL   /* 9999-12-31T23:59:59Z */
#define GW_DURATION_MAX_S  315576000000LL

/* Parses an RFC 3339 date-time of len bytes. Returns false when it is not one or is out of
 * range. */
bool gw_timestamp_parse(const char *s, size_t len, int64_t *seconds, int32_t *nanos);

/* Formats into out (at least 32 bytes): "YYYY-MM-DDTHH:MM:SS[.fff|.ffffff|.fffffffff]Z".
 * Returns false for values out of range (nothing written). */
bool gw_timestamp_format(int64_t seconds, int32_t nanos, char *out, size_t cap);

/* Parses "[-]S[.fraction]s". */
bool gw_duration_parse(const char *s, size_t len, int64_t *seconds, int32_t *nanos);

/* Formats into out (at least 32 bytes). Returns false for values out of range. */
bool gw_duration_format(int64_t seconds, int32_t nanos, char *out, size_t cap);

#endif /* GW_WKT_H */
