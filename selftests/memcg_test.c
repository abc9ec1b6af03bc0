// SPDX-License-Identifier: GPL-2.0
/*
 * zio pages are charged to the memory cgroup of the process that makes
 * them: touching N pages raises memory.current by about N pages, sharing
 * them with a copy does not, writing the copies does, and munmap + close
 * gives it all back.
 *
 * The work runs in a child moved into a new cgroup under /sys/fs/cgroup
 * (cgroup2, +memory enabled in the root's subtree_control); the numbers
 * come back to the test through a shared page.
 */
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

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -errno;
}

static long long read_number(const char *path)
{
	char buf[64];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	return strtoll(buf, NULL, 10);
}

FIXTURE_SETUP(memcg)
{
	char file[192];

	if (access(CGROOT "/cgroup.subtree_control", W_OK))
		SKIP(return, "no writable cgroup2 at " CGROOT);
	if (write_file(CGROOT "/cgroup.subtree_control", "+memory"))
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
	long long before, touched, shared, written, freed;
	int polls;		/* 100 ms waits before the charge went */
};

static long long current(const char *cg)
{
	char file[192];

	snprintf(file, sizeof(file), "%s/memory.current", cg);
	return read_number(file);
}

/*
 * What the child does with its N source pages (always written first) and
 * N destination pages, before munmap + close.
 */
enum memcg_mode {
	TOUCH_ONLY,		/* nothing more */
	SHARE,			/* aligned copy, destination only read */
	SHARE_WRITE,		/* aligned copy, destination written */
	PENDING_TOUCH,		/* unaligned copy, destination read */
};

FIXTURE_VARIANT(memcg) {
	enum memcg_mode mode;
};

FIXTURE_VARIANT_ADD(memcg, touch_only) {
	.mode = TOUCH_ONLY,
};

FIXTURE_VARIANT_ADD(memcg, share) {
	.mode = SHARE,
};

FIXTURE_VARIANT_ADD(memcg, share_write) {
	.mode = SHARE_WRITE,
};

FIXTURE_VARIANT_ADD(memcg, pending_touch) {
	.mode = PENDING_TOUCH,
};

static void child(const char *cg, enum memcg_mode mode, struct memcg_result *res)
{
	size_t ps = zio_page_size(), half = NPAGES * ps;
	char file[192], pid[32];
	char *map;
	int fd;

	snprintf(file, sizeof(file), "%s/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", getpid());
	res->step = 1;
	if (write_file(file, pid))
		return;
	res->step = 2;
	fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	map = zio_map(fd, 2 * half + ps, 0);
	if (map == MAP_FAILED)
		return;

	res->before = current(cg);
	zio_fill(map, half + ps, 1);
	res->touched = current(cg);
	res->step = 3;
	if (mode == SHARE || mode == SHARE_WRITE) {
		if (zio_copy(fd, map + half + ps, map, half, NULL))
			return;
	} else if (mode == PENDING_TOUCH) {
		if (zio_copy(fd, map + half + ps, map + 8, half, NULL))
			return;
	}
	res->shared = current(cg);
	res->step = 4;
	if (mode == SHARE || mode == SHARE_WRITE) {
		if (!zio_check(map + half + ps, half, 1))
			return;
	} else if (mode == PENDING_TOUCH) {
		if (!zio_check_at(map + half + ps, 8, half, 1))
			return;
	}
	if (mode == SHARE_WRITE)
		zio_fill(map + half + ps, half, 2);
	res->written = current(cg);
	res->step = 5;
	if (!zio_check(map, half + ps, 1))
		return;
	munmap(map, 2 * half + ps);
	close(fd);
	/* Give deferred frees (RCU, work) a moment; a leak stays. */
	for (int i = 0; i < 20; i++) {
		res->freed = current(cg);
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
	long long more = variant->mode == TOUCH_ONLY || variant->mode == SHARE ? 0 : n;
	struct memcg_result *res;
	int status;
	pid_t pid;

	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, res);
	res->step = -1;
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		child(self->path, variant->mode, res);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, res->step);
	TH_LOG("memory.current: %lld, touched %lld, copied %lld, used %lld, freed %lld after %d ms",
	       res->before, res->touched, res->shared, res->written, res->freed,
	       res->polls * 100);

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
	EXPECT_LE(n + more - SLACK, res->written - res->freed);
	EXPECT_GE(res->before + SLACK, res->freed);
	munmap(res, sizeof(*res));
}

ZIO_TEST_NOTHING_LEFT()

TEST_HARNESS_MAIN
