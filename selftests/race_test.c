// SPDX-License-Identifier: GPL-2.0
/*
 * Threads copying, faulting and writing at once, on disjoint and on shared
 * pages, with the data checked after every step; and a negative control
 * for the rule that a slot change waits for faults in flight (lock and
 * unlock the old page, then zap): with the module's debug_skip_barrier
 * set, a fault that checked the old slot installs the old page after the
 * zap, and the test must see that stale data; with the barrier, never.
 *
 * Threads never use the harness's ASSERT (it longjmps): they count what
 * they saw, and the main thread checks the counts.
 */
#include <pthread.h>
#include <sched.h>
#include <sys/wait.h>
#include <stdatomic.h>
#include <time.h>

#include "zio_test.h"

#define REGION_PAGES	16
#define MAX_THREADS	4

FIXTURE(race) {
	int fd;
	size_t ps, len;
	char *map;
	long long saved_delay, saved_skip;
};

FIXTURE_SETUP(race)
{
	self->ps = zio_page_size();
	self->len = 64 * self->ps;
	self->fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	self->map = zio_map(self->fd, self->len, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	self->saved_delay = -1;
	self->saved_skip = -1;
}

FIXTURE_TEARDOWN(race)
{
	if (self->saved_delay >= 0)
		zio_param_set("debug_fault_delay_us", self->saved_delay);
	if (self->saved_skip >= 0)
		zio_param_set("debug_skip_barrier", self->saved_skip);
	munmap(self->map, self->len);
	close(self->fd);
}

struct worker {
	pthread_t thread;
	int id;
	int fd;
	size_t ps;
	char *region;
	int iterations;
	/* out */
	int errors;
	int first_error;	/* the step that failed first */
};

/*
 * Disjoint: each thread copies within its own region, the first half to
 * the second, aligned and not, then writes both sides and checks both.
 */
static void *disjoint_worker(void *arg)
{
	struct worker *w = arg;
	size_t half = REGION_PAGES / 2 * w->ps, len = half - w->ps;
	char *src = w->region, *dst = w->region + half;

	for (int i = 0; i < w->iterations; i++) {
		uint64_t salt = 1000 * (w->id + 1) + i;
		size_t shift = (i % 3 == 0) ? 0 : (i % 3) * 1000;
		int step = 0;

		zio_fill(src, half, salt);
		if (zio_copy(w->fd, dst + shift, src, len, NULL))
			step = 1;
		else if (!zio_check(dst + shift, len, salt))
			step = 2;
		zio_fill(src, w->ps, salt + 500);
		if (!step && !zio_check(dst + shift, len, salt))
			step = 3;
		zio_fill(dst + shift, w->ps, salt + 700);
		if (!step && !zio_check_at(src + w->ps, w->ps, half - w->ps, salt))
			step = 4;
		if (step) {
			if (!w->errors)
				w->first_error = i * 10 + step;
			w->errors++;
		}
	}
	return NULL;
}

static void run_disjoint(struct __test_metadata *_metadata,
			 FIXTURE_DATA(race) *self, int nthreads)
{
	struct worker w[MAX_THREADS];

	for (int t = 0; t < nthreads; t++) {
		w[t] = (struct worker){
			.id = t, .fd = self->fd, .ps = self->ps, .iterations = 60,
			.region = self->map + (size_t)t * REGION_PAGES * self->ps,
		};
		ASSERT_EQ(0, pthread_create(&w[t].thread, NULL, disjoint_worker, &w[t]));
	}
	for (int t = 0; t < nthreads; t++) {
		ASSERT_EQ(0, pthread_join(w[t].thread, NULL));
		EXPECT_EQ(0, w[t].errors) {
			TH_LOG("thread %d: first error at iteration %d, step %d",
			       t, w[t].first_error / 10, w[t].first_error % 10);
		}
	}
}

/* Fixed work: under TCG on a loaded host it may take minutes. */
TEST_F_TIMEOUT(race, disjoint_2_threads, 120)
{
	run_disjoint(_metadata, self, 2);
}

TEST_F_TIMEOUT(race, disjoint_4_threads, 180)
{
	run_disjoint(_metadata, self, 4);
}

/*
 * Shared: eight source blocks of two pages, each filled with one 64-bit
 * value; two copiers copy them (shared, or pending from two source pages
 * alike) into their own destination pages and check the result at once;
 * two readers fault every destination page all the time. Every value a
 * reader sees must be one some source ever held.
 */
#define NSRC		8
#define SRC_PAGE(k)	(2 * (k))
#define DST_PAGE(c)	(32 + 4 * (c))

struct shared_run {
	char *map;
	size_t ps;
	int fd;
	atomic_bool stop;
	int copier_errors[2];
	long copies[2];
	struct timespec deadline;
	/* the first error of each copier: what, where, what was seen */
	int err_kind[2], err_iter[2], err_ret[2];
	uint64_t err_seen[2], err_expected[2];
	size_t err_shift[2];
	long reader_bad[2];
	long reader_reads[2];
	uint64_t bad_value;
};

/* @ts = now + @ms. */
static void deadline_in(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static bool deadline_passed(struct timespec ts)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > ts.tv_sec ||
	       (now.tv_sec == ts.tv_sec && now.tv_nsec >= ts.tv_nsec);
}

static uint64_t src_value(int k)
{
	return 0x5a5a000000000000ULL | (zio_seed() & 0xffff0000ULL) | (uint64_t)(k + 1);
}

static bool page_is(const char *page, size_t ps, uint64_t v)
{
	const uint64_t *p = (const uint64_t *)page;

	for (size_t i = 0; i < ps / 8; i++)
		if (p[i] != v)
			return false;
	return true;
}

struct copier_arg {
	struct shared_run *run;
	int id;
};

static void *copier(void *arg)
{
	struct copier_arg *a = arg;
	struct shared_run *run = a->run;
	size_t ps = run->ps;
	char *dst = run->map + DST_PAGE(a->id) * ps;
	uint64_t state = zio_seed() + a->id;

	for (int i = 0; !deadline_passed(run->deadline); i++) {
		int k = zio_rand(&state) % NSRC;
		size_t shift = (zio_rand(&state) % 2) ? 8 * (1 + zio_rand(&state) % 400) : 0;
		/* Shifted: one page, pending from two pages of the block. */
		size_t len = shift ? ps : 2 * ps;
		char *src = run->map + SRC_PAGE(k) * ps + shift;

		int ret = zio_copy(run->fd, dst, src, len, NULL), kind = 0;
		const char *bad = NULL;

		if (ret)
			kind = 1;
		else if (!page_is(dst, ps, src_value(k)))
			kind = 2, bad = dst;
		else if (!shift && !page_is(dst + ps, ps, src_value(k)))
			kind = 3, bad = dst + ps;
		/* Break the sharing now and then: copy-on-write under readers. */
		if (!kind && i % 4 == 0) {
			((volatile uint64_t *)dst)[i % 512] = src_value(k) ^ 0x8000;
			if (!page_is(run->map + SRC_PAGE(k) * ps, 2 * ps, src_value(k)))
				kind = 4, bad = run->map + SRC_PAGE(k) * ps;
		}
		run->copies[a->id]++;
		if (kind && !run->copier_errors[a->id]++) {
			run->err_kind[a->id] = kind;
			run->err_iter[a->id] = i;
			run->err_ret[a->id] = ret;
			run->err_shift[a->id] = shift;
			run->err_expected[a->id] = src_value(k);
			if (bad) {
				const uint64_t *q = (const uint64_t *)bad;
				size_t w = 0;

				while (w < 2 * ps / 8 - 1 && q[w] == src_value(k))
					w++;
				run->err_seen[a->id] = q[w];
			}
		}
	}
	return NULL;
}

static void *reader(void *arg)
{
	struct copier_arg *a = arg;
	struct shared_run *run = a->run;
	size_t ps = run->ps;

	while (!atomic_load(&run->stop)) {
		for (int c = 0; c < 2; c++) {
			for (int p = 0; p < 2; p++) {
				const volatile uint64_t *q = (const volatile uint64_t *)
					(run->map + (DST_PAGE(c) + p) * ps);
				uint64_t v = q[(run->reader_reads[a->id] * 8) % (ps / 8)];

				run->reader_reads[a->id]++;
				if (v != 0 && (v & ~0xffffULL) != (src_value(0) & ~0xffffULL)) {
					run->reader_bad[a->id]++;
					run->bad_value = v;
				}
			}
		}
		/* Let the copier's zaps find the pages mapped again and again. */
		if (a->id == 1)
			madvise(run->map + DST_PAGE(0) * ps, 8 * ps, MADV_DONTNEED);
	}
	return NULL;
}

TEST_F_TIMEOUT(race, copiers_and_readers_on_shared_pages, 30)
{
	struct shared_run run = { .map = self->map, .ps = self->ps, .fd = self->fd };
	struct copier_arg ca[2] = { { &run, 0 }, { &run, 1 } };
	struct copier_arg ra[2] = { { &run, 0 }, { &run, 1 } };
	pthread_t copiers[2], readers[2];

	for (int k = 0; k < NSRC; k++) {
		uint64_t *p = (uint64_t *)(self->map + SRC_PAGE(k) * self->ps);

		for (size_t i = 0; i < 2 * self->ps / 8; i++)
			p[i] = src_value(k);
	}
	/* Time-bounded: under TCG the speed varies a lot between kernels. */
	deadline_in(&run.deadline, 8000);
	for (int t = 0; t < 2; t++)
		ASSERT_EQ(0, pthread_create(&readers[t], NULL, reader, &ra[t]));
	for (int t = 0; t < 2; t++)
		ASSERT_EQ(0, pthread_create(&copiers[t], NULL, copier, &ca[t]));
	for (int t = 0; t < 2; t++)
		ASSERT_EQ(0, pthread_join(copiers[t], NULL));
	atomic_store(&run.stop, true);
	for (int t = 0; t < 2; t++)
		ASSERT_EQ(0, pthread_join(readers[t], NULL));

	for (int t = 0; t < 2; t++) {
		/* kind 1: the ioctl failed; 2, 3: the destination's first or
		 * second page is not the source after the copy; 4: a write to
		 * the destination changed the source.
		 */
		EXPECT_EQ(0, run.copier_errors[t]) {
			TH_LOG("copier %d: first error of kind %d at copy %d (ret %d, shift %zu): saw 0x%llx, expected 0x%llx",
			       t, run.err_kind[t], run.err_iter[t], run.err_ret[t],
			       run.err_shift[t], (unsigned long long)run.err_seen[t],
			       (unsigned long long)run.err_expected[t]);
		}
		EXPECT_EQ(0, run.reader_bad[t]) {
			TH_LOG("reader %d saw 0x%llx", t, (unsigned long long)run.bad_value);
		}
		/* Enough to have raced at all, on the slowest host seen. */
		EXPECT_LT(0, run.reader_reads[t]);
		EXPECT_LE(10, run.copies[t]);
	}
	TH_LOG("%ld + %ld copies, %ld + %ld reads", run.copies[0], run.copies[1],
	       run.reader_reads[0], run.reader_reads[1]);
	/* The sources never changed. */
	for (int k = 0; k < NSRC; k++)
		EXPECT_TRUE(page_is(self->map + SRC_PAGE(k) * self->ps, 2 * self->ps,
				    src_value(k)));
}

/*
 * fork() while another thread keeps copying: the child's snapshot has,
 * page by page, either the old or the new content (never a mix within a
 * page, never another page's), and the stable part exactly.
 *   pages  0-7   stable (salt 1), never written
 *   pages  8-23  eight source blocks of 2 pages, one value each
 *   pages 32-39  destination, copied into all the time
 */
struct fork_copier {
	char *map;
	size_t ps;
	int fd;
	atomic_bool stop;
	int errors;
	long copies;
};

static void *fork_copier_thread(void *arg)
{
	struct fork_copier *f = arg;
	uint64_t state = zio_seed() ^ 0xf0;

	while (!atomic_load(&f->stop)) {
		int k = zio_rand(&state) % NSRC;
		size_t shift = (zio_rand(&state) % 2) ? 8 * (1 + zio_rand(&state) % 400) : 0;
		char *src = f->map + (8 + SRC_PAGE(k)) * f->ps + shift;

		/* Four destination pages from one block: whole pages only. */
		for (int p = 0; p < 4; p++)
			if (zio_copy(f->fd, f->map + (32 + 2 * p) * f->ps, src, f->ps, NULL))
				f->errors++;
		f->copies++;
	}
	return NULL;
}

static bool uniform_valid(const char *page, size_t ps)
{
	uint64_t v = *(const uint64_t *)page;

	if (v == 0)
		return page_is(page, ps, 0);
	for (int k = 0; k < NSRC; k++)
		if (v == src_value(k))
			return page_is(page, ps, v);
	return false;
}

TEST_F_TIMEOUT(race, fork_during_copies, 60)
{
	struct fork_copier f = { .map = self->map, .ps = self->ps, .fd = self->fd };
	size_t ps = self->ps;
	pthread_t thread;

	zio_fill(self->map, 8 * ps, 1);
	for (int k = 0; k < NSRC; k++) {
		uint64_t *p = (uint64_t *)(self->map + (8 + SRC_PAGE(k)) * ps);

		for (size_t i = 0; i < 2 * ps / 8; i++)
			p[i] = src_value(k);
	}
	ASSERT_EQ(0, pthread_create(&thread, NULL, fork_copier_thread, &f));
	for (int i = 0; i < 20; i++) {
		int status;
		pid_t pid;

		fflush(NULL);
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			for (int p = 0; p < 8; p += 2)
				if (!uniform_valid(self->map + (32 + p) * ps, ps))
					_exit(1 + p);
			if (!zio_check(self->map, 8 * ps, 1))
				_exit(10);
			/* The child's own copies and writes. */
			if (zio_copy(self->fd, self->map + 32 * ps, self->map, 8 * ps, NULL))
				_exit(11);
			zio_fill(self->map + 8 * ps, 4 * ps, 2);
			if (!zio_check(self->map + 32 * ps, 8 * ps, 1))
				_exit(12);
			_exit(0);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status)) {
			TH_LOG("child %d", i);
		}
	}
	atomic_store(&f.stop, true);
	ASSERT_EQ(0, pthread_join(thread, NULL));
	EXPECT_EQ(0, f.errors);
	EXPECT_LT(0, f.copies);
	EXPECT_TRUE(zio_check(self->map, 8 * ps, 1));
	for (int k = 0; k < NSRC; k++)
		EXPECT_TRUE(page_is(self->map + (8 + SRC_PAGE(k)) * ps, 2 * ps, src_value(k)));
	for (int p = 0; p < 8; p += 2)
		EXPECT_TRUE(uniform_valid(self->map + (32 + p) * ps, ps));
}

