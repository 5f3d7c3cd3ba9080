/*
 * The Redis key layout of the sessions service. Every key of one bilan carries the bilan's
 * hash tag, {<bilan id>}, so that in Redis Cluster they share a slot and one Lua script can
 * change them together. Ids are checked (bsl_id_valid, bsl_subject_valid) before they are put
 * in a key: nothing else can reach this layout.
 *
 * One bilan (administrative record: kept by EraseBilanData, holds no free text):
 *   bilan:{<id>}                     hash: the bilan's fields, counters, guard facts (model.h)
 *   bilan:{<id>}:history             list: one "from|to|ms|role|subject|waived|reason" per
 *                                    phase change, oldest first
 *   bilan:{<id>}:agreement           string: the Agreement without its text fields (packed)
 *   bilan:{<id>}:meetings            hash: meeting id -> Meeting without notes (packed)
 *   bilan:{<id>}:hours               hash: entry id -> AccompaniedTime (packed)
 *
 * One bilan (confidential: sealed with the bilan's data key, deleted by EraseBilanData):
 *   bilan:{<id>}:agreement_text      string: sealed Agreement holding only its text fields
 *   bilan:{<id>}:intake              string: sealed Intake
 *   bilan:{<id>}:roadmap             string: sealed Roadmap
 *   bilan:{<id>}:meeting_notes       hash: meeting id -> sealed shared notes (UTF-8)
 *   bilan:{<id>}:private_notes       hash: meeting id -> sealed PrivateNotes
 *   bilan:{<id>}:experiences         hash: experience id -> sealed Experience
 *   bilan:{<id>}:leads               hash: lead id -> sealed CareerLead (without research)
 *   bilan:{<id>}:research            hash: "<lead id>:<research id>" -> sealed LeadResearch
 *   bilan:{<id>}:questionnaires      set: completed questionnaire assignment ids
 *
 * Indexes (one key each; entries are checked against the bilan when read, so a stale entry,
 * e.g. after a reassignment interrupted halfway, is skipped and removed):
 *   bilans:counselor:{<subject>}     zset: bilan ids by creation time (ms)
 *   bilans:beneficiary:{<subject>}   zset: bilan ids by creation time (ms)
 *   bilans:org:{<organisation>}      zset: bilan ids by creation time (ms)
 *   bilans:ended                     zset: ended bilans not yet erased, by end time (ms)
 *
 * The keystore (possibly another Redis) holds the bilan's data key: dek:{<id>}:sessions.
 */
#ifndef SESSIONS_KEYS_H
#define SESSIONS_KEYS_H

#include <stdio.h>

#define SESSIONS_KEY_MAX 200

#define SESSIONS_ENDED_KEY "bilans:ended"

static inline void key_bilan(char *out, const char *id)
{
    snprintf(out, SESSIONS_KEY_MAX, "bilan:{%s}", id);
}

/* A key under the bilan: part is one of the names listed above ("meetings", ...). */
static inline void key_part(char *out, const char *id, const char *part)
{
    snprintf(out, SESSIONS_KEY_MAX, "bilan:{%s}:%s", id, part);
}

/* kind: "counselor", "beneficiary" or "org". */
static inline void key_index(char *out, const char *kind, const char *subject)
{
    snprintf(out, SESSIONS_KEY_MAX, "bilans:%s:{%s}", kind, subject);
}

#endif
