// SPDX-License-Identifier: GPL-2.0
/*
 * zio pages are charged to the memory cgroup of the process that makes
 * them: touching N pages raises memory.current by about N pages, sharing
 * them with a copy does not, writing the copies does, and munmap + close
 * gives it all back.
 *
 * The pages a space keeps for later go back when its cgroup reclaims.
 *
 * The work runs in a child moved into a new cgroup under /sys/fs/cgroup
 * (cgroup2, +memory enabled in the root's subtree_control); the numbers
 * come back to the test through a shared page.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "zio_test.h"

#define CGROOT		"/sys/fs/cgroup"
#define NPAGES		2048		/* 8 MiB: well above the charge batches */
#define SLACK		(1536 * 1024LL)	/* per-CPU charge stocks, page tables */

FIXTURE(memcg) {
	char path[128];
	bool made;
};

FIXTURE_SETUP(memcg)
{
	char file[192];

	if (access(CGROOT "/cgroup.subtree_control", W_OK))
		SKIP(return, "no writable cgroup2 at " CGROOT);
	if (zio_write_file(CGROOT "/cgroup.subtree_control", "+memory"))
		SKIP(return, "cannot enable the memory controller");
	snprintf(self->path, sizeof(self->path), CGROOT "/zio-memcg-%d", getpid());
	ASSERT_EQ(0, mkdir(self->path, 0755));
	self->made = true;
	snprintf(file, sizeof(file), "%s/memory.current", self->path);
	ASSERT_EQ(0, access(file, R_OK));
}

FIXTURE_TEARDOWN(memcg)
{
	if (self->made)
		rmdir(self->path);
}

struct memcg_result {
	int step;		/* 0 when the child got through */
	long long before, touched, shared, written, freed, exited;
	struct zio_counters mine;	/* before munmap */
	struct zio_counters global;	/* after munmap + close */
	int polls;		/* 100 ms waits before the charge went */
};

static long long memcg_current(const char *cg)
{
	char file[192];

	snprintf(file, sizeof(file), "%s/memory.current", cg);
	return zio_read_number(file);
}

/*
 * Where a child puts its results for the test: shared with it. Each
 * result struct starts with the int step the child got to, -1 until it
 * starts.
 */
static void *child_results(size_t size)
{
	int *step = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (step != MAP_FAILED)
		*step = -1;
	fflush(NULL);
	return step;
}

/*
 * Move the calling process into @cg, open zio and map @len bytes of it:
 * the mapping and *@fd, or MAP_FAILED with *@step at the step that failed.
 */
static char *join_and_map(const char *cg, size_t len, int *fd, int *step)
{
	char file[192], pid[32];

	snprintf(file, sizeof(file), "%s/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", getpid());
	*step = 1;
	if (zio_write_file(file, pid))
		return MAP_FAILED;
	*step = 2;
	*fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (*fd < 0)
		return MAP_FAILED;
	return zio_map(*fd, len, 0);
}

/*
 * What the child does: write N source pages (+ @gap), copy them to the N
 * pages after them (shared, or pending when @shift), read the copies, and
 * write them when @write; then munmap + close. The mapping has @tail
 * pages more at its end.
 */
FIXTURE_VARIANT(memcg) {
	bool copy, write, noread;
	size_t shift;
	size_t gap, tail;
};

FIXTURE_VARIANT_ADD(memcg, touch_only) {
	.gap = 1,
};

FIXTURE_VARIANT_ADD(memcg, share) {
	.copy = true, .gap = 1,
};

FIXTURE_VARIANT_ADD(memcg, share_write) {
	.copy = true, .write = true, .gap = 1,
};

FIXTURE_VARIANT_ADD(memcg, pending_touch) {
	.copy = true, .shift = 8, .gap = 1,
};

/* Destination right after the source (dst == src + len). */
FIXTURE_VARIANT_ADD(memcg, adjacent_share) {
	.copy = true,
};