/*
 * Everything at once on one open: copies, discards, reads, writes, and
 * mmap/munmap of other ranges. The data in flight cannot be predicted;
 * what is checked is that nothing fails that should not, that a region
 * nobody touches stays exact, that the module's counters come back to
 * zero, and (by the runner) that the kernel log stays clean.
 */
struct mix {
	char *map;
	size_t ps;
	int fd;
	atomic_bool stop;
	int errors[4];
	long rounds[4];
};

struct mix_arg {
	struct mix *m;
	int id;
};

static void *mix_thread(void *arg)
{
	struct mix_arg *a = arg;
	struct mix *m = a->m;
	size_t ps = m->ps;
	uint64_t state = zio_seed() ^ (0x1000 + a->id);
	char *area = m->map + 16 * ps;	/* pages 16-47: shared by all */

	while (!atomic_load(&m->stop)) {
		size_t off = (zio_rand(&state) % 24) * ps;
		size_t off2 = (zio_rand(&state) % 24) * ps + zio_rand(&state) % ps;
		char *p;

		switch (a->id) {
		case 0:	/* copies, aligned or not */
			if (zio_copy(m->fd, area + off, area + off2, 8 * ps - ps, NULL))
				m->errors[0]++;
			break;
		case 1:	/* discards */
			if (zio_discard(m->fd, area + off, 4 * ps))
				m->errors[1]++;
			break;
		case 2:	/* reads and writes */
			for (size_t i = 0; i < 32 * ps; i += ps / 2)
				((volatile char *)area)[i] += (char)(i == off);
			break;
		case 3:	/* mappings coming and going, and a copy through them */
			p = zio_map(m->fd, 8 * ps, (64 + off / ps) * ps);
			if (p == MAP_FAILED) {
				m->errors[3]++;
				break;
			}
			if (zio_copy(m->fd, p, area + off2, 4 * ps, NULL))
				m->errors[3]++;
			if (zio_copy(m->fd, area + off, p + 1, 4 * ps, NULL))
				m->errors[3]++;
			munmap(p, 8 * ps);
			break;
		}
		m->rounds[a->id]++;
	}
	return NULL;
}

