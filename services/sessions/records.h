/* Decoding the records stored under a bilan, for their own files and for the export. */
#ifndef SESSIONS_RECORDS_H
#define SESSIONS_RECORDS_H

#include "boussole/check.h"
#include "store.h"

/* A timestamp a person may mean (2000 to 2100); NULL is a violation when required. */
bool sess_check_time(bsl_check *chk, const char *field, const Google__Protobuf__Timestamp *ts,
                     bool required);

/* A stored meeting (without notes), in the arena; NULL when missing or unreadable. */
Boussole__V1__Meeting *sess_meeting_decode(sess_op *op, const sess_value *v);

/* The shared notes of a meeting from their stored value: "" when there are none, NULL when
 * they do not open (no key). */
char *sess_meeting_notes_open(sess_op *op, const char *meeting_id, const sess_value *v);

/* Every meeting of an HGETALL of bilan:{<id>}:meetings, ordered by start time, with their
 * shared notes when `notes` (an HGETALL of :meeting_notes) is given. *out is NULL when out of
 * memory. Returns the count. */
size_t sess_meetings_decode(sess_op *op, const sess_value *hash, const sess_value *notes,
                            Boussole__V1__Meeting ***out);

/* The hash field of a phase's minutes: "mm_<phase>" (meetings) or "om_<phase>" (other). */
const char *sess_minutes_field(sess_op *op, bool meetings, int phase);

/* hours.c: the accompanied time entries of an HGETALL of :hours, by date. */
size_t sess_hours_decode(sess_op *op, const sess_value *hash, Boussole__V1__AccompaniedTime ***out);

/* experiences.c: the experiences of an HGETALL of :experiences, opened, by period; those that
 * do not open are left out. */
size_t sess_experiences_decode(sess_op *op, const sess_value *hash,
                               Boussole__V1__Experience ***out);

/* leads.c: the career leads of an HGETALL of :leads with their research (an HGETALL of
 * :research), opened, in the order they were added. */
size_t sess_leads_decode(sess_op *op, const sess_value *leads, const sess_value *research,
                         Boussole__V1__CareerLead ***out);

/* preliminary.c: the intake and roadmap from their stored values; NULL when absent or when
 * they do not open. */
Boussole__V1__Intake *sess_intake_decode(sess_op *op, const sess_value *v);
Boussole__V1__Roadmap *sess_roadmap_decode(sess_op *op, const sess_value *v);

/* agreement.c: the whole agreement from its two stored values; NULL when absent or
 * unreadable. */
Boussole__V1__Agreement *sess_agreement_decode(sess_op *op, const sess_value *plain,
                                               const sess_value *text);

/* ---- sealed.c: records sealed whole in a hash of the bilan ---------------------------- */

/* A kind of such record. The message type has the fields id, version, update_time and
 * create_time; a record's associated data names the kind and its hash field. */
typedef struct sess_record_kind {
    const char *part;        /* keys.h part: "experiences" */
    const char *kind;        /* associated data and id scope: "experience" */
    const char *what;        /* for messages: "experience" */
    const char *what_plural; /* "experiences" */
    const ProtobufCMessageDescriptor *desc;
    const char *counter; /* the bilan's counter: "n_experiences" */
    unsigned max;
} sess_record_kind;

/* The id and version of such a message (NULL / 0 when the type has none). */
const char *sess_record_id(ProtobufCMessage *m);
uint64_t sess_record_version(ProtobufCMessage *m);

/* Adds m (the bilan loaded, running; the data key in hand): its id is derived from the call's
 * idempotency key, its field is prefix + id, its version 1. `extra` (may be NULL) is one more
 * checked put of the same write (a lead that must exist). Answers m, or the record a first
 * attempt with the same key made. */
void sess_record_add(sess_op *op, const sess_record_kind *k, ProtobufCMessage *m,
                     const char *prefix, const sess_put *extra);

/* Replaces the record loaded in parts[0] (hash field `field`) with m, whose version must be
 * the stored one (ABORTED otherwise); answers m with its new version. */
void sess_record_update(sess_op *op, const sess_record_kind *k, ProtobufCMessage *m,
                        const char *field);

/* Removes the record loaded in parts[0], with the puts already in `more` (may be NULL), and
 * answers empty_reply; a record that is not there answers it at once. */
void sess_record_remove(sess_op *op, const sess_record_kind *k, const char *field,
                        sess_commit *more, const ProtobufCMessage *empty_reply);

/* Opens every record of an HGETALL; those that do not open are left out. */
size_t sess_records_open(sess_op *op, const sess_record_kind *k, const sess_value *hash,
                         ProtobufCMessage ***out);

#endif
