/*
 * The Redis key layout of the questionnaires service. Every key of one bilan carries the
 * bilan's hash tag {<bilan id>}, so that in Redis Cluster they share a slot and one Lua script
 * changes them together. Ids and subjects are checked (bsl_id_valid, bsl_subject_valid) before
 * they are put in a key; token hashes are 64 hex digits computed here.
 *
 *   qn:{<bilan>}:meta             hash: beneficiary, organisation, fb_instrument, fb_version
 *   qn:{<bilan>}:asgs             zset: assignment ids by creation time (at most 100)
 *   qn:{<bilan>}:asg:<asg>        hash: the assignment (see assignments.c)
 *   qn:{<bilan>}:ans:<asg>        hash: item id -> sealed packed Answer
 *   qn:{<bilan>}:res:<asg>        string: sealed packed Results (annotations apart)
 *   qn:{<bilan>}:notes:<asg>      hash: annotation id -> sealed packed Annotation (at most 100)
 *   qn:{<bilan>}:invs             zset: invitation ids by creation time (at most 20)
 *   qn:{<bilan>}:inv:<inv>        hash: the invitation (see relatives.c), relative sealed
 *   qn:{<bilan>}:fb:<inv>         string: sealed packed NamedResponse (a relative's answers)
 *   qn:tok:{<sha256 of token>}    string: "<bilan>:<inv>", expires 30 days after the invitation
 *   qn:ben:{<beneficiary>}        set: bilans holding this beneficiary's data (for export)
 *   qninst:{<id>}                 hash: latest, status, organisation, author, create_ms
 *   qninst:{<id>}:v:<n>           string: packed Instrument, version n (never changes)
 *   qninst:org:{<organisation>}   zset: the organisation's instrument ids by creation time
 *   qnsat:{<organisation>}:<instrument>:<version>
 *                                 zset: "<bilan>:<assignment>" of the organisation's submitted
 *                                 satisfaction surveys, by submission time (ids only; see
 *                                 satisfaction.c)
 */
#ifndef QN_KEYS_H
#define QN_KEYS_H

#include <stdio.h>

#define QN_KEY_MAX 200

static inline void qn_key_bilan(char *out, const char *bilan, const char *what)
{
    snprintf(out, QN_KEY_MAX, "qn:{%s}:%s", bilan, what);
}

static inline void qn_key_bilan_sub(char *out, const char *bilan, const char *what, const char *id)
{
    snprintf(out, QN_KEY_MAX, "qn:{%s}:%s:%s", bilan, what, id);
}

static inline void qn_key_token(char *out, const char *hash)
{
    snprintf(out, QN_KEY_MAX, "qn:tok:{%s}", hash);
}

static inline void qn_key_beneficiary(char *out, const char *subject)
{
    snprintf(out, QN_KEY_MAX, "qn:ben:{%s}", subject);
}

static inline void qn_key_instrument(char *out, const char *id)
{
    snprintf(out, QN_KEY_MAX, "qninst:{%s}", id);
}

static inline void qn_key_instrument_version(char *out, const char *id, unsigned version)
{
    snprintf(out, QN_KEY_MAX, "qninst:{%s}:v:%u", id, version);
}

static inline void qn_key_org_instruments(char *out, const char *org)
{
    snprintf(out, QN_KEY_MAX, "qninst:org:{%s}", org);
}

static inline void qn_key_satisfaction(char *out, const char *org, const char *instrument,
                                       unsigned version)
{
    snprintf(out, QN_KEY_MAX, "qnsat:{%s}:%s:%u", org, instrument, version);
}

#endif