TEST_F_TIMEOUT(race, everything_at_once, 60)
{
	struct mix m = { .map = self->map, .ps = self->ps, .fd = self->fd };
	struct mix_arg args[4];
	pthread_t threads[4];
	size_t ps = self->ps;

	zio_fill(self->map, 16 * ps, 1);
	zio_fill(self->map + 16 * ps, 32 * ps, 2);
	for (int t = 0; t < 4; t++) {
		args[t] = (struct mix_arg){ &m, t };
		ASSERT_EQ(0, pthread_create(&threads[t], NULL, mix_thread, &args[t]));
	}
	sleep(3);
	atomic_store(&m.stop, true);
	for (int t = 0; t < 4; t++) {
		ASSERT_EQ(0, pthread_join(threads[t], NULL));
		EXPECT_EQ(0, m.errors[t]) {
			TH_LOG("thread %d failed %d of %ld rounds", t, m.errors[t], m.rounds[t]);
		}
		EXPECT_LT(0, m.rounds[t]);
	}
	EXPECT_TRUE(zio_check(self->map, 16 * ps, 1));
	/* Quiet again: a copy is exact. */
	ASSERT_EQ(0, zio_copy(self->fd, self->map + 16 * ps, self->map, 16 * ps, NULL));
	EXPECT_TRUE(zio_check(self->map + 16 * ps, 16 * ps, 1));
	ASSERT_EQ(0, zio_copy(self->fd, self->map + 32 * ps + 5, self->map, 8 * ps, NULL));
	EXPECT_TRUE(zio_check(self->map + 32 * ps + 5, 8 * ps, 1));
}

