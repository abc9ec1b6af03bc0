// SPDX-License-Identifier: GPL-2.0
/*
 * copy_bench: the cost of a zio copy against memcpy(), in one process.
 *
 * For each size, the median time (over ROUNDS) of:
 *   memcpy       memcpy() between two faulted-in anonymous buffers
 *   zio          ZIO_IOC_COPY between two zio buffers, the destination
 *                discarded before each round (nothing mapped there)
 *   zio+read     the same, then one read of every destination page
 *   memcpy+read  memcpy(), then one read of every destination page
 *   zio+write    ZIO_IOC_COPY, then one write to every destination page
 * Every result is checked byte for byte. Prints CSV: size,case,ns,ratio
 * where ratio is against memcpy (and memcpy+read for zio+read).
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
#define MAX_SIZE	(4UL << 20)
#define PAGE		4096UL

static int zio_fd;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
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

static void read_pages(const unsigned char *p, size_t len)
{
	for (size_t off = 0; off < len; off += PAGE)
		sink += p[off];
}

static void write_pages(unsigned char *p, size_t len)
{
	for (size_t off = 0; off < len; off += PAGE)
		p[off] = (unsigned char)off;
}

static void check(const unsigned char *got, const unsigned char *want,
		  size_t len, const char *what)
{
	if (memcmp(got, want, len)) {
		fprintf(stderr, "copy_bench: %s: data mismatch\n", what);
		exit(1);
	}
}

enum { MEMCPY, MEMCPY_READ, ZIO, ZIO_READ, ZIO_WRITE, NR_CASES };
static const char *const case_names[NR_CASES] = {
	"memcpy", "memcpy+read", "zio", "zio+read", "zio+write",
};

int main(int argc, char **argv)
{
	unsigned char *asrc, *adst, *zsrc, *zdst;
	size_t size, min = PAGE, max = MAX_SIZE;
	uint64_t t[NR_CASES][ROUNDS], med[NR_CASES];

	if (argc == 3) {
		min = strtoul(argv[1], NULL, 0);
		max = strtoul(argv[2], NULL, 0);
	}
	zio_fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (zio_fd < 0)
		die(ZIO_DEVICE_PATH);

	asrc = mmap(NULL, 2 * MAX_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	zsrc = mmap(NULL, 2 * MAX_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		    zio_fd, 0);
	if (asrc == MAP_FAILED || zsrc == MAP_FAILED)
		die("mmap");
	adst = asrc + MAX_SIZE;
	zdst = zsrc + MAX_SIZE;
	for (size_t i = 0; i < MAX_SIZE; i++)
		asrc[i] = zsrc[i] = (unsigned char)(rand() >> 7);

	printf("size,case,ns,ratio\n");
	for (size = min; size <= max; size *= 2) {
		for (int r = 0; r < ROUNDS; r++) {
			uint64_t t0;

			memset(adst, 0, size);
			t0 = now_ns();
			memcpy(adst, asrc, size);
			t[MEMCPY][r] = now_ns() - t0;

			memset(adst, 0, size);
			t0 = now_ns();
			memcpy(adst, asrc, size);
			read_pages(adst, size);
			t[MEMCPY_READ][r] = now_ns() - t0;

			zio_discard(zdst, size);
			t0 = now_ns();
			zio_copy(zdst, zsrc, size);
			t[ZIO][r] = now_ns() - t0;
			check(zdst, asrc, size, "zio");

			zio_discard(zdst, size);
			t0 = now_ns();
			zio_copy(zdst, zsrc, size);
			read_pages(zdst, size);
			t[ZIO_READ][r] = now_ns() - t0;
			check(zdst, asrc, size, "zio+read");

			zio_discard(zdst, size);
			t0 = now_ns();
			zio_copy(zdst, zsrc, size);
			write_pages(zdst, size);
			t[ZIO_WRITE][r] = now_ns() - t0;
			write_pages(adst, size);
			check(zdst, adst, size, "zio+write");
			check(zsrc, asrc, size, "zio+write source");
		}
		for (int k = 0; k < NR_CASES; k++)
			med[k] = median(t[k], ROUNDS);
		for (int k = 0; k < NR_CASES; k++) {
			uint64_t base = k == ZIO_READ || k == MEMCPY_READ ?
					med[MEMCPY_READ] : med[MEMCPY];

			printf("%zu,%s,%llu,%.2f\n", size, case_names[k],
			       (unsigned long long)med[k], (double)med[k] / base);
		}
	}
	return 0;
}
