// SPDX-License-Identifier: GPL-2.0
/*
 * fork(): the child gets a private snapshot of every zio mapping, like
 * anonymous memory. Writes after the fork stay in the process that made
 * them, whatever state the pages were in (written, shared by a copy,
 * pending), across VMA splits and moves, and copies in the child act on
 * the child's memory only.
 *
 * Parent and child take turns through two pipes; the child reports
 * failures by its exit status: 0 ok, else the number of the failed check.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "zio_test.h"

#define NPAGES	32

FIXTURE(fork) {
	int fd;
	size_t ps, len;
	char *map;
	int to_child[2], to_parent[2];
};

FIXTURE_SETUP(fork)
{
	self->ps = zio_page_size();
	self->len = NPAGES * self->ps;
	self->fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	self->map = zio_map(self->fd, self->len, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	ASSERT_EQ(0, pipe(self->to_child));
	ASSERT_EQ(0, pipe(self->to_parent));
}

FIXTURE_TEARDOWN(fork)
{
	struct zio_counters c;

	if (self->map)
		munmap(self->map, self->len);
	if (!zio_counters(self->fd, false, &c)) {
		EXPECT_EQ(0, c.pages_live);
		EXPECT_EQ(0, c.pages_pending);
	}
	close(self->fd);
	close(self->to_child[0]);
	close(self->to_child[1]);
	close(self->to_parent[0]);
	close(self->to_parent[1]);
}

/* Wait for the child; its exit status (0 when all was well). */
static int reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status))
		return 1000 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

#define CHILD_CHECK(n, cond) do { if (!(cond)) _exit(n); } while (0)

/*
 * The common scenario: with the pages in whatever state the test set up
 * (expected content: salt 1 for the whole mapping, or @expect), fork;
 * the parent writes, the child checks it still sees the old data and
 * writes, the parent checks it does not see the child's writes.
 */
static int fork_and_isolate(FIXTURE_DATA(fork) *self, const char *expect)
{
	char *theirs = malloc(self->len);
	pid_t pid;
	int ret = 0;

	if (!theirs)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		CHILD_CHECK(1, zio_diff(self->map, expect, self->len) < 0);
		zio_wake(self->to_parent[1]);
		zio_wait_for(self->to_child[0]);
		/* The parent wrote everything: the child still sees the old. */
		CHILD_CHECK(2, zio_diff(self->map, expect, self->len) < 0);
		zio_fill(self->map, self->len, 77);
		CHILD_CHECK(3, zio_check(self->map, self->len, 77));
		zio_wake(self->to_parent[1]);
		zio_wait_for(self->to_child[0]);
		CHILD_CHECK(4, zio_check(self->map, self->len, 77));
		_exit(0);
	}
	zio_wait_for(self->to_parent[0]);
	if (zio_diff(self->map, expect, self->len) >= 0)
		ret = 10;
	/* Half the pages fully, and one byte in each of the others. */
	zio_fill(self->map, self->len / 2, 66);
	for (size_t i = self->len / 2; i < self->len; i += self->ps)
		self->map[i + i / self->ps] ^= 0x80;
	memcpy(theirs, expect, self->len);
	zio_fill(theirs, self->len / 2, 66);
	for (size_t i = self->len / 2; i < self->len; i += self->ps)
		theirs[i + i / self->ps] ^= 0x80;
	zio_wake(self->to_child[1]);
	zio_wait_for(self->to_parent[0]);
	/* The child wrote everything: the parent still sees its own. */
	if (!ret && zio_diff(self->map, theirs, self->len) >= 0)
		ret = 11;
	zio_wake(self->to_child[1]);
	if (!ret)
		ret = reap(pid);
	else
		reap(pid);
	if (!ret && zio_diff(self->map, theirs, self->len) >= 0)
		ret = 12;
	free(theirs);
	return ret;
}

TEST_F(fork, written_pages)
{
	char *expect = malloc(self->len);

	ASSERT_NE(NULL, expect);
	zio_fill(self->map, self->len, 1);
	zio_fill(expect, self->len, 1);
	EXPECT_EQ(0, fork_and_isolate(self, expect));
	free(expect);
}

