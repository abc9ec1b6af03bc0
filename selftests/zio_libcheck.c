// SPDX-License-Identifier: GPL-2.0
/*
 * zio_libcheck: targeted checks of libzio, one per subcommand, run by
 * libzio_test. Linked with -lzio, so it also exercises the explicit API
 * of <zio.h> (and the interposition that linking brings).
 *
 *   zio_libcheck CHECK
 *
 * runs the test CHECK of the kselftest harness (libzio_check.h).
 */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libzio_check.h"

/*
 * libzio's ioctls go through this one (the program's definition comes
 * first), which counts the evaluations of the policy: the ZIO_IOC_STATS
 * calls that read copy records.
 */
static unsigned long record_reads;

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (req == ZIO_IOC_STATS && ((struct zio_stats *)arg)->records_cap)
		__atomic_add_fetch(&record_reads, 1, __ATOMIC_RELAXED);
	return syscall(SYS_ioctl, fd, req, arg);
}

static void *(*volatile p_memcpy)(void *, const void *, size_t) = memcpy;
static void *(*volatile p_memmove)(void *, const void *, size_t) = memmove;

/* Does the module make runs (ZIO_FEATURE_COPY_RUNS)? */
static bool run_feature(void)
{
	struct zio_info info = { 0 };
	int fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	bool runs;

	if (fd < 0)
		return false;
	runs = !ioctl(fd, ZIO_IOC_INFO, &info) &&
	       info.features & ZIO_FEATURE_COPY_RUNS;
	close(fd);
	return runs;
}

/* Large copies between arena buffers are deferred; the data is right. */
TEST_F_TIMEOUT(check, defer, CHECK_TIMEOUT)
{
	size_t n = 8 * MiB;
	/* An arena block of 20 pages first, which large ones skip past. */
	unsigned char *small = malloc(80 << 10);
	unsigned char *a = malloc(n), *b = malloc(n);
	struct zio_lib_stats st;

	ASSERT_TRUE(small && a && b);
	memset(small, 1, 80 << 10);
	ASSERT_TRUE(zio_owns(small));
	fill(a, n, 1);
	/* The cast: GCC 12 takes zio_owns(b) for a read of unwritten bytes. */
	ASSERT_TRUE(zio_owns(a) && zio_owns((void *)(uintptr_t)b));
	ASSERT_TRUE(((uintptr_t)a & 4095) == 0);
	p_memcpy(b, a, n);
	st = stats(_metadata);
	ASSERT_TRUE(st.copies_module >= 1);
	ASSERT_TRUE(st.bytes_deferred >= n - 4096);
	/*
	 * Both blocks start at a run's boundary: every chunk went as one
	 * (where the kernel has multi-index xarrays: see zio_info's features).
	 */
	ASSERT_EQ(run_feature() ? n / (256 << 10) : 0, st.module.copy_runs);
	ASSERT_TRUE(same(b, n, 1));
	/* Writes to either side stay on that side. */
	memset(b + 3 * 4096 + 5, 0x11, 100);
	ASSERT_TRUE(same(a, n, 1));
	fill(a, n, 2);
	ASSERT_TRUE(b[0] == (unsigned char)1 && b[3 * 4096 + 5] == 0x11);
	/* Different offsets: pending copies. */
	p_memcpy(b + 100, a + 5000, n - 5000);
	ASSERT_TRUE(same(a, n, 2));
	for (size_t i = 0; i < n - 5000; i++)
		ASSERT_TRUE(b[100 + i] == (unsigned char)((i + 5000) * 31 + 2 + ((i + 5000) >> 12)));
	st = stats(_metadata);
	printf("# defer: %llu copies to the module, %llu bytes deferred, module: %llu pages shared, %llu cow, %llu materialized\n",
	       st.copies_module, st.bytes_deferred, st.module.pages_shared,
	       st.module.pages_cow, st.module.pages_materialized);
	free(a);
	free(b);
	free(small);
}

/* realloc grows and shrinks in place, or moves pages; data survives. */
TEST_F_TIMEOUT(check, realloc, CHECK_TIMEOUT)
{
	unsigned char *a, *b, *c;
	struct zio_lib_stats before, st;

	a = malloc(1 * MiB);
	fill(a, MiB, 3);
	a = realloc(a, 3 * MiB);		/* in place: nothing after it */
	ASSERT_TRUE(a && zio_owns(a) && same(a, MiB, 3));
	b = malloc(1 * MiB);			/* right after a */
	ASSERT_TRUE(b);
	memset(b, 1, MiB);
	fill(a, 3 * MiB, 4);
	a = realloc(a, 6 * MiB);		/* must move */
	ASSERT_TRUE(a && same(a, 3 * MiB, 4));
	/* The moved pages are a's alone: writing them copies none. */
	before = stats(_metadata);
	memset(a, 5, 3 * MiB);
	st = stats(_metadata);
	ASSERT_TRUE(st.module.pages_cow == before.module.pages_cow);
	fill(a, 3 * MiB, 4);
	printf("# realloc: %llu in place, %llu moved\n", st.realloc_in_place, st.realloc_moved);
	ASSERT_TRUE(st.realloc_moved >= 1 && st.realloc_in_place >= 1);
	a = realloc(a, 2 * MiB + 17);		/* shrink in place */
	ASSERT_TRUE(same(a, 2 * MiB + 17, 4));
	ASSERT_TRUE(malloc_usable_size(a) == 2 * MiB + 4096);
	c = realloc(a, 100);			/* to the next allocator */
	ASSERT_TRUE(c && !zio_owns(c) && same(c, 100, 4));
	c = realloc(c, 2 * MiB);		/* and back to the arena */
	ASSERT_TRUE(c && zio_owns(c) && same(c, 100, 4));
	ASSERT_TRUE(b[MiB - 1] == 1);
	free(c);
	free(b);
}

