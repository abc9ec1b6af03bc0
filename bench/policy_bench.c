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
 * iterations are timed in BLOCKS blocks. Prints the median block's ns per
 * iteration: a burst of the host's other load spoils one block, not the
 * figure. Exits non-zero when the last destination is not the source with
 * the stores applied.
 * Build with -fno-builtin: memcpy() must be a real call.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE	4096UL
#define WARMUP	64
#define BLOCKS	7

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

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
	uint64_t t0 = 0, block[BLOCKS];
	long per_block;

	if (argc != 4 || (strcmp(argv[1], "fresh") && strcmp(argv[1], "reuse"))) {
		fprintf(stderr, "usage: policy_bench fresh|reuse SIZE ITERS\n");
		return 2;
	}
	fresh = !strcmp(argv[1], "fresh");
	size = strtoul(argv[2], NULL, 0);
	iters = atol(argv[3]);
	per_block = iters / BLOCKS > 0 ? iters / BLOCKS : 1;
	iters = per_block * BLOCKS;
	src = malloc(size);
	if (!src)
		return 1;
	for (size_t i = 0; i < size; i++)
		src[i] = (unsigned char)(i * 7 + (i >> 12));

	for (long i = -WARMUP; i < iters; i++) {
		if (i >= 0 && i % per_block == 0) {
			uint64_t t = now_ns();

			if (i)
				block[i / per_block - 1] = t - t0;
			t0 = t;
		}
		if (fresh || !dst) {
			free(dst);
			dst = malloc(size);
			if (!dst)
				return 1;
		}
		copy_and_write(dst, src, size);
		__asm__ volatile("" ::: "memory");
	}
	block[BLOCKS - 1] = now_ns() - t0;
	qsort(block, BLOCKS, sizeof(block[0]), cmp_u64);
	printf("%.0f\n", (double)block[BLOCKS / 2] / per_block);

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