TEST_F(fork, untouched_pages)
{
	char *expect = calloc(1, self->len);

	ASSERT_NE(NULL, expect);
	/* Only two pages exist; the others are holes in both processes. */
	zio_fill(self->map + 3 * self->ps, self->ps, 1);
	zio_fill(expect + 3 * self->ps, self->ps, 1);
	self->map[20 * self->ps] = expect[20 * self->ps] = 5;
	EXPECT_EQ(0, fork_and_isolate(self, expect));
	free(expect);
}

TEST_F(fork, read_only_mapped_pages)
{
	char *expect = malloc(self->len);

	ASSERT_NE(NULL, expect);
	zio_fill(self->map, self->len, 1);
	zio_fill(expect, self->len, 1);
	/* Read-only PTEs at fork time. */
	ASSERT_EQ(0, madvise(self->map, self->len, MADV_DONTNEED));
	EXPECT_EQ(0, zio_diff(self->map, expect, self->len) >= 0);
	EXPECT_EQ(0, fork_and_isolate(self, expect));
	free(expect);
}

TEST_F(fork, shared_and_pending_pages)
{
	size_t ps = self->ps, half = self->len / 2;
	char *expect = malloc(self->len);

	ASSERT_NE(NULL, expect);
	zio_fill(self->map, half, 1);
	zio_fill(expect, half, 1);
	/* Pages 16-21 share 0-5; 22-31 (but the first) wait for a copy. */
	ASSERT_EQ(0, zio_copy(self->fd, self->map + half, self->map, 6 * ps, NULL));
	memcpy(expect + half, expect, 6 * ps);
	ASSERT_EQ(0, zio_copy(self->fd, self->map + half + 6 * ps + 1, self->map + 3,
			      10 * ps - 1, NULL));
	memcpy(expect + half + 6 * ps + 1, expect + 3, 10 * ps - 1);
	EXPECT_EQ(0, fork_and_isolate(self, expect));
	free(expect);
}

/* The parent writes the source of pending pages the child has not touched. */
TEST_F(fork, pending_source_written_by_parent)
{
	size_t ps = self->ps;
	pid_t pid;

	zio_fill(self->map, 9 * ps, 1);
	ASSERT_EQ(0, zio_copy(self->fd, self->map + 16 * ps, self->map + 100, 8 * ps, NULL));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		zio_wait_for(self->to_child[0]);
		CHILD_CHECK(1, zio_check(self->map, 9 * ps, 1));
		CHILD_CHECK(2, zio_check_at(self->map + 16 * ps, 100, 8 * ps, 1));
		_exit(0);
	}
	zio_fill(self->map, 9 * ps, 2);
	ASSERT_EQ(0, zio_discard(self->fd, self->map + 4 * ps, 4 * ps));
	zio_wake(self->to_child[1]);
	EXPECT_EQ(0, reap(pid));
	EXPECT_TRUE(zio_check_at(self->map + 16 * ps, 100, 8 * ps, 1));
	EXPECT_EQ(-1, zio_nonzero(self->map + 4 * ps, 4 * ps));
}

TEST_F(fork, after_vma_split)
{
	size_t ps = self->ps;
	char *expect = malloc(self->len);

	ASSERT_NE(NULL, expect);
	zio_fill(self->map, self->len, 1);
	zio_fill(expect, self->len, 1);
	/* Three VMAs, all writable, at fork time. */
	ASSERT_EQ(0, zio_split(self->map + 8 * ps, 8 * ps));
	ASSERT_EQ(3, zio_vma_count(self->map, self->len));
	ASSERT_EQ(0, zio_copy(self->fd, self->map + 20 * ps, self->map + 6 * ps,
			      4 * ps, NULL));
	memcpy(expect + 20 * ps, expect + 6 * ps, 4 * ps);
	ASSERT_EQ(0, zio_copy(self->fd, self->map + 10 * ps + 3, self->map + 26 * ps,
			      4 * ps, NULL));
	memcpy(expect + 10 * ps + 3, expect + 26 * ps, 4 * ps);
	EXPECT_EQ(0, fork_and_isolate(self, expect));
	free(expect);
}

