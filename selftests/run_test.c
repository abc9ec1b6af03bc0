// SPDX-License-Identifier: GPL-2.0
/*
 * Runs: a copy of whole aligned chunks of 64 pages gives each destination
 * chunk one entry (a run) instead of one per page, and a copy of a run
 * takes a reference to it. Every other access splits the run first. Each
 * test checks the whole mapping against a shadow that receives the same
 * operations through libc, and the copy_runs counter says that runs were
 * made where the test means them to be.
 */
#include <pthread.h>
#include <sys/wait.h>

#include "zio_test.h"

#define PG		4096UL
#define RUN		64UL
#define NCHUNKS		8
#define C(k)		((k) * RUN * PG)	/* offset of chunk k */
#define P(n)		((n) * PG)

FIXTURE(runs) {
	int fd;
	size_t len;
	char *map;
	char *shadow;
	uint64_t run;	/* 1 with ZIO_FEATURE_COPY_RUNS, else 0 */
};

FIXTURE_SETUP(runs)
{
	ASSERT_EQ(PG, zio_page_size());
	self->len = C(NCHUNKS);
	struct zio_info info = { 0 };

	self->fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_INFO, &info));
	/* Without multi-index xarrays, copies make no run: same data. */
	self->run = !!(info.features & ZIO_FEATURE_COPY_RUNS);
	/* Offset 0: chunk k is slots [64k, 64k + 63], aligned. */
	self->map = zio_map(self->fd, self->len, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	self->shadow = calloc(1, self->len);
	ASSERT_NE(NULL, self->shadow);
}

FIXTURE_TEARDOWN(runs)
{
	struct zio_counters c;

	munmap(self->map, self->len);
	free(self->shadow);
	/* Unmapping let go of every page and run of this open. */
	if (!zio_counters(self->fd, false, &c)) {
		EXPECT_EQ(0, c.pages_live);
		EXPECT_EQ(0, c.pages_shared);
		EXPECT_EQ(0, c.pages_pending);
		if (!self->run)
			EXPECT_EQ(0, c.copy_runs);
	}
	close(self->fd);
}

static void fill_both(FIXTURE_DATA(runs) *self, size_t off, size_t len,
		      uint64_t salt)
{
	zio_fill(self->map + off, len, salt);
	zio_fill(self->shadow + off, len, salt);
}

static int copy_both(FIXTURE_DATA(runs) *self, size_t dst, size_t src,
		     size_t len)
{
	int ret = zio_copy(self->fd, self->map + dst, self->map + src, len, NULL);

	if (!ret)
		memmove(self->shadow + dst, self->shadow + src, len);
	return ret;
}

/* The first byte where the mapping and the shadow differ, or -1. */
static long differs(FIXTURE_DATA(runs) *self)
{
	return zio_diff(self->map, self->shadow, self->len);
}

static uint64_t runs_made(FIXTURE_DATA(runs) *self)
{
	struct zio_counters c;

	if (zio_counters(self->fd, false, &c))
		return ~0ULL;
	return c.copy_runs;
}

/* Chunks 0-1 written, copied to 2-3, which are copied to 4-5. */
static void chain_of_runs(struct __test_metadata *_metadata,
			  FIXTURE_DATA(runs) *self)
{
	uint64_t runs0 = runs_made(self);

	fill_both(self, 0, C(2), 1);
	ASSERT_EQ(0, copy_both(self, C(2), 0, C(2)));
	ASSERT_EQ(0, copy_both(self, C(4), C(2), C(2)));
	ASSERT_EQ(runs0 + 4 * self->run, runs_made(self));
}

