/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What zio_libcheck and zio_iocheck share: programs that libzio_test runs
 * under LD_PRELOAD, one check per subcommand, linked with -lzio for the
 * library's counters.
 *
 * Exit status: 0 pass, 1 fail (reason on stderr), 4 skip.
 */
#ifndef LIBZIO_CHECK_H
#define LIBZIO_CHECK_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libzio.h>

#define KiB (1UL << 10)
#define MiB (1UL << 20)

#define CHECK(cond) do {							\
	if (!(cond)) {								\
		fprintf(stderr, "%s: %s:%d: %s (errno %d)\n",			\
			program_invocation_short_name, __func__, __LINE__,	\
			#cond, errno);						\
		exit(1);							\
	}									\
} while (0)

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
			fprintf(stderr, "%s: byte %zu of %zu differs\n",
				program_invocation_short_name, i, n);
			return false;
		}
	return true;
}

static inline struct zio_lib_stats stats(void)
{
	struct zio_lib_stats st;

	CHECK(zio_lib_stats(&st) == 0);
	return st;
}

struct check_cmd {
	const char *name;
	int (*fn)(void);
};

/* Run the subcommand argv[1] of @cmds. */
static inline int check_main(int argc, char **argv, const struct check_cmd *cmds,
			     size_t n)
{
	if (argc == 2)
		for (size_t i = 0; i < n; i++)
			if (!strcmp(argv[1], cmds[i].name))
				return cmds[i].fn();
	fprintf(stderr, "usage: %s COMMAND\n", program_invocation_short_name);
	return 2;
}

#endif /* LIBZIO_CHECK_H */