/* MADV_DONTFORK: the child has no such range; the parent keeps its data. */
TEST_F(fork, dontfork_range)
{
	size_t ps = self->ps;
	pid_t pid;

	zio_fill(self->map, self->len, 1);
	ASSERT_EQ(0, madvise(self->map + 8 * ps, 8 * ps, MADV_DONTFORK));
	ASSERT_EQ(3, zio_vma_count(self->map, self->len));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		CHILD_CHECK(1, zio_check(self->map, 8 * ps, 1));
		CHILD_CHECK(2, zio_check_at(self->map + 16 * ps, 16 * ps, 16 * ps, 1));
		zio_fill(self->map, 8 * ps, 2);
		_exit(0);
	}
	EXPECT_EQ(0, reap(pid));
	EXPECT_TRUE(zio_check(self->map, self->len, 1));
}

/*
 * Stores 1, 2, 3... to @first and then to @second, until told to stop:
 * at any moment *first == *second or *first == *second + 1.
 */
struct spin_writer {
	volatile uint32_t *first, *second;
	atomic_bool stop;
	atomic_ulong stores;
};

static void *spin_write(void *arg)
{
	struct spin_writer *w = arg;
	uint32_t v = 0;

	while (!atomic_load(&w->stop)) {
		v++;
		*w->first = v;
		*w->second = v;
		atomic_fetch_add(&w->stores, 1);
	}
	return NULL;
}

/*
 * The fork's snapshot must be one moment, also for slots that a second
 * mapping maps: @pages (1 or 2) slots, mapped by a (forked) and above it
 * by b (MADV_DONTFORK, so the fork never copies b, and reaches it last),
 * while a thread stores through b. debug_fork_delay_us holds the fork
 * after the zap of a's slots and after the snapshot of each. The writer
 * runs before the fork (1000 stores counted), and its next store after
 * the zap faults; on 6.12 a fault may run under its VMA's lock alone, so
 * the fork must write-lock b as well before it zaps, or that store lands
 * in a page the child gets. The child reads its words twice, 100 ms
 * apart: they must not change (exit 1), two of them must be as the
 * writer left them at one moment (exit 2), and they must hold the
 * writer's stores from before the fork (exit 3). The writer must go on
 * after the fork. (On 6.1 every fault takes mmap_lock and so waits anyway.)
 */
static void fork_during_stores(struct __test_metadata *_metadata,
			       FIXTURE_DATA(fork) *self, unsigned int pages)
{
	long long saved = zio_param_get("debug_fork_delay_us");
	size_t ps = self->ps, len = pages * ps, at = 128;
	struct spin_writer w = { 0 };
	unsigned long before, after;
	char *base, *a, *b;
	pthread_t thread;
	pid_t pid;

	if (saved < 0)
		SKIP(return, "the module has no debug_fork_delay_us");
	base = mmap(NULL, 2 * len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, base);
	/* Slots past the fixture's mapping: no other VMA maps them. */
	a = mmap(base, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 self->fd, self->len);
	b = mmap(base + len, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 self->fd, self->len);
	ASSERT_EQ(base, a);
	ASSERT_EQ(base + len, b);
	ASSERT_EQ(0, madvise(b, len, MADV_DONTFORK));
	memset(a, 0, len);
	w.first = (volatile uint32_t *)(b + at);
	w.second = (volatile uint32_t *)(b + (pages - 1) * ps + at);
	ASSERT_EQ(0, pthread_create(&thread, NULL, spin_write, &w));
	while (atomic_load(&w.stores) < 1000)
		usleep(1000);

	EXPECT_EQ(0, zio_param_set("debug_fork_delay_us", 200000));
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		volatile uint32_t *first = (volatile uint32_t *)(a + at);
		volatile uint32_t *second = (volatile uint32_t *)(a + (pages - 1) * ps + at);
		uint32_t f = *first, s = *second;

		usleep(100000);
		CHILD_CHECK(1, *first == f && *second == s);
		CHILD_CHECK(2, f == s || f == s + 1);
		CHILD_CHECK(3, s >= 1000);
		_exit(0);
	}
	EXPECT_EQ(0, zio_param_set("debug_fork_delay_us", saved));
	EXPECT_LE(0, pid);
	before = atomic_load(&w.stores);
	if (pid > 0)
		EXPECT_EQ(0, reap(pid));
	after = atomic_load(&w.stores);
	atomic_store(&w.stop, true);
	pthread_join(thread, NULL);
	EXPECT_LT(before, after);
	munmap(base, 2 * len);
}