/*
 * A thread keeps writing the source while it is copied: the copy takes
 * some state of the source, and from then on the destination must never
 * change, so the source's writable mappings must be gone before the
 * ioctl returns.
 */
struct src_writer {
	volatile uint64_t *src;
	size_t words;
	atomic_bool stop;
	long writes;
};

static void *src_writer_thread(void *arg)
{
	struct src_writer *w = arg;
	uint64_t n = 1;

	while (!atomic_load(&w->stop)) {
		for (size_t i = 0; i < w->words; i += 64)
			w->src[i] = n;
		n++;
		w->writes++;
	}
	return NULL;
}

TEST_F_TIMEOUT(race, source_written_during_copy, 60)
{
	size_t ps = self->ps;
	struct src_writer w = { .src = (volatile uint64_t *)self->map,
				.words = 4 * ps / 8 };
	char *dst = self->map + 8 * ps, *snap = malloc(4 * ps);
	pthread_t thread;
	int changed = 0, failed = 0;

	ASSERT_NE(NULL, snap);
	ASSERT_EQ(0, pthread_create(&thread, NULL, src_writer_thread, &w));
	for (int i = 0; i < 200; i++) {
		size_t shift = (i % 2) ? 0 : 8;

		/* Aligned (shared) and unaligned (pending) alike. */
		if (zio_copy(self->fd, dst + shift, self->map + shift, 3 * ps, NULL)) {
			failed++;
			continue;
		}
		memcpy(snap, dst + shift, 3 * ps);
		for (int spin = 0; spin < 2000; spin++)
			__asm__ volatile("" ::: "memory");
		sched_yield();
		if (memcmp(snap, dst + shift, 3 * ps))
			changed++;
	}
	atomic_store(&w.stop, true);
	ASSERT_EQ(0, pthread_join(thread, NULL));
	TH_LOG("%ld source writes during 200 copies", w.writes);
	EXPECT_EQ(0, failed);
	EXPECT_EQ(0, changed);
	EXPECT_LT(0, w.writes);
	free(snap);
}

