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
 *   bilan:{<id>}:meetings            string: MeetingList (store.proto), without notes
 *   bilan:{<id>}:hours               string: HoursList, accompanied time outside meetings
 *
 * One bilan (confidential: sealed, compressed first, with the bilan's data key; deleted by
 * EraseBilanData):
 *   bilan:{<id>}:agreement_text      string: Agreement holding only its text fields
 *   bilan:{<id>}:intake              string: Intake
 *   bilan:{<id>}:roadmap             string: Roadmap
 *   bilan:{<id>}:meeting_notes       string: SharedNotesList, the notes shared with the
 *                                    beneficiary
 *   bilan:{<id>}:private_notes       string: PrivateNotesList, the counselor's own notes
 *   bilan:{<id>}:experiences         string: ExperienceList
 *   bilan:{<id>}:leads               string: LeadList, each lead with its research
 *   bilan:{<id>}:questionnaires      set: completed questionnaire assignment ids (in clear)
 *
 * Each list is one value rather than one hash field per record: a bilan's records are few
 * and read together, and per-record overhead (hash entry, seal, compression) would cost more
 * than the text (collection.c).
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
