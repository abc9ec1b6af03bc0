// SPDX-License-Identifier: GPL-2.0
/*
 * copy_bench: the cost of a zio copy against memcpy(), in one process,
 * through the explicit ioctl path (ZIO_IOC_COPY, no library, no policy).
 *
 * For each size (4 KiB to 4 MiB, times 4) and each case, ROUNDS rounds; a
 * round times the libc variant and the zio variant back to back and gives
 * one ratio zio/libc. Each variant is the sum of REPS(size) individually
 * timed operations, so that small sizes are not lost in the clock.
 *
 *   read0        copy, nothing touched afterwards
 *   read10       copy, then one read of 10% of the destination pages
 *   read50       ... 50% of the pages
 *   read100      ... every page
 *   write100     copy, then one write to every destination page: the
 *                ioctl without the library's policy, for reference (the
 *                policy's figure comes from policy_bench)
 *   over0        copy over a destination that holds the previous copy
 *                (from the other of two sources; not discarded, not
 *                mapped), nothing touched: a buffer reused, as in a chain
 *
 * libc: memcpy() between two faulted-in anonymous buffers, then the same
 * touches. zio: ZIO_IOC_COPY between two page-aligned buffers of one zio
 * mapping, the destination discarded before each operation (nothing mapped
 * there), then the touches. The first round of each case is checked byte
 * for byte.
 *
 * Prints CSV: size,case,libc_ns,zio_ns,ratio,ratio_min,ratio_max
 * (ns: medians of one operation; ratio: median of the rounds' zio/libc).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/zio.h>

#define ROUNDS		31
#define MIN_SIZE	(4UL << 10)
#define MAX_SIZE	(4UL << 20)
#define PAGE		4096UL
/* Bytes copied per sample: small sizes repeat the operation. */
#define SAMPLE_BYTES	(1UL << 20)

static int zio_fd;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void die(const char *what)
{
	fprintf(stderr, "copy_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void zio_copy(void *dst, const void *src, size_t len)
{
	struct zio_copy c = {
		.dst = (uintptr_t)dst, .src = (uintptr_t)src, .len = len,
	};

	if (ioctl(zio_fd, ZIO_IOC_COPY, &c))
		die("ZIO_IOC_COPY");
	if (c.bytes_deferred + c.bytes_copied != len) {
		fprintf(stderr, "copy_bench: short copy\n");
		exit(1);
	}
}

static void zio_discard(void *addr, size_t len)
{
	struct zio_range r = { .addr = (uintptr_t)addr, .len = len };

	if (ioctl(zio_fd, ZIO_IOC_DISCARD, &r))
		die("ZIO_IOC_DISCARD");
}

static volatile unsigned char sink;

/*
 * Touch @pct percent of the pages of [@p, @p + @len), spread evenly (at
 * least one page when @pct > 0): one read, or one write, per page.
 */
static void touch(unsigned char *p, size_t len, int pct, int write)
{
	size_t pages = len / PAGE, k = (pages * pct + 99) / 100;

	for (size_t j = 0; j < k; j++) {
		size_t off = j * pages / k * PAGE;

		if (write)
			p[off] = (unsigned char)(j + 1);
		else
			sink += p[off];
	}
}

static void check(const unsigned char *got, const unsigned char *want,
		  size_t len, const char *what)
{
	if (memcmp(got, want, len)) {
		fprintf(stderr, "copy_bench: %s: data mismatch\n", what);
		exit(1);
	}
}

struct bench_case {
	const char *name;
	int pct;
	int write;
	int keep;	/* do not discard the destination first */
};

static const struct bench_case cases[] = {
	{ "read0", 0, 0, 0 },
	{ "read10", 10, 0, 0 },
	{ "read50", 50, 0, 0 },
	{ "read100", 100, 0, 0 },
	{ "write100", 100, 1, 0 },
	{ "over0", 0, 0, 1 },
};

#define NR_CASES (sizeof(cases) / sizeof(cases[0]))

static unsigned char *asrc, *adst, *zsrc, *zdst, *asrc2, *zsrc2;

/* One sample: @reps operations of @size, each timed; ns per operation. */
static double sample(const struct bench_case *c, size_t size, int reps,
		       int use_zio, int verify)
{
	uint64_t sum = 0;

	/* keep: even number of operations, the last from the first source. */
	if (c->keep)
		reps += reps & 1;
	for (int i = 0; i < reps; i++) {
		int other = c->keep && !(i & 1);
		uint64_t t0;

		if (use_zio) {
			if (!c->keep)
				zio_discard(zdst, size);
			t0 = now_ns();
			zio_copy(zdst, other ? zsrc2 : zsrc, size);
			touch(zdst, size, c->pct, c->write);
		} else {
			if (!c->keep)
				memset(adst, 0, size);
			t0 = now_ns();
			memcpy(adst, other ? asrc2 : asrc, size);
			touch(adst, size, c->pct, c->write);
		}
		sum += now_ns() - t0;
	}
	if (verify && use_zio) {
		/* adst holds the libc result of the same case. */
		check(zdst, adst, size, c->name);
		check(zsrc, asrc, size, "source");
	}
	return (double)sum / reps;
}

int main(void)
{
	printf("size,case,libc_ns,zio_ns,ratio,ratio_min,ratio_max\n");

	zio_fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (zio_fd < 0)
		die(ZIO_DEVICE_PATH);
	asrc = mmap(NULL, 3 * MAX_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	zsrc = mmap(NULL, 3 * MAX_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		    zio_fd, 0);
	if (asrc == MAP_FAILED || zsrc == MAP_FAILED)
		die("mmap");
	adst = asrc + MAX_SIZE;
	zdst = zsrc + MAX_SIZE;
	asrc2 = asrc + 2 * MAX_SIZE;
	zsrc2 = zsrc + 2 * MAX_SIZE;
	srand(7);
	for (size_t i = 0; i < MAX_SIZE; i++) {
		asrc[i] = zsrc[i] = (unsigned char)(rand() >> 7);
		asrc2[i] = zsrc2[i] = (unsigned char)(rand() >> 7);
	}

	for (size_t size = MIN_SIZE; size <= MAX_SIZE; size *= 4) {
		int reps = size >= SAMPLE_BYTES ? 1 : SAMPLE_BYTES / size;

		for (size_t k = 0; k < NR_CASES; k++) {
			double ratio[ROUNDS];
			double tl[ROUNDS], tz[ROUNDS];

			for (int r = 0; r < ROUNDS; r++) {
				tl[r] = sample(&cases[k], size, reps, 0, 0);
				tz[r] = sample(&cases[k], size, reps, 1, r == 0);
				ratio[r] = tz[r] / tl[r];
			}
			qsort(ratio, ROUNDS, sizeof(double), cmp_double);
			qsort(tl, ROUNDS, sizeof(double), cmp_double);
			qsort(tz, ROUNDS, sizeof(double), cmp_double);
			printf("%zu,%s,%.0f,%.0f,%.3f,%.3f,%.3f\n", size,
			       cases[k].name, tl[ROUNDS / 2], tz[ROUNDS / 2],
			       ratio[ROUNDS / 2], ratio[0], ratio[ROUNDS - 1]);
			fflush(stdout);
		}
	}
	return 0;
}