/* calloc of recycled arena pages reads zero. */
TEST_F_TIMEOUT(check, calloc, CHECK_TIMEOUT)
{
	for (int round = 0; round < 20; round++) {
		size_t n = (round + 1) * 256 * 1024;
		unsigned char *a = malloc(n), *z;

		ASSERT_TRUE(a);
		memset(a, 0xff, n);
		free(a);
		z = calloc(1, n);
		ASSERT_TRUE(z);
		for (size_t i = 0; i < n; i++)
			ASSERT_TRUE(z[i] == 0);
		free(z);
	}
}

/*
 * A small block freed (the stash) comes back at the next malloc() of its
 * size, counted as recycled and not as used in between; calloc() of that
 * size gets zeros all the same.
 */
TEST_F_TIMEOUT(check, arena_stash, CHECK_TIMEOUT)
{
	size_t n = 64 << 10;
	unsigned char *a = malloc(n), *b, *c;
	struct zio_lib_stats before, st;
	unsigned long long used;
	size_t nonzero = 0;

	ASSERT_TRUE(a);
	memset(a, 5, n);
	ASSERT_TRUE(zio_owns(a));
	used = stats(_metadata).arena_used;
	free(a);
	before = stats(_metadata);
	ASSERT_TRUE(before.arena_used + n == used);
	b = malloc(n);
	ASSERT_TRUE(b == a);
	st = stats(_metadata);
	ASSERT_TRUE(st.arena_used == used);
	ASSERT_TRUE(st.arena_recycled == before.arena_recycled + 1);
	ASSERT_TRUE(b[0] == 5 && b[n - 1] == 5);
	free(b);
	c = calloc(1, n);
	ASSERT_TRUE(c && zio_owns(c));
	for (size_t i = 0; i < n; i++)
		nonzero += c[i] != 0;
	ASSERT_TRUE(nonzero == 0);
	free(c);
}

/*
 * The stash under threads (run with ZIO_THRESHOLD=4096): four threads
 * malloc(), calloc() and realloc() blocks of 1 to 16 pages, half of them
 * of one size (they contend for the stash), and free them. Each block is
 * filled with a pattern of its thread and round, with the owner's tag in
 * its first and last words, checked after a sched_yield() and before the
 * free: a block handed to two owners at once, or whose pages were given
 * away under it, shows. calloc() reads zero, whatever another thread just
 * freed; and when all is freed, no block is left in use. Each thread does
 * STASH_ROUNDS rounds, or what STASH_SECONDS allow on a slow kernel.
 */
#define STASH_THREADS	4
#define STASH_ROUNDS	20000
#define STASH_SECONDS	20
#define STASH_ROUNDS_MIN	500

struct stash_thread {
	unsigned int id;
	double end;
	unsigned long rounds, not_arena;
	char error[160];	/* empty: no error */
};

static uint64_t stash_word(uint64_t tag, size_t k)
{
	return tag ^ (k * 0x9e3779b97f4a7c15ULL);
}

/*
 * Fill @p's @n bytes for @tag: a word of stash_word() in every 64 bytes,
 * the tag in the first and last words.
 */
static void stash_fill(uint64_t *p, size_t n, uint64_t tag)
{
	for (size_t k = 0; k < n / 8; k += 8)
		p[k] = stash_word(tag, k);
	p[n / 8 - 1] = tag;
}

/*
 * The first word of the first @n bytes of @p that stash_fill() of @filled
 * bytes for @tag did not leave, or n / 8.
 */
static size_t stash_bad(const uint64_t *p, size_t n, size_t filled, uint64_t tag)
{
	if (n == filled && p[n / 8 - 1] != tag)
		return n / 8 - 1;
	for (size_t k = 0; k < n / 8; k += 8)
		if (p[k] != (k == filled / 8 - 1 ? tag : stash_word(tag, k)))
			return k;
	return n / 8;
}