TEST_F(fork, write_through_other_mapping_during_snapshot)
{
	fork_during_stores(_metadata, self, 1);
}

TEST_F(fork, ordered_stores_through_other_mapping_during_snapshot)
{
	fork_during_stores(_metadata, self, 2);
}

/* Pending pages whose source range the child does not inherit. */
TEST_F(fork, pending_source_not_inherited)
{
	size_t ps = self->ps;
	pid_t pid;

	zio_fill(self->map, 9 * ps, 1);
	ASSERT_EQ(0, zio_copy(self->fd, self->map + 16 * ps, self->map + 7, 8 * ps, NULL));
	ASSERT_EQ(0, zio_copy(self->fd, self->map + 24 * ps, self->map, 8 * ps, NULL));
	ASSERT_EQ(0, madvise(self->map, 9 * ps, MADV_DONTFORK));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		zio_wait_for(self->to_child[0]);
		CHILD_CHECK(1, zio_check_at(self->map + 16 * ps, 7, 8 * ps, 1));
		CHILD_CHECK(2, zio_check(self->map + 24 * ps, 8 * ps, 1));
		_exit(0);
	}
	zio_fill(self->map, 9 * ps, 2);
	ASSERT_EQ(0, munmap(self->map, 9 * ps));
	zio_wake(self->to_child[1]);
	EXPECT_EQ(0, reap(pid));
	EXPECT_TRUE(zio_check_at(self->map + 16 * ps, 7, 8 * ps, 1));
	ASSERT_EQ(0, munmap(self->map + 9 * ps, self->len - 9 * ps));
	self->map = NULL;
}

TEST_F(fork, split_read_only_at_fork)
{
	size_t ps = self->ps;
	pid_t pid;

	zio_fill(self->map, self->len, 1);
	ASSERT_EQ(0, mprotect(self->map + 8 * ps, 8 * ps, PROT_READ));
	ASSERT_EQ(3, zio_vma_count(self->map, self->len));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		zio_wait_for(self->to_child[0]);
		CHILD_CHECK(1, zio_check(self->map, self->len, 1));
		CHILD_CHECK(2, !mprotect(self->map + 8 * ps, 8 * ps, PROT_READ | PROT_WRITE));
		zio_fill(self->map, self->len, 3);
		zio_wake(self->to_parent[1]);
		_exit(0);
	}
	ASSERT_EQ(0, mprotect(self->map + 8 * ps, 8 * ps, PROT_READ | PROT_WRITE));
	zio_fill_at(self->map + 8 * ps, 8 * ps, 8 * ps, 2);
	zio_fill(self->map, 8 * ps, 2);
	zio_wake(self->to_child[1]);
	zio_wait_for(self->to_parent[0]);
	EXPECT_EQ(0, reap(pid));
	EXPECT_TRUE(zio_check(self->map, 16 * ps, 2));
	EXPECT_TRUE(zio_check_at(self->map + 16 * ps, 16 * ps, 16 * ps, 1));
}

TEST_F(fork, after_mremap_move)
{
	char *target, *expect = malloc(self->len), *p;

	ASSERT_NE(NULL, expect);
	zio_fill(self->map, self->len, 1);
	zio_fill(expect, self->len, 1);
	target = mmap(NULL, self->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, target);
	p = mremap(self->map, self->len, self->len, MREMAP_MAYMOVE | MREMAP_FIXED, target);
	ASSERT_EQ(target, p);
	self->map = p;
	ASSERT_EQ(0, zio_copy(self->fd, self->map + 16 * self->ps, self->map + 7,
			      8 * self->ps, NULL));
	memcpy(expect + 16 * self->ps, expect + 7, 8 * self->ps);
	EXPECT_EQ(0, fork_and_isolate(self, expect));
	free(expect);
}