TEST_F(runs, copies_of_copies_share_the_run)
{
	struct zio_counters c;

	chain_of_runs(_metadata, self);
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	/* 128 pages, each in three slots: two of them through runs. */
	EXPECT_EQ(3 * 2 * RUN, c.pages_live);
	EXPECT_EQ(3 * 2 * RUN, c.pages_shared);
	EXPECT_EQ(2 * C(2), c.bytes_deferred);
	EXPECT_EQ(0, c.bytes_copied);

	EXPECT_EQ(-1, differs(self));
	/* Reading split them: nothing was copied. */
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(3 * 2 * RUN, c.pages_shared);
	EXPECT_EQ(0, c.pages_cow);

	/* A write to any link changes that link only. */
	fill_both(self, P(3) + 10, 100, 2);
	fill_both(self, C(2) + P(70), PG, 3);
	fill_both(self, C(5) + P(63) + 4000, 200, 4);	/* and C(6)'s first */
	EXPECT_EQ(-1, differs(self));
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(3, c.pages_cow);
}

TEST_F(runs, write_before_any_read)
{
	struct zio_counters c;

	chain_of_runs(_metadata, self);
	/* The first touch of the runs' slots is a write. */
	fill_both(self, C(4) + P(1), PG, 5);
	fill_both(self, C(2) + P(64), 8, 6);
	fill_both(self, 0, PG, 7);
	EXPECT_EQ(-1, differs(self));
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(3, c.pages_cow);
}

TEST_F(runs, copy_of_a_run_after_its_source_changed)
{
	chain_of_runs(_metadata, self);
	/* The source of the first run goes; its pages stay the runs'. */
	ASSERT_EQ(0, zio_discard(self->fd, self->map, C(2)));
	memset(self->shadow, 0, C(2));
	ASSERT_EQ(0, copy_both(self, C(6), C(4), C(2)));
	fill_both(self, C(4), C(1), 8);
	EXPECT_EQ(-1, differs(self));
}

TEST_F(runs, copy_into_part_of_a_run)
{
	uint64_t runs0;

	chain_of_runs(_metadata, self);
	fill_both(self, C(7), C(1), 9);
	runs0 = runs_made(self);
	/*
	 * Each into a run of its own: a whole page, shared; pending pages;
	 * bytes; an unaligned chunk's worth, shared.
	 */
	ASSERT_EQ(0, copy_both(self, C(2) + P(10), C(7), P(1)));
	ASSERT_EQ(0, copy_both(self, C(3) + P(20), C(7) + 100, P(3)));
	ASSERT_EQ(0, copy_both(self, C(4) + P(5) + 7, C(7) + 99, 1000));
	ASSERT_EQ(0, copy_both(self, C(5) + P(32), C(7), C(1)));
	EXPECT_EQ(runs0, runs_made(self));
	EXPECT_EQ(-1, differs(self));
}

TEST_F(runs, copy_from_part_of_a_run)
{
	chain_of_runs(_metadata, self);
	ASSERT_EQ(0, copy_both(self, C(6) + P(3), C(2) + P(5), P(5)));
	ASSERT_EQ(0, copy_both(self, C(7) + P(1), C(4) + 100, P(4)));
	ASSERT_EQ(0, copy_both(self, C(6) + P(40), C(5) + P(32), C(1)));
	EXPECT_EQ(-1, differs(self));
	/* The copies' sources are still the runs' pages, unwritten. */
	fill_both(self, C(6) + P(3), P(5), 10);
	EXPECT_EQ(-1, differs(self));
}

/* A copy that starts inside a chunk makes runs of the whole chunks after. */
TEST_F(runs, copy_from_inside_a_chunk)
{
	uint64_t runs0 = runs_made(self);

	fill_both(self, 0, C(3), 19);
	ASSERT_EQ(0, copy_both(self, C(4) + P(10), P(10), C(2) + P(7)));
	EXPECT_EQ(runs0 + self->run, runs_made(self));
	EXPECT_EQ(-1, differs(self));
}

TEST_F(runs, overlapping_copies)
{
	uint64_t runs0 = runs_made(self);

	fill_both(self, 0, C(4), 11);
	/* Forward, one chunk apart: each chunk is read before it is written. */
	ASSERT_EQ(0, copy_both(self, 0, C(1), C(3)));
	/* Backward: page by page, splitting what it meets. */
	ASSERT_EQ(0, copy_both(self, C(1), 0, C(3)));
	ASSERT_EQ(0, copy_both(self, C(2), C(2), C(2)));
	EXPECT_LE(runs0 + 3 * self->run, runs_made(self));
	EXPECT_EQ(-1, differs(self));
}

