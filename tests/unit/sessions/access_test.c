/* The permission matrix as a table (services/sessions/access.c): relations and decisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "access.h"

static sess_bilan bilan(void)
{
    sess_bilan b;
    memset(&b, 0, sizeof(b));
    b.beneficiary = "b-lea";
    b.counselor = "c-marie";
    b.organisation = "org-lumiere";
    return b;
}

static Boussole__V1__Caller caller(Boussole__V1__Role role, const char *subject, const char *org)
{
    Boussole__V1__Caller c = BOUSSOLE__V1__CALLER__INIT;
    c.role = role;
    c.subject = (char *)subject;
    c.organisation = (char *)org;
    return c;
}

static void relations(void **state)
{
    (void)state;
    sess_bilan b = bilan();
    Boussole__V1__Caller c = caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "b-lea", "");
    assert_int_equal(sess_relation_of(&c, &b), SESS_REL_BENEFICIARY);
    c = caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "c-marie", "");
    assert_int_equal(sess_relation_of(&c, &b), SESS_REL_NONE);
    /* A counselor is not the beneficiary even with the same subject, and vice versa. */
    c = caller(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "b-lea", "org-lumiere");
    assert_int_equal(sess_relation_of(&c, &b), SESS_REL_NONE);
    c = caller(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "c-marie", "org-autre");
    assert_int_equal(sess_relation_of(&c, &b), SESS_REL_COUNSELOR);
    c = caller(BOUSSOLE__V1__ROLE__ROLE_ADMIN, "a-paul", "org-lumiere");
    assert_int_equal(sess_relation_of(&c, &b), SESS_REL_ADMIN);
    c = caller(BOUSSOLE__V1__ROLE__ROLE_ADMIN, "a-paul", "");
    assert_int_equal(sess_relation_of(&c, &b), SESS_REL_NONE);
    c = caller(BOUSSOLE__V1__ROLE__ROLE_THIRD_PARTY, "b-lea", "org-lumiere");
    assert_int_equal(sess_relation_of(&c, &b), SESS_REL_NONE);
    c = caller(BOUSSOLE__V1__ROLE__ROLE_SERVICE, "syntheses", "");
    assert_int_equal(sess_relation_of(&c, &b), SESS_REL_SERVICE);
}

static void decisions(void **state)
{
    (void)state;
    sess_bilan b = bilan();
    Boussole__V1__Caller ben = caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "b-lea", "");
    Boussole__V1__Caller adm = caller(BOUSSOLE__V1__ROLE__ROLE_ADMIN, "a", "org-lumiere");
    Boussole__V1__Caller other = caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "b-x", "");
    /* No relation: NOT_FOUND whatever the action. */
    for (int a = 0; a < SESS_ACT_COUNT; a++) {
        assert_int_equal(sess_access(&other, &b, (sess_action)a), BSL_STATUS_NOT_FOUND);
    }
    /* The administrator never reads the beneficiary's life. */
    assert_int_equal(sess_access(&adm, &b, SESS_ACT_READ_INTAKE), BSL_STATUS_PERMISSION_DENIED);
    assert_int_equal(sess_access(&adm, &b, SESS_ACT_PRIVATE_NOTES), BSL_STATUS_PERMISSION_DENIED);
    assert_int_equal(sess_access(&adm, &b, SESS_ACT_READ_EXPERIENCES),
                     BSL_STATUS_PERMISSION_DENIED);
    assert_int_equal(sess_access(&adm, &b, SESS_ACT_READ_LEADS), BSL_STATUS_PERMISSION_DENIED);
    assert_int_equal(sess_access(&adm, &b, SESS_ACT_REASSIGN), BSL_STATUS_OK);
    /* The beneficiary edits what is theirs, nothing of the counselor's. */
    assert_int_equal(sess_access(&ben, &b, SESS_ACT_WRITE_INTAKE), BSL_STATUS_OK);
    assert_int_equal(sess_access(&ben, &b, SESS_ACT_CONFIRM_ATTENDANCE), BSL_STATUS_OK);
    assert_int_equal(sess_access(&ben, &b, SESS_ACT_WRITE_ROADMAP), BSL_STATUS_PERMISSION_DENIED);
    assert_int_equal(sess_access(&ben, &b, SESS_ACT_PRIVATE_NOTES), BSL_STATUS_PERMISSION_DENIED);
    /* Every action has a row; the private notes are the counselor's alone. */
    for (int a = 0; a < SESS_ACT_COUNT; a++) {
        assert_int_not_equal(sess_allowed((sess_action)a), 0);
        assert_true(strlen(sess_action_name((sess_action)a)) > 0);
    }
    assert_int_equal(sess_allowed(SESS_ACT_PRIVATE_NOTES), SESS_REL_COUNSELOR);
    assert_int_equal(sess_allowed(SESS_ACT_COUNT), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(relations),
        cmocka_unit_test(decisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