/* Recorded, never read. */
FIXTURE_VARIANT_ADD(memcg, share_unread) {
	.copy = true, .noread = true, .gap = 1,
};

FIXTURE_VARIANT_ADD(memcg, adjacent_write) {
	.copy = true, .write = true,
};

static void child(const char *cg, const FIXTURE_VARIANT(memcg) *v,
		  struct memcg_result *res)
{
	size_t ps = zio_page_size(), half = NPAGES * ps;
	size_t slen = half + v->gap * ps, mlen = slen + half + v->tail * ps;
	char *map, *dst;
	int fd;

	map = join_and_map(cg, mlen, &fd, &res->step);
	if (map == MAP_FAILED)
		return;
	dst = map + slen;

	res->before = memcg_current(cg);
	zio_fill(map, slen, 1);
	res->touched = memcg_current(cg);
	res->step = 3;
	if (v->copy && zio_copy(fd, dst, map + v->shift, half, NULL))
		return;
	res->shared = memcg_current(cg);
	res->step = 4;
	if (v->copy && !v->noread && !zio_check_at(dst, v->shift, half, 1))
		return;
	if (v->write)
		zio_fill(dst, half, 2);
	res->written = memcg_current(cg);
	res->step = 5;
	if (!zio_check(map, slen, 1))
		return;
	zio_counters(fd, false, &res->mine);
	munmap(map, mlen);
	close(fd);
	zio_global_counters(&res->global);
	/* Give deferred frees (RCU, work) a moment; a leak stays. */
	for (int i = 0; i < 20; i++) {
		res->freed = memcg_current(cg);
		if (res->freed <= res->before + SLACK)
			break;
		res->polls++;
		usleep(100 * 1000);
	}
	res->step = 0;
}

TEST_F(memcg, charged_and_uncharged)
{
	long long n = NPAGES * (long long)zio_page_size();
	/* Materialized copies: written, or pending and read. */
	long long more = variant->write || variant->shift ? n : 0;
	long long extra = variant->gap * (long long)zio_page_size();
	struct memcg_result *res;
	int status;
	pid_t pid;

	res = child_results(sizeof(*res));
	ASSERT_NE(MAP_FAILED, res);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		child(self->path, variant, res);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	res->exited = memcg_current(self->path);
	ASSERT_EQ(0, res->step);
	TH_LOG("before munmap: live %llu shared %llu pending %llu cow %llu faults %llu",
	       res->mine.pages_live, res->mine.pages_shared, res->mine.pages_pending,
	       res->mine.pages_cow, res->mine.faults);
	TH_LOG("after close, the module: live %llu pending %llu",
	       res->global.pages_live, res->global.pages_pending);
	TH_LOG("memory.current: %lld, touched %lld, copied %lld, used %lld",
	       res->before, res->touched, res->shared, res->written);
	TH_LOG("memory.current: freed %lld after %d ms, %lld after exit",
	       res->freed, res->polls * 100, res->exited);

	ASSERT_LE(0, res->before);
	/* Touching N pages charges N pages. */
	EXPECT_LE(n - SLACK, res->touched - res->before);
	EXPECT_GE(n + SLACK, res->touched - res->before);
	/* Recording the copy charges (almost) nothing. */
	EXPECT_GE(SLACK, res->shared - res->touched);
	/* Materializing the copies charges N more, reading shared ones nothing. */
	EXPECT_LE(more - SLACK, res->written - res->shared);
	EXPECT_GE(more + SLACK, res->written - res->shared);
	/* munmap and close give it all back. */
	EXPECT_LE(n + extra + more - SLACK, res->written - res->freed);
	EXPECT_GE(res->before + SLACK, res->freed);
	/* And once the process is gone, nothing at all is left charged. */
	EXPECT_GE(SLACK, res->exited);
	munmap(res, sizeof(*res));
}

