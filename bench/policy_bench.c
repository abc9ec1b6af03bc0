// SPDX-License-Identifier: GPL-2.0
/*
 * policy_bench: copies whose destination is written all over, in a plain
 * program, to be run with and without LD_PRELOAD=libzio.so. Deferring such
 * a copy only adds a fault per page; libzio's policy must notice (from the
 * module's copy records) and send that call site's copies to memcpy().
 *
 *   policy_bench fresh SIZE ITERS   malloc, memcpy, write, free per iteration
 *   policy_bench reuse SIZE ITERS   one destination buffer, memcpy + write
 *
 * "Write" is one store to every page of the destination. WARMUP
 * iterations run first, untimed (the policy learns there); then ITERS
 * iterations are timed. Prints the mean ns per iteration. Exits non-zero
 * when the last destination is not the source with the stores applied.
 * Build with -fno-builtin: memcpy() must be a real call.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE	4096UL
#define WARMUP	64

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* One call site for the policy. */
static __attribute__((noinline)) void copy_and_write(unsigned char *dst,
						     const unsigned char *src,
						     size_t size)
{
	memcpy(dst, src, size);
	for (size_t off = 0; off < size; off += PAGE)
		dst[off] ^= 0xff;
}

int main(int argc, char **argv)
{
	unsigned char *src, *dst = NULL;
	size_t size;
	long iters;
	int fresh;
	uint64_t t0 = 0;

	if (argc != 4 || (strcmp(argv[1], "fresh") && strcmp(argv[1], "reuse"))) {
		fprintf(stderr, "usage: policy_bench fresh|reuse SIZE ITERS\n");
		return 2;
	}
	fresh = !strcmp(argv[1], "fresh");
	size = strtoul(argv[2], NULL, 0);
	iters = atol(argv[3]);
	src = malloc(size);
	if (!src)
		return 1;
	for (size_t i = 0; i < size; i++)
		src[i] = (unsigned char)(i * 7 + (i >> 12));

	for (long i = -WARMUP; i < iters; i++) {
		if (i == 0)
			t0 = now_ns();
		if (fresh || !dst) {
			free(dst);
			dst = malloc(size);
			if (!dst)
				return 1;
		}
		copy_and_write(dst, src, size);
		__asm__ volatile("" ::: "memory");
	}
	printf("%.0f\n", (double)(now_ns() - t0) / iters);

	for (size_t i = 0; i < size; i++) {
		unsigned char want = (unsigned char)(i * 7 + (i >> 12));

		if (i % PAGE == 0)
			want ^= 0xff;
		if (dst[i] != want) {
			fprintf(stderr, "policy_bench: byte %zu differs\n", i);
			return 1;
		}
	}
	return 0;
}
