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

TEST_F(race, disjoint_2_threads)
{
	run_disjoint(_metadata, self, 2);
}

TEST_F(race, disjoint_4_threads)
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
	long reader_bad[2];
	long reader_reads[2];
	uint64_t bad_value;
};

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

	for (int i = 0; i < 300; i++) {
		int k = zio_rand(&state) % NSRC;
		size_t shift = (zio_rand(&state) % 2) ? 8 * (1 + zio_rand(&state) % 400) : 0;
		/* Shifted: one page, pending from two pages of the block. */
		size_t len = shift ? ps : 2 * ps;
		char *src = run->map + SRC_PAGE(k) * ps + shift;

		if (zio_copy(run->fd, dst, src, len, NULL) ||
		    !page_is(dst, ps, src_value(k)) ||
		    (!shift && !page_is(dst + ps, ps, src_value(k))))
			run->copier_errors[a->id]++;
		/* Break the sharing now and then: copy-on-write under readers. */
		if (i % 4 == 0) {
			((volatile uint64_t *)dst)[i % 512] = src_value(k) ^ 0x8000;
			if (!page_is(run->map + SRC_PAGE(k) * ps, 2 * ps, src_value(k)))
				run->copier_errors[a->id]++;
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

TEST_F(race, copiers_and_readers_on_shared_pages)
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
		EXPECT_EQ(0, run.copier_errors[t]);
		EXPECT_EQ(0, run.reader_bad[t]) {
			TH_LOG("reader %d saw 0x%llx", t, (unsigned long long)run.bad_value);
		}
		EXPECT_LT(0, run.reader_reads[t]);
	}
	/* The sources never changed. */
	for (int k = 0; k < NSRC; k++)
		EXPECT_TRUE(page_is(self->map + SRC_PAGE(k) * self->ps, 2 * self->ps,
				    src_value(k)));
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
	int stale = 0;

	memset(a, 0xaa, ps);
	memset(b, 0xbb, ps);
	if (pthread_create(&thread, NULL, stale_reader_thread, &r))
		return -1;
	for (int i = 0; i < rounds && stale < 3; i++) {
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
	TH_LOG("%d stale of up to %d rounds, %ld reads", stale, rounds, r.reads);
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