static void *stash_worker(void *arg)
{
	struct stash_thread *t = arg;
	const size_t page = 4096, shared = 16 * page;
	uint64_t x = 0x2545f4914f6cdd1dULL * (t->id + 1);

	for (unsigned long r = 0; r < STASH_ROUNDS && (r % 64 || now() < t->end); r++) {
		uint64_t tag = (uint64_t)(t->id + 1) << 32 | r, *p, *q;
		size_t n, n2, bad;
		unsigned int op;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* Half the rounds 16 pages; the rest 1 to 16, some a bit less. */
		n = x & 1 ? shared : ((x >> 1) % 16 + 1) * page;
		if (n > page && (x >> 8) & 1)
			n -= 8 * ((x >> 9) % 64);
		op = (x >> 20) % 8;
		if (op == 0) {
			p = calloc(1, n);
			if (!p) {
				snprintf(t->error, sizeof(t->error), "calloc(%zu) failed", n);
				return NULL;
			}
			for (size_t k = 0; k < n / 8; k++)
				if (p[k]) {
					snprintf(t->error, sizeof(t->error),
						 "calloc(%zu) round %lu: word %zu is %#llx",
						 n, r, k, (unsigned long long)p[k]);
					return NULL;
				}
		} else {
			p = malloc(n);
			if (!p) {
				snprintf(t->error, sizeof(t->error), "malloc(%zu) failed", n);
				return NULL;
			}
		}
		t->not_arena += !zio_owns(p);
		stash_fill(p, n, tag);
		if (op == 1) {
			/* realloc() to another size of the stash: the data moves with it. */
			n2 = ((x >> 24) % 16 + 1) * page;
			q = realloc(p, n2);
			if (!q) {
				snprintf(t->error, sizeof(t->error), "realloc(%zu) failed", n2);
				free(p);
				return NULL;
			}
			bad = stash_bad(q, n < n2 ? n : n2, n, tag);
			if (bad < (n < n2 ? n : n2) / 8) {
				snprintf(t->error, sizeof(t->error),
					 "realloc(%zu -> %zu) round %lu: word %zu is %#llx",
					 n, n2, r, bad, (unsigned long long)q[bad]);
				return NULL;
			}
			p = q;
			n = n2;
			stash_fill(p, n, tag);
		}
		sched_yield();
		bad = stash_bad(p, n, n, tag);
		if (bad < n / 8) {
			snprintf(t->error, sizeof(t->error),
				 "%zu bytes at %p, round %lu: word %zu is %#llx, not of tag %#llx",
				 n, (void *)p, r, bad, (unsigned long long)p[bad],
				 (unsigned long long)tag);
			return NULL;
		}
		free(p);
		t->rounds++;
	}
	return NULL;
}

TEST_F_TIMEOUT(check, arena_stash_threads, CHECK_TIMEOUT)
{
	struct stash_thread t[STASH_THREADS];
	pthread_t tid[STASH_THREADS];
	struct zio_lib_stats before, st;
	unsigned long rounds = 0;
	double start = now();

	before = stats(_metadata);
	for (unsigned int i = 0; i < STASH_THREADS; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].id = i;
		t[i].end = start + STASH_SECONDS;
		ASSERT_EQ(0, pthread_create(&tid[i], NULL, stash_worker, &t[i]));
	}
	for (unsigned int i = 0; i < STASH_THREADS; i++)
		ASSERT_EQ(0, pthread_join(tid[i], NULL));
	st = stats(_metadata);
	printf("# arena_stash_threads: %llu allocs, %llu reused, %llu KiB in use after, %llu before; %.2f s\n",
	       st.arena_allocs - before.arena_allocs, st.arena_recycled - before.arena_recycled,
	       st.arena_used >> 10, before.arena_used >> 10, now() - start);
	for (unsigned int i = 0; i < STASH_THREADS; i++) {
		printf("# thread %u: %lu rounds, %lu blocks not in the arena; %s\n", i,
		       t[i].rounds, t[i].not_arena, t[i].error[0] ? t[i].error : "no error");
		rounds += t[i].rounds;
	}
	fflush(stdout);
	for (unsigned int i = 0; i < STASH_THREADS; i++) {
		EXPECT_TRUE(!t[i].error[0]);
		EXPECT_TRUE(t[i].rounds >= STASH_ROUNDS_MIN);
		EXPECT_TRUE(t[i].not_arena == 0);
	}
	/* Every round allocates once or twice, and most reuse a freed block. */
	ASSERT_TRUE(st.arena_allocs - before.arena_allocs >= rounds);
	ASSERT_TRUE(st.arena_recycled - before.arena_recycled >= rounds / 4);
	ASSERT_TRUE(st.arena_used == before.arena_used);
}

/*
 * Freed blocks are reused whatever the next size, as jemalloc reuses pages:
 * a smaller request takes the head of a larger cached block, a larger one
 * grows a cached block over the cached blocks after it, and neither faults
 * a page in again.
 */
TEST_F_TIMEOUT(check, arena_reuse, CHECK_TIMEOUT)
{
	enum { N = 4 };
	size_t n = 256 * 1024;
	unsigned char *a = malloc(N * n), *p[N], *big;
	struct zio_lib_stats before, st;
	uintptr_t at = address_of(a);
	unsigned long long used;

	ASSERT_TRUE(a);
	memset(a, 1, N * n);
	ASSERT_TRUE(zio_owns(a));
	used = stats(_metadata).arena_used;
	free(a);
	before = stats(_metadata);
	ASSERT_TRUE(before.arena_used + N * n == used);
	ASSERT_TRUE(before.module_ok && before.module.faults > 0);
	for (int i = 0; i < N; i++) {
		p[i] = malloc(n);
		ASSERT_TRUE((uintptr_t)p[i] == at + i * n);
		memset(p[i], i + 2, n);
	}
	st = stats(_metadata);
	ASSERT_TRUE(st.arena_used == used);
	ASSERT_TRUE(st.arena_recycled == before.arena_recycled + N);
	ASSERT_TRUE(st.module.faults == before.module.faults);
	for (int i = 0; i < N; i++) {
		ASSERT_TRUE(p[i][0] == i + 2 && p[i][n - 1] == i + 2);
		free(p[i]);
	}

	before = stats(_metadata);
	big = malloc(N * n - 100);
	ASSERT_TRUE((uintptr_t)big == at);
	for (int i = 0; i < N; i++)
		ASSERT_TRUE(big[i * n] == i + 2);
	memset(big, 7, N * n - 100);
	st = stats(_metadata);
	ASSERT_TRUE(st.arena_used == used);
	ASSERT_TRUE(st.arena_recycled == before.arena_recycled + 1);
	ASSERT_TRUE(st.module.faults == before.module.faults);
	free(big);

	/*
	 * A live block in the way: the kept block before it is not grown
	 * over it; a block grown over kept and free pages keeps the rest.
	 */
	p[0] = malloc(n);
	p[1] = malloc(n);
	ASSERT_TRUE((uintptr_t)p[0] == at && (uintptr_t)p[1] == at + n);
	memset(p[1], 0x5a, n);
	free(p[0]);
	big = malloc(2 * n);
	ASSERT_TRUE(big && (uintptr_t)big != at && (uintptr_t)big != at + n);
	memset(big, 0x33, 2 * n);
	ASSERT_TRUE(p[1][0] == 0x5a && p[1][n - 1] == 0x5a);
	free(big);
	free(p[1]);
}

