/* The permission matrix of questionnaires.h, cell by cell (the integration test checks the
 * same matrix through the real processes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "questionnaires.h"

#define OK  BSL_STATUS_OK
#define PD  BSL_STATUS_PERMISSION_DENIED
#define NF  BSL_STATUS_NOT_FOUND
#define BEN BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY
#define COU BOUSSOLE__V1__ROLE__ROLE_COUNSELOR
#define ADM BOUSSOLE__V1__ROLE__ROLE_ADMIN

static void matrix(void **state)
{
    (void)state;
    qn_access a;
    memset(&a, 0, sizeof(a));
    snprintf(a.beneficiary, sizeof(a.beneficiary), "b-lea");
    snprintf(a.counselor, sizeof(a.counselor), "c-marie");
    snprintf(a.organisation, sizeof(a.organisation), "org-1");
    struct {
        Boussole__V1__Role role;
        const char *subject, *org;
    } callers[] = {
        { BEN, "b-lea", "" },        /* the beneficiary */
        { COU, "c-marie", "org-1" }, /* their counselor */
        { ADM, "a-1", "org-1" },     /* an admin of the organisation */
        { BEN, "b-other", "" },      /* another beneficiary */
        { COU, "c-other", "org-1" }, /* another counselor of the same organisation */
        { ADM, "a-2", "org-2" },     /* an admin of another organisation */
        { COU, "b-lea", "org-1" },   /* the beneficiary's subject with another role */
        { BOUSSOLE__V1__ROLE__ROLE_THIRD_PARTY, "t-1", "" },
        { BOUSSOLE__V1__ROLE__ROLE_SERVICE, "syntheses", "" },
    };
    static const qn_action actions[] = { QN_READ_META, QN_ASSIGN, QN_ANSWER,       QN_READ_ANSWERS,
                                         QN_MANAGE,    QN_INVITE, QN_READ_FEEDBACK };
    /* Rows: callers; columns: actions in the order above. */
    static const bsl_status want[9][7] = {
        { OK, PD, OK, OK, PD, OK, OK }, { OK, OK, PD, OK, OK, PD, OK },
        { OK, PD, PD, PD, PD, PD, PD }, { NF, NF, NF, NF, NF, NF, NF },
        { NF, NF, NF, NF, NF, NF, NF }, { NF, NF, NF, NF, NF, NF, NF },
        { NF, NF, NF, NF, NF, NF, NF }, { NF, NF, NF, NF, NF, NF, NF },
        { NF, NF, NF, NF, NF, NF, NF },
    };
    for (size_t r = 0; r < 9; r++) {
        Boussole__V1__Caller c = BOUSSOLE__V1__CALLER__INIT;
        c.role = callers[r].role;
        c.subject = (char *)callers[r].subject;
        c.organisation = (char *)callers[r].org;
        for (size_t k = 0; k < 7; k++) {
            bsl_status got = qn_permit(&c, &a, actions[k]);
            if (got != want[r][k]) {
                fail_msg("caller %zu, action %zu: want %d, got %d", r, k, want[r][k], got);
            }
        }
    }
    /* An admin without an organisation is nobody's admin. */
    snprintf(a.organisation, sizeof(a.organisation), "%s", "");
    Boussole__V1__Caller c = BOUSSOLE__V1__CALLER__INIT;
    c.role = ADM;
    c.subject = "a-1";
    c.organisation = "";
    assert_int_equal(qn_permit(&c, &a, QN_READ_META), NF);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matrix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
