/*
 * The library answers the version of the header it was built with, and the
 * header's three numbers are what the build says (cmake reads them there).
 */
#include "../harness.h"

static void test_version_matches_the_header(void **state)
{
    (void)state;
    assert_int_equal(weft_version(),
                     WEFT_VERSION_MAJOR * 10000 + WEFT_VERSION_MINOR * 100 + WEFT_VERSION_PATCH);
    assert_true(WEFT_VERSION_MINOR < 100 && WEFT_VERSION_PATCH < 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_matches_the_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