TEST_F(fork, copy_in_child)
{
	size_t ps = self->ps;
	pid_t pid;

	zio_fill(self->map, self->len, 1);
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct zio_copy out;
		struct zio_counters c;

		CHILD_CHECK(1, !zio_copy(self->fd, self->map + 16 * ps, self->map, 8 * ps, &out));
		CHILD_CHECK(2, out.bytes_deferred == 8 * ps);
		CHILD_CHECK(3, !zio_copy(self->fd, self->map + 24 * ps + 1, self->map + 5,
					 4 * ps, NULL));
		CHILD_CHECK(4, zio_check(self->map + 16 * ps, 8 * ps, 1));
		CHILD_CHECK(5, zio_check_at(self->map + 24 * ps + 1, 5, 4 * ps, 1));
		CHILD_CHECK(6, !zio_counters(self->fd, false, &c));
		CHILD_CHECK(7, c.copies == 2);
		CHILD_CHECK(8, c.pages_live >= NPAGES);
		zio_wake(self->to_parent[1]);
		zio_wait_for(self->to_child[0]);
		/* The parent's writes do not show. */
		CHILD_CHECK(9, zio_check(self->map, 8 * ps, 1));
		CHILD_CHECK(10, zio_check(self->map + 16 * ps, 8 * ps, 1));
		_exit(0);
	}
	zio_wait_for(self->to_parent[0]);
	/* The child's copies do not show in the parent. */
	EXPECT_TRUE(zio_check(self->map, self->len, 1));
	zio_fill(self->map, self->len, 2);
	zio_wake(self->to_child[1]);
	EXPECT_EQ(0, reap(pid));
	EXPECT_TRUE(zio_check(self->map, self->len, 2));
}

TEST_F(fork, many_children_and_grandchildren)
{
	pid_t pids[6];

	zio_fill(self->map, self->len, 1);
	ASSERT_EQ(0, zio_copy(self->fd, self->map + 16 * self->ps, self->map + 9,
			      8 * self->ps, NULL));
	fflush(NULL);
	for (int i = 0; i < 6; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0) {
			pid_t g;

			zio_fill(self->map + (size_t)i * self->ps, 3 * self->ps, 10 + i);
			g = fork();
			CHILD_CHECK(1, g >= 0);
			if (g == 0) {
				zio_fill(self->map, self->len, 20 + i);
				_exit(0);
			}
			CHILD_CHECK(2, reap(g) == 0);
			CHILD_CHECK(3, zio_check(self->map + (size_t)i * self->ps,
						 3 * self->ps, 10 + i));
			CHILD_CHECK(4, zio_check_at(self->map + 16 * self->ps, 9,
						    8 * self->ps, 1));
			_exit(0);
		}
	}
	for (int i = 0; i < 6; i++)
		EXPECT_EQ(0, reap(pids[i]));
	EXPECT_TRUE(zio_check(self->map, 16 * self->ps, 1));
	EXPECT_TRUE(zio_check_at(self->map + 16 * self->ps, 9, 8 * self->ps, 1));
}

TEST_F(fork, exit_frees_everything)
{
	struct zio_counters before, after;
	pid_t pid;

	zio_fill(self->map, self->len, 1);
	ASSERT_EQ(0, zio_global_counters(&before));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		zio_fill(self->map, self->len, 2);
		CHILD_CHECK(1, !zio_copy(self->fd, self->map + 16 * self->ps,
					 self->map + 1, 8 * self->ps, NULL));
		_exit(0);
	}
	EXPECT_EQ(0, reap(pid));
	ASSERT_EQ(0, zio_global_counters(&after));
	EXPECT_EQ(before.pages_live, after.pages_live);
	EXPECT_EQ(before.pages_pending, after.pages_pending);
	EXPECT_EQ(before.pages_shared, after.pages_shared);
	EXPECT_TRUE(zio_check(self->map, self->len, 1));

	ASSERT_EQ(0, munmap(self->map, self->len));
	self->map = NULL;
	ASSERT_EQ(0, zio_global_counters(&after));
	EXPECT_EQ(0, after.pages_live);
	EXPECT_EQ(0, after.pages_pending);
}

ZIO_TEST_NOTHING_LEFT()

TEST_HARNESS_MAIN