/*
 * The negative control. One thread keeps reading the destination page, so
 * it is in the fault handler (slowed down by debug_fault_delay_us) most of
 * the time; the main thread copies A, gives the reader time to enter the
 * fault and check the slot, copies B over it, waits for that fault to
 * finish, and checks that the page reads B.
 */
struct stale_reader {
	volatile uint64_t *dst;
	atomic_bool stop;
	long reads;
};

static void *stale_reader_thread(void *arg)
{
	struct stale_reader *r = arg;

	while (!atomic_load(&r->stop)) {
		(void)r->dst[0];
		r->reads++;
	}
	return NULL;
}

static void sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

#define DELAY_US	2000

/* Stale results in at most @rounds rounds (stops after 3). */
static int count_stale(struct __test_metadata *_metadata,
		       FIXTURE_DATA(race) *self, int rounds)
{
	size_t ps = self->ps;
	char *a = self->map, *b = self->map + ps, *dst = self->map + 4 * ps;
	struct stale_reader r = { .dst = (volatile uint64_t *)dst };
	pthread_t thread;
	int stale = 0, i;

	memset(a, 0xaa, ps);
	memset(b, 0xbb, ps);
	if (pthread_create(&thread, NULL, stale_reader_thread, &r))
		return -1;
	for (i = 0; i < rounds && stale < 3; i++) {
		if (zio_copy(self->fd, dst, a, ps, NULL))
			break;
		sleep_us(DELAY_US / 4);
		if (zio_copy(self->fd, dst, b, ps, NULL))
			break;
		sleep_us(2 * DELAY_US);
		if (!page_is(dst, ps, 0xbbbbbbbbbbbbbbbbULL))
			stale++;
	}
	atomic_store(&r.stop, true);
	pthread_join(thread, NULL);
	TH_LOG("%d stale in %d rounds (at most %d), %ld reads", stale, i, rounds, r.reads);
	EXPECT_LT(0, r.reads);
	return stale;
}

