/*
 * The Redis key layout of the sessions service. Every key of one bilan carries the bilan's
 * hash tag, {<bilan id>}, so that in Redis Cluster they share a slot and one Lua script can
 * change them together. Ids are checked (bsl_id_valid, bsl_subject_valid) before they are put
 * in a key: nothing else can reach this layout.
 *
 *   bilan:{<id>}                          hash: the bilan's fields (see bilan.c)
 *   bilans:counselor:{<subject>}          zset: bilan ids by creation time
 *   bilans:beneficiary:{<subject>}        zset: bilan ids by creation time
 *   bilans:org:{<organisation>}           zset: bilan ids by creation time
 */
#ifndef SESSIONS_KEYS_H
#define SESSIONS_KEYS_H

#include <stdio.h>

#define SESSIONS_KEY_MAX 200

static inline void key_bilan(char *out, const char *id)
{
    snprintf(out, SESSIONS_KEY_MAX, "bilan:{%s}", id);
}

static inline void key_index(char *out, const char *kind, const char *subject)
{
    snprintf(out, SESSIONS_KEY_MAX, "bilans:%s:{%s}", kind, subject);
}

#endif