/* realloc grows a block in place over a kept block after it. */
TEST_F_TIMEOUT(check, realloc_over_kept, CHECK_TIMEOUT)
{
	size_t n = 512 * 1024;
	unsigned char *a = malloc(n), *b = malloc(n), *c;
	struct zio_lib_stats before, st;
	uintptr_t at = address_of(a);

	ASSERT_TRUE(a && b);
	fill(a, n, 21);
	memset(b, 1, n);
	ASSERT_TRUE(zio_owns(a) && b == a + n);
	free(b);
	before = stats(_metadata);
	c = realloc(a, 2 * n - 4096 + 1);
	ASSERT_TRUE((uintptr_t)c == at);
	ASSERT_TRUE(same(c, n, 21));
	memset(c + n, 2, n - 4096 + 1);
	st = stats(_metadata);
	ASSERT_TRUE(st.realloc_in_place == before.realloc_in_place + 1);
	ASSERT_TRUE(st.realloc_moved == before.realloc_moved);
	ASSERT_TRUE(st.arena_used == before.arena_used + n);
	free(c);
}

/* The explicit API, whatever the size. */
TEST_F_TIMEOUT(check, api, CHECK_TIMEOUT)
{
	unsigned char *a = zio_alloc(5 * 4096), *b = zio_alloc(5 * 4096);

	ASSERT_TRUE(a && b && ((uintptr_t)a & 4095) == 0);
	for (size_t i = 0; i < 5 * 4096; i++)
		ASSERT_TRUE(a[i] == 0 || !zio_owns(a));
	fill(a, 5 * 4096, 5);
	ASSERT_TRUE(zio_copy(b, a, 5 * 4096) == b);
	ASSERT_TRUE(same(b, 5 * 4096, 5));
	ASSERT_TRUE(zio_copy(a + 1, a, 4 * 4096) == a + 1);	/* overlapping */
	ASSERT_TRUE(a[0] == b[0]);
	for (size_t i = 0; i < 4 * 4096; i++)
		ASSERT_TRUE(a[i + 1] == b[i]);
	zio_free(a);
	zio_free(b);
	zio_free(NULL);
	ASSERT_TRUE(!zio_owns(&a));
}

/* One call site of memcpy() for the policy's tests. */
static __attribute__((noinline)) void site_copy(void *dst, const void *src, size_t n)
{
	p_memcpy(dst, src, n);
	__asm__ volatile("" ::: "memory");
}

/* A copy site whose copies are all written over is switched to memcpy. */
static void copy_write_loop(struct __test_metadata *_metadata, int rounds, size_t n)
{
	unsigned char *src = malloc(n), *dst = malloc(n);

	ASSERT_TRUE(src && dst);
	fill(src, n, 6);
	for (int r = 0; r < rounds; r++) {
		site_copy(dst, src, n);
		for (size_t i = 0; i < n; i += 64)
			dst[i] ^= 1;
	}
	ASSERT_TRUE(dst[64] == (unsigned char)(src[64] ^ 1) && dst[65] == src[65]);
	free(src);
	free(dst);
}

TEST_F_TIMEOUT(check, policy, CHECK_TIMEOUT)
{
	struct zio_lib_stats st;
	double t;

	t = now();
	copy_write_loop(_metadata, 300, MiB);
	t = now() - t;
	st = stats(_metadata);
	printf("# policy: %llu call sites, %llu off; %llu copies by the module, %llu by memcpy for the policy; %.3f s\n",
	       st.sites, st.sites_disabled, st.copies_module, st.copies_policy, t);
	ASSERT_TRUE(st.sites_disabled >= 1);
	ASSERT_TRUE(st.copies_policy >= 200);
	/*
	 * What it costs, counted rather than timed: the copies that went to
	 * the module before the site was switched off (and were then written
	 * over, each page copied twice). No probe is due within 300 calls.
	 */
	ASSERT_TRUE(st.copies_module <= 16);

	/* The same site now copies without writing: a probe turns it on again. */
	{
		unsigned char *src = malloc(MiB), *dst = malloc(MiB);
		unsigned long long before = st.copies_module;

		ASSERT_TRUE(src && dst);
		fill(src, MiB, 9);
		for (int r = 0; r < 1200; r++)
			site_copy(dst, src, MiB);
		ASSERT_TRUE(same(dst, MiB, 9));
		st = stats(_metadata);
		printf("# policy: after 1200 copies that stay shared: %llu sites off, %llu more copies by the module\n",
		       st.sites_disabled, st.copies_module - before);
		ASSERT_TRUE(st.sites_disabled == 0);
		ASSERT_TRUE(st.copies_module - before >= 500);
		free(src);
		free(dst);
	}
}

