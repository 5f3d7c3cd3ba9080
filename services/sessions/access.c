/* The permission matrix (see access.h and services/sessions/README.md). */
#include "access.h"

#include <string.h>

#define B SESS_REL_BENEFICIARY
#define C SESS_REL_COUNSELOR
#define A SESS_REL_ADMIN
#define S SESS_REL_SERVICE

/* An administrator manages the bilan and reads its administrative side; the intake, the notes,
 * the experiences and the leads are the beneficiary's life and are never theirs to read. A
 * service reads what it needs through the internal methods; among the public ones it may read
 * a bilan and export a beneficiary's data. */
static const struct {
    unsigned allowed;
    const char *name;
} matrix[SESS_ACT_COUNT] = {
    [SESS_ACT_GET_BILAN] = { B | C | A | S, "read the bilan" },
    [SESS_ACT_UPDATE_BILAN] = { C | A, "update the bilan" },
    [SESS_ACT_CANCEL_BILAN] = { C | A, "cancel the bilan" },
    [SESS_ACT_REASSIGN] = { A, "reassign the counselor" },
    [SESS_ACT_ADVANCE_PHASE] = { C, "change the phase" },
    [SESS_ACT_READ_HISTORY] = { B | C | A, "read the phase history" },
    [SESS_ACT_PROPOSE_AGREEMENT] = { C | A, "propose the agreement" },
    [SESS_ACT_RESPOND_AGREEMENT] = { B, "answer the agreement" },
    [SESS_ACT_READ_AGREEMENT] = { B | C | A, "read the agreement" },
    [SESS_ACT_WRITE_INTAKE] = { B | C, "record the intake" },
    [SESS_ACT_READ_INTAKE] = { B | C, "read the intake" },
    [SESS_ACT_WRITE_ROADMAP] = { C, "set the roadmap" },
    [SESS_ACT_READ_ROADMAP] = { B | C | A, "read the roadmap" },
    [SESS_ACT_MANAGE_MEETINGS] = { C, "schedule meetings" },
    [SESS_ACT_CONFIRM_ATTENDANCE] = { B | C, "confirm attendance" },
    [SESS_ACT_WRITE_SHARED_NOTES] = { C, "write meeting notes" },
    [SESS_ACT_READ_MEETINGS] = { B | C | A, "read the meetings" },
    [SESS_ACT_PRIVATE_NOTES] = { C, "use the counselor's private notes" },
    [SESS_ACT_WRITE_HOURS] = { C, "record accompanied time" },
    [SESS_ACT_READ_HOURS] = { B | C | A, "read the hours ledger" },
    [SESS_ACT_WRITE_EXPERIENCES] = { B | C, "edit the experiences" },
    [SESS_ACT_READ_EXPERIENCES] = { B | C, "read the experiences" },
    [SESS_ACT_WRITE_LEADS] = { B | C, "edit the career leads" },
    [SESS_ACT_READ_LEADS] = { B | C, "read the career leads" },
    [SESS_ACT_EXPORT] = { B | S, "export the beneficiary's data" },
};

#undef B
#undef C
#undef A
#undef S

static bool same(const char *a, const char *b)
{
    return a != NULL && b != NULL && a[0] != '\0' && strcmp(a, b) == 0;
}

sess_relation sess_relation_of(const Boussole__V1__Caller *c, const sess_bilan *b)
{
    switch (c->role) {
    case BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY:
        return same(c->subject, b->beneficiary) ? SESS_REL_BENEFICIARY : SESS_REL_NONE;
    case BOUSSOLE__V1__ROLE__ROLE_COUNSELOR:
        return same(c->subject, b->counselor) ? SESS_REL_COUNSELOR : SESS_REL_NONE;
    case BOUSSOLE__V1__ROLE__ROLE_ADMIN:
        return same(c->organisation, b->organisation) ? SESS_REL_ADMIN : SESS_REL_NONE;
    case BOUSSOLE__V1__ROLE__ROLE_SERVICE:
        return SESS_REL_SERVICE;
    default:
        /* Third parties hold grants in the syntheses service, not here. */
        return SESS_REL_NONE;
    }
}

unsigned sess_allowed(sess_action action)
{
    return (unsigned)action < SESS_ACT_COUNT ? matrix[action].allowed : 0;
}

bsl_status sess_access(const Boussole__V1__Caller *c, const sess_bilan *b, sess_action action)
{
    sess_relation rel = sess_relation_of(c, b);
    if (rel == SESS_REL_NONE) {
        return BSL_STATUS_NOT_FOUND;
    }
    return (sess_allowed(action) & (unsigned)rel) ? BSL_STATUS_OK : BSL_STATUS_PERMISSION_DENIED;
}

const char *sess_action_name(sess_action action)
{
    return (unsigned)action < SESS_ACT_COUNT ? matrix[action].name : "do this";
}