/* ZIO_IOC_READ of @len bytes of @seed from a pipe into @buf. */
static int read_from_pipe(int zfd, char *buf, size_t len, uint64_t seed)
{
	struct zio_io io = {
		.addr = (uintptr_t)buf, .len = len, .offset = ZIO_IO_FILE_POS,
	};
	char *in = malloc(len);
	int p[2], ret = -1;

	if (!in || pipe(p)) {
		free(in);
		return -1;
	}
	zio_fill(in, len, seed);
	io.fd = p[0];
	if (fcntl(p[1], F_SETPIPE_SZ, len) >= (long)len &&
	    write(p[1], in, len) == (ssize_t)len &&
	    ioctl(zfd, ZIO_IOC_READ, &io) == (long)len)
		ret = 0;
	close(p[0]);
	close(p[1]);
	free(in);
	return ret;
}

struct reclaim_result {
	int step;		/* 0 when the child got through */
	unsigned long long pooled, left;
};

/* In cgroup @cg: fill the space's pool, have the cgroup reclaim, read again. */
static void reclaim_child(const char *cg, struct reclaim_result *res)
{
	size_t len = 16 * zio_page_size();
	struct zio_counters c;
	char file[192], *map;
	int fd, ret;

	map = join_and_map(cg, len, &fd, &res->step);
	if (map == MAP_FAILED)
		return;
	/*
	 * A reclaim while the space keeps nothing must not take the cgroup
	 * off the shrinker's map for good.
	 */
	snprintf(file, sizeof(file), "%s/memory.reclaim", cg);
	ret = zio_write_file(file, "1G");
	if (ret && ret != -EAGAIN)
		return;
	/* The second read's fresh pages replace the first's: those are kept. */
	res->step = 3;
	if (read_from_pipe(fd, map, len, 1) || read_from_pipe(fd, map, len, 2) ||
	    zio_counters(fd, false, &c))
		return;
	res->pooled = c.pages_pooled;
	/* More than the cgroup has: every reclaim pass runs, then EAGAIN. */
	res->step = 4;
	ret = zio_write_file(file, "1G");
	if (ret && ret != -EAGAIN)
		return;
	res->step = 5;
	if (zio_counters(fd, false, &c))
		return;
	res->left = c.pages_pooled;
	res->step = 6;
	if (read_from_pipe(fd, map, len, 3) || !zio_check(map, len, 3))
		return;
	munmap(map, len);
	close(fd);
	res->step = 0;
}

/*
 * The pages a space keeps for later are charged to its cgroup, and that
 * cgroup's reclaim takes them back (the shrinker is memcg-aware): a
 * memory.reclaim of the cgroup empties the pool, and reads go on.
 */
TEST(kept_pages_go_back_under_cgroup_reclaim)
{
	struct reclaim_result *res;
	char cg[128], file[192];
	int status;
	pid_t pid;

	if (access(CGROOT "/cgroup.subtree_control", W_OK))
		SKIP(return, "no writable cgroup2 at " CGROOT);
	if (zio_write_file(CGROOT "/cgroup.subtree_control", "+memory"))
		SKIP(return, "cannot enable the memory controller");
	snprintf(cg, sizeof(cg), CGROOT "/zio-reclaim-%d", getpid());
	ASSERT_EQ(0, mkdir(cg, 0755));
	snprintf(file, sizeof(file), "%s/memory.reclaim", cg);
	if (access(file, W_OK)) {
		rmdir(cg);
		SKIP(return, "no memory.reclaim");
	}
	res = child_results(sizeof(*res));
	ASSERT_NE(MAP_FAILED, res);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		reclaim_child(cg, res);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	rmdir(cg);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, res->step);
	EXPECT_LE(16, res->pooled);
	EXPECT_EQ(0, res->left) TH_LOG("%llu of %llu kept pages stayed after the cgroup's reclaim",
				       res->left, res->pooled);
	munmap(res, sizeof(*res));
}

ZIO_TEST_NOTHING_LEFT()

TEST_HARNESS_MAIN