/*
 * A site switched off still sends its copy to the module once in 512
 * calls (a probe). Most calls go to memcpy without asking the policy (a
 * per-thread hint), and those calls count too: the 1024 calls after the
 * switch bring exactly the probes at calls 512 and 1024.
 */
/*
 * @warm copies of @n bytes, always written, switch the site off; then
 * @calls more: how many went to the module (probes) and to memcpy.
 */
static struct zio_lib_stats probes_after_switch_off(struct __test_metadata *_metadata,
						     int warm, int calls, size_t n)
{
	struct zio_lib_stats before, st;

	copy_write_loop(_metadata, warm, n);
	before = stats(_metadata);
	EXPECT_TRUE(before.sites_disabled == 1);
	copy_write_loop(_metadata, calls, n);
	st = stats(_metadata);
	printf("# %zu-byte copies: %llu more copies by the module, %llu by memcpy\n", n,
	       st.copies_module - before.copies_module,
	       st.copies_policy - before.copies_policy);
	EXPECT_TRUE(st.sites_disabled == 1);
	st.copies_module -= before.copies_module;
	st.copies_policy -= before.copies_policy;
	return st;
}

TEST_F_TIMEOUT(check, policy_probes, CHECK_TIMEOUT)
{
	struct zio_lib_stats st = probes_after_switch_off(_metadata, 300, 1024, 64 << 10);

	ASSERT_TRUE(st.copies_module == 2);
	ASSERT_TRUE(st.copies_policy == 1022);
}

/*
 * A probe that the module refuses (its destination is no longer the
 * module's mapping: ZIO_IOC_COPY fails with EFAULT, and libc copies) is
 * no probe: there is nothing to judge at the site's next call, and the
 * frees that follow, with no copy by the module since the last
 * evaluation, do not evaluate either.
 */
