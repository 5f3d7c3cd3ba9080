#define _GNU_SOURCE /* memmem */
/* The generated schema table, and sealing with data keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "boussole/check.h"
#include "boussole/crypto.h"
#include "boussole/err.h"
#include "boussole/schema.h"
#include "boussole/service.h"

static const bsl_method_info *method(const char *name)
{
    return bsl_schema_method(name, strlen(name));
}

static void schema_facts_come_from_the_protos(void **state)
{
    (void)state;
    const bsl_method_info *m = method("boussole.v1.SessionService/GetBilan");
    assert_non_null(m);
    assert_int_equal(m->idempotency, BSL_IDEMPOTENCY_NO_SIDE_EFFECTS);
    assert_false(m->internal);
    assert_string_equal(m->service_name, "boussole.v1.SessionService");
    assert_string_equal(m->service->methods[m->index].name, "GetBilan");
    assert_non_null(strstr(m->comment, "Reads a bilan"));

    m = method("boussole.v1.SessionService/CreateBilan");
    assert_int_equal(m->idempotency, BSL_IDEMPOTENCY_UNKNOWN);
    assert_false(bsl_method_retry_safe(m));
    m = method("boussole.v1.SessionService/GetBilanAccess");
    assert_true(m->internal);
    m = method("boussole.v1.Health/Check");
    assert_true(m->anonymous);
    assert_null(method("boussole.v1.SessionService/GetBilanX"));
    assert_null(method("boussole.v1.SessionService/GetBila"));
    assert_null(method(""));
    /* Length-bounded lookup: the name need not be NUL-terminated. */
    const char *path = "boussole.v1.Health/Check?x=1";
    assert_non_null(bsl_schema_method(path, strlen("boussole.v1.Health/Check")));

    size_t n;
    const bsl_service_info *s = bsl_schema_services(&n);
    assert_true(n >= 3);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < s[i].n_methods; k++) {
            assert_string_equal(s[i].methods[k].service_name, s[i].name);
            assert_ptr_equal(bsl_schema_method_of(s[i].descriptor, s[i].methods[k].index),
                             &s[i].methods[k]);
        }
    }
    assert_non_null(bsl_schema_comment("boussole.v1.Bilan.planned_hours"));
    assert_null(bsl_schema_comment("boussole.v1.Bilan.nope"));
}

static void keyring_parsing(void **state)
{
    (void)state;
    bsl_keyring *kr;
    char err[256];
    const char *good = "k2:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=,"
                       "k1:ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";
    assert_int_equal(bsl_keyring_create(&kr, NULL, good, NULL, 0, err, sizeof(err)), BSL_OK);
    unsigned char a[32], b[32];
    bsl_keyring_derive(kr, 1, "replycch", a);
    bsl_keyring_derive(kr, 2, "replycch", b);
    assert_memory_not_equal(a, b, 32);
    bsl_keyring_free(kr);

    const char *secret = "k1:bm90IDMyIGJ5dGVz"; /* base64 of "not 32 bytes" */
    assert_int_equal(bsl_keyring_create(&kr, NULL, secret, NULL, 0, err, sizeof(err)), BSL_EINVAL);
    assert_null(strstr(err, "bm90IDMyIGJ5dGVz")); /* the key is never echoed */
    assert_int_equal(bsl_keyring_create(&kr, NULL, "", NULL, 0, err, sizeof(err)), BSL_EINVAL);
    assert_int_equal(bsl_keyring_create(&kr, NULL, "bad id:MDEy", NULL, 0, err, sizeof(err)),
                     BSL_EINVAL);
    assert_int_equal(bsl_keyring_create(&kr, NULL, "@/nonexistent/keys", NULL, 0, err, sizeof(err)),
                     BSL_EINVAL);
}

static void seal_and_open(void **state)
{
    (void)state;
    bsl_dek dek, other;
    randombytes_buf(&dek, sizeof(dek));
    randombytes_buf(&other, sizeof(other));
    const char *plain = "Je veux changer de métier et travailler dehors.";
    size_t len = strlen(plain);
    unsigned char sealed[256];
    bsl_seal(&dek, "bilanX/intake/situation", plain, len, sealed);
    assert_null(memmem(sealed, bsl_seal_size(len), "métier", strlen("métier")));
    char out[256];
    size_t n;
    assert_int_equal(bsl_open(&dek, "bilanX/intake/situation", sealed, bsl_seal_size(len), out, &n),
                     BSL_OK);
    assert_int_equal(n, len);
    assert_string_equal(out, plain);
    /* Another place, another key, a flipped bit, a cut: none opens. */
    assert_int_equal(bsl_open(&dek, "bilanY/intake/situation", sealed, bsl_seal_size(len), out, &n),
                     BSL_ECRYPTO);
    assert_int_equal(
        bsl_open(&other, "bilanX/intake/situation", sealed, bsl_seal_size(len), out, &n),
        BSL_ECRYPTO);
    sealed[40] ^= 1;
    assert_int_equal(bsl_open(&dek, "bilanX/intake/situation", sealed, bsl_seal_size(len), out, &n),
                     BSL_ECRYPTO);
    sealed[40] ^= 1;
    assert_int_equal(bsl_open(&dek, "bilanX/intake/situation", sealed, 20, out, &n), BSL_ECRYPTO);
    /* Two seals of the same text differ (fresh nonces). */
    unsigned char again[256];
    bsl_seal(&dek, "bilanX/intake/situation", plain, len, again);
    assert_memory_not_equal(sealed, again, bsl_seal_size(len));
}

static void field_checks(void **state)
{
    (void)state;
    bsl_check c = bsl_check_begin(NULL);
    assert_true(bsl_check_text(&c, "t", "Élodie", 1, 6));
    assert_false(bsl_check_text(&c, "t", "Élodie!", 1, 6));
    assert_false(bsl_check_text(&c, "t", "", 1, 6));
    assert_false(bsl_check_text(&c, "t", "a\x01", 0, 6));
    assert_true(bsl_check_text(&c, "t", "a\nb\tc", 0, 6));
    assert_false(bsl_check_url(&c, "u", "javascript:alert(1)", 100, false));
    assert_true(bsl_check_url(&c, "u", "https://www.onisep.fr/metiers", 100, false));
    long d;
    assert_true(bsl_check_date(&c, "d", "", true, &d));
    assert_int_equal(d, -1);
    assert_false(bsl_check_date(&c, "d", "2026-02-30", false, &d));
    assert_int_equal(c.violations, 5);
    assert_string_equal(c.first, "t: at most 6 characters (got 7)");
    assert_false(bsl_check_end(&c));
}

int main(void)
{
    bsl_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(schema_facts_come_from_the_protos),
        cmocka_unit_test(keyring_parsing),
        cmocka_unit_test(seal_and_open),
        cmocka_unit_test(field_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
