/*
 * The request-target of an HTTP request, as the client sent it ("/svc/Method?encoding=json"):
 * split into its path and its query, the path percent-decoded. The gateway matches the decoded
 * path exactly against the schema's "/<service>/<method>" and its own endpoints, so decoding
 * must never let one path pass for another: only escapes of unreserved characters (RFC 3986,
 * section 2.3: letters, digits, "-", ".", "_", "~") decode, as the RFC says they are the same
 * as the characters themselves; an escaped "/" (which would move the boundary between service
 * and method), NUL, "}" or any other byte leaves a path that names nothing. Pure functions.
 */
#ifndef GW_TARGET_H
#define GW_TARGET_H

#include <stddef.h>

typedef enum {
    GW_PATH_OK = 0,    /* decoded: may name a method or an endpoint */
    GW_PATH_MALFORMED, /* a "%" not followed by two hex digits: a bad request */
    GW_PATH_FOREIGN,   /* well-formed, but escapes a character no path of ours holds */
} gw_path_status;

/*
 * Splits `target` (NUL-terminated) at its first "?": *query points into target just after it
 * ("" when there is none). The path (what comes before) is decoded into `path`, which has room
 * for `cap` bytes: cap must exceed the path's length (decoding never lengthens it); `path` is
 * always NUL-terminated, and holds the decoded path only when the status is GW_PATH_OK.
 */
gw_path_status gw_target_split(const char *target, char *path, size_t cap, const char **query);

#endif /* GW_TARGET_H */