TEST_F_TIMEOUT(check, policy_probe_refused, CHECK_TIMEOUT)
{
	size_t n = 64 << 10;
	unsigned char *src = malloc(n), *dst = malloc(n);
	struct zio_lib_stats before, st;
	unsigned long reads;

	ASSERT_TRUE(src && dst);
	fill(src, n, 8);
	ASSERT_TRUE(zio_owns(src) && zio_owns((void *)(uintptr_t)dst));
	/* Anonymous memory where dst was, in the arena's range; never freed. */
	ASSERT_TRUE(mmap(dst, n, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == dst);
	copy_write_loop(_metadata, 64, n);
	before = stats(_metadata);
	ASSERT_TRUE(before.sites_disabled == 1);
	reads = __atomic_load_n(&record_reads, __ATOMIC_RELAXED);
	/* The probe is the site's call 512 since the switch, within these. */
	for (int r = 0; r < 512; r++)
		site_copy(dst, src, n);
	/* Blocks over 8 MiB are discarded when freed, after the policy's look. */
	for (int i = 0; i < 16; i++) {
		unsigned char *p = malloc(9 * MiB);

		ASSERT_TRUE(p && zio_owns(p));
		p[0] = 1;
		free(p);
	}
	st = stats(_metadata);
	reads = __atomic_load_n(&record_reads, __ATOMIC_RELAXED) - reads;
	printf("# policy_probe_refused: %llu copies refused, %llu by the module, %llu by memcpy for the policy; %lu evaluations\n",
	       st.copies_failed - before.copies_failed, st.copies_module - before.copies_module,
	       st.copies_policy - before.copies_policy, reads);
	fflush(stdout);
	ASSERT_TRUE(same(dst, n, 8));
	ASSERT_TRUE(st.copies_failed == before.copies_failed + 1);
	ASSERT_TRUE(st.copies_module == before.copies_module);
	ASSERT_TRUE(st.copies_policy == before.copies_policy + 511);
	ASSERT_TRUE(st.sites_disabled == 1);
	ASSERT_TRUE(reads == 0);
	free(src);
}

/*
 * A switched-off site whose copies are each written 15 calls later (as the
 * replies to 16 pipelined requests are sent after the next ones are
 * copied) stays off: its probes (calls 512 and 1024) are judged once their
 * pages had their chance. Judged at the site's next call, the first probe
 * looked shared and switched the site on again, and some 64 copies went to
 * the module before it was off again.
 */
TEST_F_TIMEOUT(check, policy_probe_pipelined, CHECK_TIMEOUT)
{
	enum { QUEUE = 16 };
	const size_t n = 64 << 10;
	unsigned char *src = malloc(n), *q[QUEUE];
	struct zio_lib_stats before, st;
	int r;

	ASSERT_TRUE(src != NULL);
	for (int i = 0; i < QUEUE; i++) {
		q[i] = malloc(n);
		ASSERT_TRUE(q[i] != NULL);
	}
	fill(src, n, 5);
	copy_write_loop(_metadata, 300, n);
	before = stats(_metadata);
	ASSERT_TRUE(before.sites_disabled == 1);
	for (r = 0; r < 1100; r++) {
		unsigned char *sent = q[(r + 1) % QUEUE];

		site_copy(q[r % QUEUE], src, n);
		/* The copy of 15 calls ago goes out. */
		for (size_t i = 0; r >= QUEUE - 1 && i < n; i += 4096)
			sent[i] ^= 1;
	}
	ASSERT_TRUE(same(q[(r - 1) % QUEUE], n, 5));
	st = stats(_metadata);
	printf("# policy_probe_pipelined: %llu sites off, %llu more copies by the module\n",
	       st.sites_disabled, st.copies_module - before.copies_module);
	ASSERT_TRUE(st.sites_disabled == 1);
	ASSERT_TRUE(st.copies_module - before.copies_module == 2);
	for (int i = 0; i < QUEUE; i++)
		free(q[i]);
	free(src);
}

/*
 * A thread's last calls that its hint sent to memcpy (64 at most) count
 * when it exits: a thread that makes 100 calls of a site switched off
 * and exits leaves exactly 100 in copies_policy, and none goes to the
 * module (no probe is due before call 512).
 */
#define EXIT_CALLS	100

static void *hinted_exit_worker(void *arg)
{
	size_t n = 64 << 10;
	unsigned char *src = malloc(n), *dst = malloc(n);
	bool *ok = arg;

	*ok = src && dst;
	if (*ok) {
		fill(src, n, 4);
		/* The cast: as in defer. */
		*ok = zio_owns(src) && zio_owns((void *)(uintptr_t)dst);
	}
	if (*ok) {
		for (int r = 0; r < EXIT_CALLS; r++)
			site_copy(dst, src, n);
		*ok = same(dst, n, 4);
	}
	free(src);
	free(dst);
	return NULL;
}

TEST_F_TIMEOUT(check, policy_hinted_exit, CHECK_TIMEOUT)
{
	struct zio_lib_stats before, st;
	bool ok = false;
	pthread_t tid;

	copy_write_loop(_metadata, 64, 64 << 10);
	before = stats(_metadata);
	ASSERT_TRUE(before.sites_disabled == 1);
	ASSERT_EQ(0, pthread_create(&tid, NULL, hinted_exit_worker, &ok));
	ASSERT_EQ(0, pthread_join(tid, NULL));
	ASSERT_TRUE(ok);
	st = stats(_metadata);
	printf("# policy_hinted_exit: %llu copies by memcpy for the policy, %llu by the module\n",
	       st.copies_policy - before.copies_policy, st.copies_module - before.copies_module);
	fflush(stdout);
	ASSERT_TRUE(st.sites_disabled == 1);
	ASSERT_TRUE(st.copies_module == before.copies_module);
	ASSERT_TRUE(st.copies_policy == before.copies_policy + EXIT_CALLS);
}

/*
 * 200 copies of 128 KiB by one site, @written pages in every eight of each
 * destination written after it: how many sites are off then.
 */
static unsigned long long sites_off_after_writes(struct __test_metadata *_metadata,
						 size_t written)
{
	const size_t n = 128 << 10;
	unsigned char *src = malloc(n), *dst = malloc(n);
	struct zio_lib_stats st;

	EXPECT_TRUE(src && dst);
	if (!src || !dst)
		return ~0ULL;
	fill(src, n, 7);
	for (int r = 0; r < 200; r++) {
		site_copy(dst, src, n);
		for (size_t i = 0; i < n; i += 8 * 4096)
			memset(dst + i, r, written * 4096);
	}
	st = stats(_metadata);
	printf("# %zu pages in 8 written: %llu sites off\n", written, st.sites_disabled);
	free(src);
	free(dst);
	return st.sites_disabled;
}

/*
 * A site whose copies get five pages in eight written (in flight when the
 * policy looks, as pipelined replies are before their send) loses: it is
 * switched off. One whose copies get one page in eight written stays on.
 */
TEST_F_TIMEOUT(check, policy_partly_written, CHECK_TIMEOUT)
{
	ASSERT_TRUE(sites_off_after_writes(_metadata, 5) == 1);
}

TEST_F_TIMEOUT(check, policy_rarely_written, CHECK_TIMEOUT)
{
	ASSERT_TRUE(sites_off_after_writes(_metadata, 1) == 0);
}

/*
 * Run with ZIO_THRESHOLD=4096: a site whose copies are one page is switched
 * off after 32 copies, and each of its probes is judged as that of a larger
 * copy would be: the interval doubles after each probe that confirms (calls
 * 512, 1024, 2048 in the 2080 calls since the switch), and one probe that
 * stays shared (call 4096) switches it on again.
 */
TEST_F_TIMEOUT(check, policy_probes_small, CHECK_TIMEOUT)
{
	size_t n = 4096;
	unsigned char *src = malloc(n), *dst = malloc(n);
	struct zio_lib_stats before, st = probes_after_switch_off(_metadata, 64, 2048, n);

	ASSERT_TRUE(st.copies_module == 3);
	ASSERT_TRUE(st.copies_policy == 2045);

	ASSERT_TRUE(src && dst);
	fill(src, n, 9);
	ASSERT_TRUE(zio_owns(src) && zio_owns((void *)(uintptr_t)dst));
	before = stats(_metadata);
	for (int r = 0; r < 2100; r++)
		site_copy(dst, src, n);
	ASSERT_TRUE(same(dst, n, 9));
	st = stats(_metadata);
	printf("# policy_probes_small: copies that stay shared: %llu sites off, %llu more copies by the module\n",
	       st.sites_disabled, st.copies_module - before.copies_module);
	ASSERT_TRUE(st.sites_disabled == 0);
	ASSERT_TRUE(st.copies_module - before.copies_module == 2100 - 2015);
	free(src);
	free(dst);
}

/*
 * Redis's SET: read a request into one buffer, copy the value out of it
 * (not page-aligned), and read the next request over the source while the
 * copy is still pending. When the source is read over, the site is
 * switched to memcpy (its copies only cost fresh pages for every read):
 * with one read of the whole buffer (READ_OVER), with reads smaller than
 * the threshold (READ_OVER_SMALL: they too go to the module, which would
 * otherwise copy every shared page on write), and when the reads over
 * start only after 16 copies that kept their source (READ_OVER_LATE: the
 * site was judged and kept on twice already). In the negative control
 * (SOURCE_KEPT: the source is read once) the same copies stay with the
 * module. Either way the value is the bytes read.
 */
enum read_over { SOURCE_KEPT, READ_OVER, READ_OVER_SMALL, READ_OVER_LATE };

static void copy_read_over(struct __test_metadata *_metadata, enum read_over mode)
{
	size_t n = MiB, at = 45, chunk = 60000;
	unsigned char *q = malloc(n + 4096), *v = malloc(n), *want = malloc(n + 4096);
	int rounds = mode == READ_OVER_LATE ? 96 : 64, late = 16;
	struct zio_lib_stats before, st;
	int fd = memfd_create("zio_libcheck", 0);

	ASSERT_TRUE(q && v && want && fd >= 0);
	before = stats(_metadata);
	for (int r = 0; r < rounds; r++) {
		fill(want, n + 4096, r);
		ASSERT_TRUE(pwrite(fd, want, n + 4096, 0) == (ssize_t)(n + 4096));
		if (mode == READ_OVER_SMALL) {
			for (size_t o = 0; o < n + 4096; o += chunk) {
				size_t len = n + 4096 - o < chunk ? n + 4096 - o : chunk;

				ASSERT_TRUE(pread(fd, q + o, len, o) == (ssize_t)len);
			}
		} else if (!r || (mode == READ_OVER) ||
			   (mode == READ_OVER_LATE && r >= late)) {
			ASSERT_TRUE(pread(fd, q, n + 4096, 0) == (ssize_t)(n + 4096));
		}
		site_copy(v, q + at, n);
	}
	/* Reading v materializes it: only once the copies are all done. */
	ASSERT_TRUE(!memcmp(v, q + at, n));
	if (mode == SOURCE_KEPT)
		fill(want, n + 4096, 0);
	ASSERT_TRUE(!memcmp(v, want + at, n));
	st = stats(_metadata);
	printf("# policy, source %s: %llu sites off; %llu copies by the module, %llu by memcpy for the policy; %llu reads by the module\n",
	       mode == SOURCE_KEPT ? "kept" : mode == READ_OVER ? "read over" :
	       mode == READ_OVER_SMALL ? "read over in small reads" : "read over late",
	       st.sites_disabled, st.copies_module - before.copies_module,
	       st.copies_policy - before.copies_policy, st.io_reads - before.io_reads);
	if (mode == SOURCE_KEPT) {
		ASSERT_TRUE(st.sites_disabled == 0);
		ASSERT_TRUE(st.copies_policy == before.copies_policy);
		ASSERT_TRUE(st.copies_module == before.copies_module + 64);
	} else {
		ASSERT_TRUE(st.io_reads > before.io_reads);
		ASSERT_TRUE(st.sites_disabled >= 1);
		/* Off after at most 24 copies with their source read over. */
		ASSERT_TRUE(st.copies_policy >= before.copies_policy + 40);
	}
	close(fd);
	free(q);
	free(v);
	free(want);
}

TEST_F_TIMEOUT(check, policy_read_over, CHECK_TIMEOUT)
{
	copy_read_over(_metadata, READ_OVER);
}

TEST_F_TIMEOUT(check, policy_read_over_small, CHECK_TIMEOUT)
{
	copy_read_over(_metadata, READ_OVER_SMALL);
}

TEST_F_TIMEOUT(check, policy_read_over_late, CHECK_TIMEOUT)
{
	copy_read_over(_metadata, READ_OVER_LATE);
}

TEST_F_TIMEOUT(check, policy_source_kept, CHECK_TIMEOUT)
{
	copy_read_over(_metadata, SOURCE_KEPT);
}

/*
 * memmove() within one buffer is libc's: deferred, each page would wait on
 * two pages the move replaced. zio_copy() still sends it to the module.
 */
TEST_F_TIMEOUT(check, move_within, CHECK_TIMEOUT)
{
	size_t n = 4 * MiB, at = 45;
	unsigned char *b = malloc(n), *ref = malloc(n);
	struct zio_lib_stats before, st;

	ASSERT_TRUE(b && ref);
	fill(b, n, 3);
	fill(ref, n, 3);
	ASSERT_TRUE(zio_owns(b));
	before = stats(_metadata);
	p_memmove(b, b + at, n - at);
	st = stats(_metadata);
	ASSERT_TRUE(st.copies_module == before.copies_module);
	ASSERT_TRUE(st.copies_policy == before.copies_policy + 1);
	ASSERT_TRUE(!memcmp(b, ref + at, n - at));
	ASSERT_TRUE(!memcmp(b + n - at, ref + n - at, at));

	p_memmove(b + at, b, n - at);
	st = stats(_metadata);
	ASSERT_TRUE(st.copies_module == before.copies_module);
	ASSERT_TRUE(st.copies_policy == before.copies_policy + 2);
	ASSERT_TRUE(!memcmp(b + at, ref + at, n - at));

	ASSERT_TRUE(zio_copy(b, b + at, n - at) == b);
	st = stats(_metadata);
	ASSERT_TRUE(st.copies_module == before.copies_module + 1);
	/* Neither the overlapping moves nor zio_copy() take a policy site. */
	ASSERT_TRUE(st.sites == before.sites);
	ASSERT_TRUE(!memcmp(b, ref + at, n - at));
	free(b);
	free(ref);
}

/* exec: the device's fd does not survive it. */
static int count_zio_fds(struct __test_metadata *_metadata)
{
	char path[300], target[256];
	struct dirent *e;
	int n = 0;
	DIR *d = opendir("/proc/self/fd");

	ASSERT_TRUE(d);
	while ((e = readdir(d))) {
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = 0;
		if (strstr(target, "zio"))
			n++;
	}
	closedir(d);
	return n;
}

TEST_F_TIMEOUT(check, exec, CHECK_TIMEOUT)
{
	ASSERT_TRUE(count_zio_fds(_metadata) == 1);
	setenv("ZIO_DISABLE", "1", 1);
	ASSERT_EQ(0, execl("/proc/self/exe", "zio_libcheck", "exec_child", (char *)NULL));
}

TEST_F_TIMEOUT(check, exec_child, CHECK_TIMEOUT)
{
	ASSERT_TRUE(stats(_metadata).arena_bytes == 0);
	ASSERT_TRUE(count_zio_fds(_metadata) == 0);
}

/* Large copies from a signal handler, interrupting large copies. */
static unsigned char *sig_src, *sig_dst;
static volatile unsigned long sig_count;

static void on_alarm(int sig)
{
	(void)sig;
	p_memcpy(sig_dst, sig_src, 2 * MiB);
	sig_count++;
}

TEST_F_TIMEOUT(check, signal, CHECK_TIMEOUT)
{
	unsigned char *a = malloc(4 * MiB), *b = malloc(4 * MiB);
	struct itimerval it = { 0 };
	double end, t;
	unsigned long rounds = 0;
	long period_us;

	sig_src = malloc(2 * MiB);
	sig_dst = malloc(2 * MiB);
	ASSERT_TRUE(a && b && sig_src && sig_dst);
	fill(sig_src, 2 * MiB, 7);
	fill(a, 4 * MiB, 8);
	/*
	 * A signal every millisecond, or every four handler runs where one
	 * takes longer (KASAN): the loop must still make progress.
	 */
	t = now();
	on_alarm(0);
	period_us = (long)((now() - t) * 4e6);
	if (period_us < 1000)
		period_us = 1000;
	it.it_interval.tv_sec = it.it_value.tv_sec = period_us / 1000000;
	it.it_interval.tv_usec = it.it_value.tv_usec = period_us % 1000000;
	sig_count = 0;
	end = now() + 3;
	signal(SIGALRM, on_alarm);
	setitimer(ITIMER_REAL, &it, NULL);
	while (now() < end) {
		memset(b, 0, 4 * MiB);
		p_memcpy(b + 8, a + 8, 4 * MiB - 8);
		memmove(b + 4096, b, 4 * MiB - 4096);
		rounds++;
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	ASSERT_TRUE(same(sig_dst, 2 * MiB, 7));
	ASSERT_TRUE(same(a, 4 * MiB, 8));
	for (size_t i = 8; i < 4096; i++)
		ASSERT_TRUE(b[i] == a[i]);
	for (size_t i = 4096; i < 4 * MiB; i++)
		ASSERT_TRUE(b[i] == (i - 4096 < 8 ? 0 : a[i - 4096]));
	printf("# signal: %lu rounds, %lu copies in the handler, %llu short\n",
	       rounds, sig_count, stats(_metadata).copies_short);
}

/* More than the arena holds: the rest comes from the next allocator. */
TEST_F_TIMEOUT(check, limits, CHECK_TIMEOUT)
{
	enum { N = 40 };
	unsigned char *p[N];
	struct zio_lib_stats st;

	for (int i = 0; i < N; i++) {
		p[i] = malloc(64 * MiB);
		ASSERT_TRUE(p[i]);
		p[i][i * 4096] = i;
	}
	st = stats(_metadata);
	ASSERT_TRUE(st.arena_fallbacks >= 1);
	for (int i = 0; i < N; i++) {
		ASSERT_TRUE(p[i][i * 4096] == i);
		free(p[i]);
	}
	st = stats(_metadata);
	ASSERT_TRUE(st.arena_used == 0);
}

int main(int argc, char **argv)
{
	static const char *const need_arena[] = {
		"defer", "realloc", "realloc_over_kept", "arena_reuse", "policy", "policy_probes", "policy_probes_small", "arena_stash",
		"arena_stash_threads", "policy_hinted_exit", "policy_probe_refused",
		"policy_probe_pipelined",
		"policy_read_over", "policy_read_over_small",
		"policy_read_over_late", "policy_source_kept", "move_within",
		"exec", "limits", NULL
	};

	return check_main(argc, argv, need_arena);
}