TEST_F(runs, discard_part_and_whole)
{
	struct zio_counters c0, c;

	chain_of_runs(_metadata, self);
	ASSERT_EQ(0, zio_counters(self->fd, false, &c0));
	ASSERT_EQ(0, zio_discard(self->fd, self->map + C(2) + P(10), P(10)));
	memset(self->shadow + C(2) + P(10), 0, P(10));
	ASSERT_EQ(0, zio_discard(self->fd, self->map + C(3), C(1)));
	memset(self->shadow + C(3), 0, C(1));
	ASSERT_EQ(0, zio_discard(self->fd, self->map + C(4) + P(60), P(8)));
	memset(self->shadow + C(4) + P(60), 0, P(8));
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(10 + 64 + 8, c.discards - c0.discards);
	EXPECT_EQ(c0.pages_live - (10 + 64 + 8), c.pages_live);
	EXPECT_EQ(-1, differs(self));
}

TEST_F(runs, io_from_and_into_runs)
{
	char *back = malloc(C(2));
	int mfd = memfd_create("runs", MFD_CLOEXEC);
	struct zio_io io = {};

	ASSERT_NE(NULL, back);
	ASSERT_LE(0, mfd);
	chain_of_runs(_metadata, self);

	/* A write sends the runs' bytes, from an offset into one. */
	io.fd = mfd;
	io.addr = (unsigned long)self->map + C(4) + 300;
	io.len = C(2) - 300;
	io.offset = 0;
	ASSERT_EQ((long)io.len, ioctl(self->fd, ZIO_IOC_WRITE, &io));
	ASSERT_EQ((ssize_t)io.len, pread(mfd, back, io.len, 0));
	EXPECT_EQ(0, memcmp(back, self->shadow + C(4) + 300, io.len));

	/* A read into part of a run: whole pages, and a partial one. */
	fill_both(self, C(7), C(1), 12);
	ASSERT_EQ((ssize_t)C(1), pwrite(mfd, self->map + C(7), C(1), 0));
	io.addr = (unsigned long)self->map + C(2) + P(8);
	io.len = P(5) + 123;
	ASSERT_EQ((long)io.len, ioctl(self->fd, ZIO_IOC_READ, &io));
	memcpy(self->shadow + C(2) + P(8), self->shadow + C(7), io.len);
	EXPECT_EQ(-1, differs(self));
	close(mfd);
	free(back);
}

