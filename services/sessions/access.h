/*
 * Who may do what on a bilan: the permission matrix of services/sessions/README.md, as one
 * table (access.c) that every handler consults. Pure; unit-tested in
 * tests/unit/sessions/access_test.c, and cell by cell end to end in
 * tests/integration/sessions_permissions_test.c.
 *
 * A caller's relation to a bilan comes first: its beneficiary, its counselor (the one assigned
 * now), an admin of its organisation, or a Boussole service. A caller with no relation gets
 * NOT_FOUND, as for a bilan that does not exist, so that existence does not leak; a caller
 * with a relation whose role may not do the action gets PERMISSION_DENIED.
 */
#ifndef SESSIONS_ACCESS_H
#define SESSIONS_ACCESS_H

#include "boussole/status.h"
#include "boussole/v1/rpc.pb-c.h"
#include "model.h"

typedef enum sess_relation {
    SESS_REL_NONE = 0,
    SESS_REL_BENEFICIARY = 1 << 0,
    SESS_REL_COUNSELOR = 1 << 1,
    SESS_REL_ADMIN = 1 << 2,
    SESS_REL_SERVICE = 1 << 3,
} sess_relation;

/* The rows of the matrix: one per kind of thing done to a bilan. */
typedef enum sess_action {
    SESS_ACT_GET_BILAN,
    SESS_ACT_UPDATE_BILAN,
    SESS_ACT_CANCEL_BILAN,
    SESS_ACT_REASSIGN,
    SESS_ACT_ADVANCE_PHASE,
    SESS_ACT_READ_HISTORY,
    SESS_ACT_PROPOSE_AGREEMENT,
    SESS_ACT_RESPOND_AGREEMENT,
    SESS_ACT_READ_AGREEMENT,
    SESS_ACT_WRITE_INTAKE,
    SESS_ACT_READ_INTAKE,
    SESS_ACT_WRITE_ROADMAP,
    SESS_ACT_READ_ROADMAP,
    SESS_ACT_MANAGE_MEETINGS, /* schedule, move, cancel */
    SESS_ACT_CONFIRM_ATTENDANCE,
    SESS_ACT_WRITE_SHARED_NOTES,
    SESS_ACT_READ_MEETINGS,
    SESS_ACT_PRIVATE_NOTES, /* read and write */
    SESS_ACT_WRITE_HOURS,
    SESS_ACT_READ_HOURS,
    SESS_ACT_WRITE_EXPERIENCES,
    SESS_ACT_READ_EXPERIENCES,
    SESS_ACT_WRITE_LEADS, /* leads and their research */
    SESS_ACT_READ_LEADS,
    SESS_ACT_EXPORT,
    SESS_ACT_COUNT
} sess_action;

/* The caller's relation to the bilan. */
sess_relation sess_relation_of(const Boussole__V1__Caller *c, const sess_bilan *b);

/* The relations allowed to do `action` (an OR of sess_relation). */
unsigned sess_allowed(sess_action action);

/* OK, NOT_FOUND (no relation) or PERMISSION_DENIED (a relation, not allowed). */
bsl_status sess_access(const Boussole__V1__Caller *c, const sess_bilan *b, sess_action action);

/* A short name of the action, for messages ("read the intake"). */
const char *sess_action_name(sess_action action);

#endif
