/*
 * The bilan's record as it is stored (the hash bilan:{<id>}, see keys.h) and as it is answered
 * (boussole.v1.Bilan). Pure functions: no Redis, no call; unit-tested in
 * tests/unit/sessions/model_test.c.
 *
 * Fields of the hash (all values are decimal integers unless said otherwise):
 *   beneficiary, counselor, organisation   subject ids (strings)
 *   funding, planned_hours                 Funding value; 1..24
 *   start_date, end_date                   "YYYY-MM-DD"
 *   status, phase, version                 BilanStatus, Phase, bumped by own-field changes
 *   create_ms, update_ms, end_ms           Unix ms (end_ms once CLOSED or CANCELLED)
 *   cancel_reason                          CancelReason
 *   synthesis_id, synthesis_version        set by ReportSynthesisFinalised
 *   questionnaires                         completed assignments (SCARD of :questionnaires)
 *   waiver                                 1: questionnaire requirement waived
 *   intake, roadmap_steps                  1 once the intake is recorded; steps in roadmap
 *   agr, agr_deadline, agr_rev             stored AgreementStatus (PROPOSED, ACCEPTED,
 *                                          REFUSED), respond-by ms, revision
 *   mm_1..mm_4, om_1..om_4                 minutes spent per phase: attended meetings, other
 *   n_meetings, n_experiences, n_leads,    records under the bilan (bounded, see limits.h)
 *   n_research, n_hours
 *   follow_up_id, follow_up_ms             the follow-up meeting scheduled on leaving
 *                                          CONCLUSION, and its start
 *   erased_ms, erase_reason                set by EraseBilanData
 */
#ifndef SESSIONS_MODEL_H
#define SESSIONS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boussole/arena.h"
#include "boussole/v1/sessions.pb-c.h"

/* Phases that hold hours: PRELIMINARY (1) to FOLLOW_UP (4). */
#define SESS_PHASES 4

/* The tripartite agreement: 10 days to accept it. */
#define SESS_AGREEMENT_DAYS 10
#define SESS_DAY_MS         86400000LL

typedef struct sess_bilan {
    /* Strings are borrowed from whatever sess_bilan_parse was given. */
    const char *id;
    const char *beneficiary;
    const char *counselor;
    const char *organisation;
    const char *start_date;
    const char *end_date;
    const char *synthesis_id; /* "" until finalised */
    const char *follow_up_id; /* "" until scheduled */
    int funding;
    int status;
    int phase;
    int cancel_reason;
    int agreement; /* stored AgreementStatus; 0 when none was proposed */
    uint32_t agreement_revision;
    uint32_t planned_hours;
    uint32_t questionnaires;
    uint32_t roadmap_steps;
    bool intake;
    bool waiver;
    uint64_t version;
    int64_t create_ms;
    int64_t update_ms;
    int64_t end_ms;
    int64_t agreement_deadline_ms;
    int64_t follow_up_ms;
    int64_t erased_ms;
    uint32_t meeting_minutes[SESS_PHASES + 1]; /* [phase], 1..4 */
    uint32_t other_minutes[SESS_PHASES + 1];
    uint32_t n_meetings;
    uint32_t n_experiences;
    uint32_t n_leads;
    uint32_t n_research;
    uint32_t n_hours;
} sess_bilan;

/*
 * Fills *b from the hash's field names and values (n pairs; the strings must outlive *b).
 * Missing counters read as 0. Returns false when the hash is not a bilan's (a participant
 * or the status is missing).
 */
bool sess_bilan_parse(sess_bilan *b, const char *id, const char *const *names,
                      const char *const *values, size_t n);

/* Minutes spent (all phases, meetings and other time), planned (planned_hours × 60) and
 * remaining (never negative). */
uint32_t sess_spent_minutes(const sess_bilan *b);
uint32_t sess_planned_minutes(const sess_bilan *b);
uint32_t sess_remaining_minutes(const sess_bilan *b);

/* True while the bilan runs (status ACTIVE). */
bool sess_bilan_active(const sess_bilan *b);

/* A tripartite agreement is needed before the investigation. */
bool sess_agreement_required(const sess_bilan *b);

/* The agreement's status as callers see it at now_ms: NONE when none was proposed, EXPIRED
 * when a proposal's deadline passed without an answer (silence is refusal). */
Boussole__V1__AgreementStatus sess_agreement_status(int stored, int64_t deadline_ms,
                                                    int64_t now_ms);

/* The bilan as answered, allocated in the arena; NULL when out of memory. */
Boussole__V1__Bilan *sess_bilan_to_pb(bsl_arena *a, const sess_bilan *b, int64_t now_ms);

/* The transition kept in the history list ("from|to|ms|role|subject|waived|reason"), parsed
 * into the arena; NULL when the entry is malformed or out of memory. */
Boussole__V1__PhaseTransition *sess_transition_parse(bsl_arena *a, const char *entry);

/* Page tokens of the lists: "<score>:<id>" of the last entry passed, so that entries added
 * or removed between pages neither repeat nor get skipped. Parses a token given back by a
 * caller: false unless it is exactly that (score 0..2^53, a well-formed id). */
bool sess_cursor_parse(const char *token, int64_t *score, char id[27]);

/* Day number (days since 1970-01-01) of a Unix time in ms. */
long sess_day_of_ms(int64_t ms);

#endif
