/*
 * The Redis key layout of the syntheses service. Every key of one bilan carries the bilan's
 * hash tag, {<bilan id>}, so that in Redis Cluster they share a slot and one Lua script can
 * read or change them together; ids and subjects are checked (bsl_id_valid,
 * bsl_subject_valid) before they are put in a key.
 *
 * Per bilan (all deleted by EraseBilanData; their set is fixed, see SYN_BILAN_KEYS):
 *   synth:{b}              hash   the synthesis header: ids, participants, version, status,
 *                                 current revision, per-version workflow facts (v<k>:...)
 *   synth:{b}:revs         hash   c<n> sealed content of revision n, m<n> its plain metadata
 *                                 "version|ms|role|kind|changed mask|author", n<n> sealed note
 *   synth:{b}:comments     hash   <comment id> -> sealed SynthesisComment
 *   synth:{b}:cids         list   comment ids, oldest first
 *   synth:{b}:grants       hash   g<id> sealed SynthesisGrant (as created), s<id> plain state
 *                                 "create_ms|expire_ms|revoke_ms|kind|section mask|grantee"
 *   synth:{b}:tokens       hash   sha256(share token) -> grant id
 *   synth:{b}:grantees     set    "<subject>/<grant id>" of bound grants (index cleanup)
 *   synth:{b}:access       stream the access log
 *   synth:{b}:retention    hash   keep consent and retention state (no content)
 *   synth:{b}:decisions    list   SynthesisKeepDecision, oldest first
 *
 * Global (outside any bilan, no content):
 *   syntheses:beneficiary:{<subject>}  set   bilan ids with data here (export)
 *   syntheses:grantee:{<subject>}      zset  "<bilan>/<grant>" by creation ms (shared with me)
 *   syntheses:held                     zset  bilans whose documents are held, by due ms
 *   syntheses:sweep:lock               string the retention sweep's lock (SET NX PX)
 *   syntheses:destructions             stream destruction records
 */
#ifndef SYNTHESES_KEYS_H
#define SYNTHESES_KEYS_H

#include <stdio.h>

#define SYN_KEY_MAX 224

/* The access log of one bilan keeps about this many reads (XADD MAXLEN ~): every read is
 * logged, as the law asks, but a front end polling a synthesis every few seconds must not grow
 * Redis without bound until the retention sweep erases the bilan. 100,000 reads of ~170 bytes
 * are ~17 MB at most per bilan; ListSynthesisAccessLog says how many older entries were
 * dropped. */
#define SYN_ACCESS_LOG_MAX "100000"

#define SYN_KEY_HELD         "syntheses:held"
#define SYN_KEY_SWEEP_LOCK   "syntheses:sweep:lock"
#define SYN_KEY_DESTRUCTIONS "syntheses:destructions"

/* "synth:{<bilan>}<suffix>", suffix "" for the header or ":revs", ":comments", ... */
static inline void syn_key(char *out, const char *bilan_id, const char *suffix)
{
    snprintf(out, SYN_KEY_MAX, "synth:{%s}%s", bilan_id, suffix);
}

/* "syntheses:<kind>:{<subject>}" */
static inline void syn_key_subject(char *out, const char *kind, const char *subject)
{
    snprintf(out, SYN_KEY_MAX, "syntheses:%s:{%s}", kind, subject);
}

/* The suffixes of every key of a bilan, for erasure. */
#define SYN_BILAN_KEYS                                                                             \
    {                                                                                              \
        "", ":revs", ":comments", ":cids", ":grants", ":tokens", ":grantees", ":access",           \
            ":retention", ":decisions"                                                             \
    }
#define SYN_N_BILAN_KEYS 10

#endif
