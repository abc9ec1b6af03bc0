/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What zio_libcheck and zio_iocheck share: programs on the kselftest
 * harness that libzio_test runs under LD_PRELOAD, one check (one test of
 * the fixture "check") per process, named by the only argument, linked
 * with -lzio for the library's counters.
 *
 * Exit status: 0 pass, 1 fail, 4 skip (the check needs libzio's arena and
 * there is none).
 */
#ifndef LIBZIO_CHECK_H
#define LIBZIO_CHECK_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libzio.h>

#include "kselftest_harness.h"

#define KiB (1UL << 10)
#define MiB (1UL << 20)

/*
 * A check's time limit: below libzio_test's for the whole process, so that
 * this harness, not libzio_test's, kills a check that hangs.
 */
#define CHECK_TIMEOUT 110

FIXTURE(check) {
	int unused;
};

FIXTURE_SETUP(check)
{
}

FIXTURE_TEARDOWN(check)
{
}

/* CLOCK_MONOTONIC, in seconds. */
static inline double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/*
 * @p's address, hidden from GCC, which takes a later comparison with the
 * address for a use of @p once it is freed.
 */
static inline uintptr_t address_of(const void *p)
{
	uintptr_t addr;

	__asm__("" : "=r"(addr) : "0"((uintptr_t)p));
	return addr;
}

/* A pattern whose bytes depend on their position and @seed. */
static inline void fill(unsigned char *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 31 + seed + (i >> 12));
}

static inline bool same(const unsigned char *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(i * 31 + seed + (i >> 12))) {
			fprintf(stderr, "# %s: byte %zu of %zu differs\n",
				program_invocation_short_name, i, n);
			return false;
		}
	return true;
}

static inline struct zio_lib_stats stats(struct __test_metadata *_metadata)
{
	struct zio_lib_stats st;

	ASSERT_EQ(0, zio_lib_stats(&st));
	return st;
}

/*
 * Run the check argv[1] alone: skipped as a whole (ksft_exit_skip()) when
 * it is one of @need_arena (NULL-terminated) and libzio has no arena. The
 * 6.1 harness has no option to choose a test, so the other tests are taken
 * off its lists.
 */
static inline int check_main(int argc, char **argv, const char *const *need_arena)
{
	struct __fixture_metadata *f;
	struct __test_metadata *t;
	struct zio_lib_stats st;

	for (f = argc == 2 ? __fixture_list : NULL; f; f = f->next)
		for (t = f->tests; t; t = t->next) {
			if (strcmp(t->name, argv[1]))
				continue;
			for (; *need_arena; need_arena++)
				if (!strcmp(*need_arena, t->name) &&
				    (zio_lib_stats(&st) || !st.arena_bytes)) {
					ksft_print_header();
					ksft_exit_skip("no arena (module without ZIO_FEATURE_COPY?)\n");
				}
			t->next = NULL;
			t->prev = t;
			f->tests = t;
			f->next = NULL;
			f->prev = f;
			__fixture_list = f;
			return test_harness_run(argc, argv);
		}
	fprintf(stderr, "usage: %s CHECK\n", program_invocation_short_name);
	return 2;
}

#endif /* LIBZIO_CHECK_H */