static bool debug_params(struct __test_metadata *_metadata,
			 FIXTURE_DATA(race) *self, bool skip_barrier)
{
	self->saved_delay = zio_param_get("debug_fault_delay_us");
	self->saved_skip = zio_param_get("debug_skip_barrier");
	if (self->saved_delay < 0 || self->saved_skip < 0)
		return false;
	EXPECT_EQ(0, zio_param_set("debug_fault_delay_us", DELAY_US));
	EXPECT_EQ(0, zio_param_set("debug_skip_barrier", skip_barrier));
	EXPECT_EQ(DELAY_US, zio_param_get("debug_fault_delay_us"));
	EXPECT_EQ(skip_barrier, zio_param_get("debug_skip_barrier"));
	return true;
}

TEST_F_TIMEOUT(race, negative_control_without_barrier_sees_stale_data, 60)
{
	if (!debug_params(_metadata, self, true))
		SKIP(return, "the module has no debug_skip_barrier/debug_fault_delay_us");
	/* This test passes when the race is seen: it proves the next one can fail. */
	EXPECT_LT(0, count_stale(_metadata, self, 400));
}

TEST_F_TIMEOUT(race, with_barrier_no_stale_data, 60)
{
	if (!debug_params(_metadata, self, false))
		SKIP(return, "the module has no debug_skip_barrier/debug_fault_delay_us");
	EXPECT_EQ(0, count_stale(_metadata, self, 150));
}

ZIO_TEST_NOTHING_LEFT()

TEST_HARNESS_MAIN