TEST_F(runs, fork_child_and_parent_isolated)
{
	int to_child[2], to_parent[2], status;
	pid_t pid;

	chain_of_runs(_metadata, self);
	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/* The child sees the runs' bytes, then its own write only. */
		if (differs(self) != -1)
			_exit(1);
		fill_both(self, C(2) + P(1), PG, 13);
		zio_wake(to_parent[1]);
		zio_wait_for(to_child[0]);
		_exit(differs(self) == -1 ? 0 : 2);
	}
	zio_wait_for(to_parent[0]);
	EXPECT_EQ(-1, differs(self));
	fill_both(self, C(4) + P(2), PG, 14);
	zio_wake(to_child[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(-1, differs(self));
}

TEST_F(runs, no_run_over_holes_or_pending_copies)
{
	uint64_t runs0 = runs_made(self);

	fill_both(self, 0, C(1), 15);
	ASSERT_EQ(0, zio_discard(self->fd, self->map + P(63), P(1)));
	memset(self->shadow + P(63), 0, P(1));
	ASSERT_EQ(0, copy_both(self, C(2), 0, C(1)));
	/* A pending page in the source chunk. */
	fill_both(self, C(1), C(1), 16);
	fill_both(self, C(7), P(2), 18);
	ASSERT_EQ(0, copy_both(self, C(1) + P(9), C(7) + 5, P(1)));
	ASSERT_EQ(0, copy_both(self, C(3), C(1), C(1)));
	EXPECT_EQ(runs0, runs_made(self));
	EXPECT_EQ(-1, differs(self));
}

struct writer {
	char *page;
	pthread_barrier_t *start;
	uint64_t salt;
};

static void *write_page(void *arg)
{
	struct writer *w = arg;

	pthread_barrier_wait(w->start);
	zio_fill(w->page, PG, w->salt);
	return NULL;
}

#define WRITERS	4

/*
 * Threads write different pages of one run at once: each fault splits
 * it, one split wins and the others give their shares back. The module's
 * page count coming back to where it was after each round shows that no
 * share was leaked; a share dropped twice would free a page still in a
 * slot, which the checks of the data and the debug kernels' see.
 */
TEST_F(runs, concurrent_first_writes)
{
	struct zio_counters g0;

	ASSERT_EQ(0, zio_global_counters(&g0));
	for (int round = 0; round < 20; round++) {
		pthread_barrier_t start;
		pthread_t tid[WRITERS];
		struct writer w[WRITERS];
		struct zio_counters c;

		fill_both(self, 0, C(1), 100 + round);
		ASSERT_EQ(0, copy_both(self, C(1), 0, C(1)));
		ASSERT_EQ(0, zio_counters(self->fd, false, &c));
		ASSERT_EQ(2 * RUN, c.pages_shared);
		ASSERT_EQ(0, pthread_barrier_init(&start, NULL, WRITERS));
		for (int i = 0; i < WRITERS; i++) {
			w[i].page = self->map + C(1) + P(i * 13 + round % 7);
			w[i].start = &start;
			w[i].salt = 1000 * round + i;
			zio_fill(self->shadow + C(1) + P(i * 13 + round % 7),
				 PG, w[i].salt);
			ASSERT_EQ(0, pthread_create(&tid[i], NULL, write_page,
						    &w[i]));
		}
		for (int i = 0; i < WRITERS; i++)
			pthread_join(tid[i], NULL);
		pthread_barrier_destroy(&start);
		ASSERT_EQ(-1, differs(self)) {
			TH_LOG("round %d", round);
		}
		/* The check read (and so filled) every slot. */
		ASSERT_EQ(0, zio_discard(self->fd, self->map, self->len));
		memset(self->shadow, 0, self->len);
		ASSERT_EQ(0, zio_counters(self->fd, false, &c));
		ASSERT_EQ(0, c.pages_live);
		ASSERT_EQ(4 * (round + 1), c.pages_cow);
		/* Pages the space let go of may wait in its pool. */
		ASSERT_EQ(0, zio_global_counters(&c));
		ASSERT_EQ(g0.pages_live, c.pages_live) {
			TH_LOG("round %d", round);
		}
	}
}

/* With the debug knob set, copies give each page its own entry. */
TEST_F(runs, debug_no_runs)
{
	long long saved = zio_param_get("debug_no_runs");
	uint64_t runs0 = runs_made(self);

	if (saved < 0)
		SKIP(return, "the module has no debug knobs");
	if (!self->run)
		SKIP(return, "no ZIO_FEATURE_COPY_RUNS: copies make no run anyway");
	ASSERT_EQ(0, zio_param_set("debug_no_runs", 1));
	fill_both(self, 0, C(2), 17);
	ASSERT_EQ(0, copy_both(self, C(2), 0, C(2)));
	ASSERT_EQ(0, zio_param_set("debug_no_runs", saved));
	EXPECT_EQ(runs0, runs_made(self));
	ASSERT_EQ(0, copy_both(self, C(4), C(2), C(2)));
	EXPECT_EQ(runs0 + 2, runs_made(self));
	EXPECT_EQ(-1, differs(self));
}

ZIO_TEST_NOTHING_LEFT()

TEST_HARNESS_MAIN
