/* test_log_limit.c: base/log.h kdc_log_limit, the token bucket for log
 * lines peers cause: a burst, then the rate, the dropped count handed to
 * the next line written, a clock that steps back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/log.h"

static void
test_bucket(void **state)
{
	struct kdc_log_limit l = { 0, 0, 0 };
	unsigned long dropped = 99;
	int n = 0;

	(void)state;
	/* a burst of 4 at t=100, then nothing until a token comes */
	for (int i = 0; i < 10; i++)
		n += kdc_log_limit_take(&l, 100, 2, 4, &dropped);
	assert_int_equal(n, 4);
	assert_int_equal(l.dropped, 6);
	/* one second later: 2 tokens; the first line says 6 were dropped */
	assert_int_equal(kdc_log_limit_take(&l, 101, 2, 4, &dropped), 1);
	assert_int_equal(dropped, 6);
	assert_int_equal(kdc_log_limit_take(&l, 101, 2, 4, &dropped), 1);
	assert_int_equal(dropped, 0);
	assert_int_equal(kdc_log_limit_take(&l, 101, 2, 4, &dropped), 0);
	assert_int_equal(dropped, 0);
	/* a long pause refills to the burst, not beyond */
	n = 0;
	for (int i = 0; i < 10; i++)
		n += kdc_log_limit_take(&l, 1000, 2, 4, NULL);
	assert_int_equal(n, 4);
	/* a clock that steps back starts over (full) rather than starve */
	n = 0;
	for (int i = 0; i < 10; i++)
		n += kdc_log_limit_take(&l, 50, 2, 4, &dropped);
	assert_int_equal(n, 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
