/*
 * The records a bilan holds, as stored (keys.h, store.proto): the lists of collection.c and
 * the decoders that the export, the hours ledger and the files of each record share.
 */
#ifndef SESSIONS_RECORDS_H
#define SESSIONS_RECORDS_H

#include "boussole/check.h"
#include "store.pb-c.h"
#include "store.h"

/* A timestamp a person may mean (2000 to 2100); NULL is a violation when required. */
bool sess_check_time(bsl_check *chk, const char *field, const Google__Protobuf__Timestamp *ts,
                     bool required);

/*
 * Decoders for the export and the ledger. Each takes the values read from the bilan's parts
 * (sealed ones need op's data key) and answers NULL (with *out NULL) when a value does not
 * open or decode; a missing value is an empty list.
 */

/* meetings.c: the meetings (a MeetingList value), by start time, with their shared notes when
 * `notes` (a SharedNotesList value) is given. Returns the count. */
size_t sess_meetings_decode(sess_op *op, const sess_value *meetings, const sess_value *notes,
                            Boussole__V1__Meeting ***out);

/* The hash field of a phase's minutes: "mm_<phase>" (meetings) or "om_<phase>" (other). */
const char *sess_minutes_field(sess_op *op, bool meetings, int phase);

/* hours.c: the accompanied time entries (an HoursList value), by date. */
size_t sess_hours_decode(sess_op *op, const sess_value *hours,
                         Boussole__V1__AccompaniedTime ***out);

/* experiences.c: the experiences (an ExperienceList value), by period. */
size_t sess_experiences_decode(sess_op *op, const sess_value *experiences,
                               Boussole__V1__Experience ***out);

/* leads.c: the career leads with their research (a LeadList value), in the order they were
 * added. */
size_t sess_leads_decode(sess_op *op, const sess_value *leads, Boussole__V1__CareerLead ***out);

/* preliminary.c: the intake and roadmap from their stored values; NULL when absent or when
 * they do not open. */
Boussole__V1__Intake *sess_intake_decode(sess_op *op, const sess_value *v);
Boussole__V1__Roadmap *sess_roadmap_decode(sess_op *op, const sess_value *v);

/* agreement.c: the whole agreement from its two stored values; NULL when absent or
 * unreadable. */
Boussole__V1__Agreement *sess_agreement_decode(sess_op *op, const sess_value *plain,
                                               const sess_value *text);

/* ---- collection.c: the lists a bilan holds, one Redis value each ---------------------- */

/* A kind of list: one part of the bilan (keys.h) holding a list message of store.proto. */
typedef struct sess_list_kind {
    const char *part; /* keys.h part: "experiences" */
    const char *kind; /* associated data when sealed: "experiences"; NULL: stored in clear */
    const ProtobufCMessageDescriptor *desc; /* the list message (store.proto) */
    const char *what;                       /* for messages and id scopes: "experience" */
    const char *counter;                    /* the bilan's count of items, or NULL */
    unsigned max;                           /* the most items a bilan may hold */
    const char *const *blank;               /* string fields stored empty (NULL-ended) */
} sess_list_kind;

/* A list read from a part, decoded in the arena. */
typedef struct sess_list {
    const sess_list_kind *k;
    sess_value stored;         /* the bytes read, for the write's check */
    ProtobufCMessage *msg;     /* the list message */
    size_t *n;                 /* its items */
    ProtobufCMessage ***items; /* (bilan_id of each set to the bilan's) */
} sess_list;

/* Decodes the list read in v (a sealed one needs op's data key). False: answered. */
bool sess_list_open(sess_op *op, const sess_list_kind *k, const sess_value *v, sess_list *l);

/* The item whose string field `field` is id (its position in *at), or NULL. */
ProtobufCMessage *sess_list_find(const sess_list *l, const char *field, const char *id, size_t *at);

/* Appends an item (kept by reference: it lives in the arena). False: out of memory. */
bool sess_list_append(sess_op *op, sess_list *l, ProtobufCMessage *item);

/* Removes the item at `at`. */
void sess_list_remove_at(sess_list *l, size_t at);

/* The list as stored (packed, sealed when the kind is); {NULL, 0} for an empty list (the key
 * is deleted), {NULL, 1} when out of memory. */
sess_blob sess_list_encode(sess_op *op, const sess_list *l);

/* Adds to a commit the write of the list in place of what was read. False: out of memory. */
bool sess_list_put(sess_op *op, sess_commit *c, const sess_list *l);

/* Sets a record's id (when not NULL), version, update time, and create time when is_new.
 * False when the type lacks those fields or out of memory. */
bool sess_record_stamp(sess_op *op, ProtobufCMessage *m, const char *id, uint64_t version,
                       bool is_new);

/* Adds to a commit the append of one item to a plain list, without rewriting it (so that
 * items added together do not conflict). False: a sealed list, or out of memory. */
bool sess_list_append_put(sess_op *op, sess_commit *c, const sess_list *l, ProtobufCMessage *item);

/* The id and version of a record (a message with fields id, version, update_time,
 * create_time); NULL / 0 when it has none. */
const char *sess_record_id(ProtobufCMessage *m);
uint64_t sess_record_version(ProtobufCMessage *m);

/*
 * Record operations on a list read into parts[slot] (with the data key when sealed), for
 * records with id, version, update_time and create_time. The operation must have a restart
 * step (a concurrent change of the list starts it over). Each answers the call.
 *  - add: the id is derived from the idempotency key (a repeat answers the first record);
 *    version 1; the bilan's counter bounded by the kind's max;
 *  - update: m carries the id and the version read (stale: ABORTED; missing: NOT_FOUND);
 *  - remove: answers empty_reply, also when the record is not there.
 */
void sess_item_add(sess_op *op, const sess_list_kind *k, size_t slot, ProtobufCMessage *m);
void sess_item_update(sess_op *op, const sess_list_kind *k, size_t slot, ProtobufCMessage *m);
void sess_item_remove(sess_op *op, const sess_list_kind *k, size_t slot, const char *id,
                      const ProtobufCMessage *empty_reply);

/* The kinds (meetings.c, hours.c, experiences.c, leads.c). */
extern const sess_list_kind sess_meetings_kind;
extern const sess_list_kind sess_shared_notes_kind;
extern const sess_list_kind sess_private_notes_kind;
extern const sess_list_kind sess_hours_kind;
extern const sess_list_kind sess_experiences_kind;
extern const sess_list_kind sess_leads_kind;

#endif
