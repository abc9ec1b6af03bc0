// SPDX-License-Identifier: GPL-2.0
/*
 * zio under a small memory.max: it degrades cleanly. zio pages are charged
 * to the memory cgroup of the process that owns the space and are not on
 * the LRU, so reclaim cannot take them back; past the limit the charge
 * fails and the memory cgroup's OOM killer runs:
 *
 * - a fault that needs a page (first touch, copy-on-write, a pending copy
 *   materialized) gets the process OOM-killed (SIGKILL);
 * - an ioctl that needs pages (ZIO_IOC_READ's fresh pages, the partial
 *   pages of ZIO_IOC_COPY) likewise, and fails with ENOMEM, having
 *   written or read nothing, when the OOM killer finds no victim
 *   (oom_score_adj -1000); such a process must then free memory before
 *   its next page fault, which the kernel would otherwise retry for
 *   ever, zio's or not;
 * - a copy that only shares or defers pages needs no memory and succeeds
 *   whole however full the cgroup is, and so does a ZIO_IOC_WRITE of the
 *   pending copies, which sends their source pages.
 *
 * In every case the kernel log stays clean (no warning; the runner checks),
 * and once the process is gone zio holds no page and the cgroup is back
 * to (almost) nothing.
 *
 * The work runs in a child moved into a new cgroup under /sys/fs/cgroup;
 * it reports how far it got through a shared page.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "zio_test.h"

#define CGROOT		"/sys/fs/cgroup"
#define LIMIT		(8LL << 20)	/* memory.max */
#define MAP_LEN		(40UL << 20)	/* five times the limit */
#define SRC_LEN		(1UL << 20)
#define SLACK		(1536 * 1024LL)	/* per-CPU charge stocks, page tables */

/* A "key value" line of a cgroup file such as memory.events. */
static long long cg_key(const char *cg, const char *file, const char *key)
{
	char path[192], line[128], name[64];
	long long v, found = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %lld", name, &v) == 2 && !strcmp(name, key))
			found = v;
	fclose(f);
	return found;
}

static long long cg_number(const char *cg, const char *file)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	return zio_read_number(path);
}

/* Shared with the child: how far it got, and what it saw. */
struct pressure_result {
	int step;		/* the last step begun */
	int done;		/* the child got to the end */
	long ret;		/* of the ioctl under test */
	struct zio_copy copy;
	long long current;	/* memory.current before the step that fails */
};

FIXTURE(pressure) {
	char path[128];
	bool made;
	struct pressure_result *res;
	int memfd;
};

FIXTURE_VARIANT(pressure) {
	/* what the child does: see child() */
	int what;
	bool unkillable;	/* oom_score_adj -1000: no OOM victim */
	/* what must come of it */
	bool killed;
	bool fits;		/* needs no page: the OOM killer never runs */
	long ret;		/* when not killed */
};

enum {
	FAULT_TOUCH, FAULT_COW, FAULT_MATERIALIZE, IOCTL_READ, IOCTL_COPY_PARTIAL,
	IOCTL_WRITE_PENDING,
};

/* First touch of five times the limit. */
FIXTURE_VARIANT_ADD(pressure, fault_first_touch) {
	.what = FAULT_TOUCH, .killed = true,
};

/* Shares cost nothing; writing them copies, past the limit. */
FIXTURE_VARIANT_ADD(pressure, fault_copy_on_write) {
	.what = FAULT_COW, .killed = true,
};

/* Pending copies cost nothing; reading them materializes them. */
FIXTURE_VARIANT_ADD(pressure, fault_materialize) {
	.what = FAULT_MATERIALIZE, .killed = true,
};

/* ZIO_IOC_READ of five times the limit into fresh pages. */
FIXTURE_VARIANT_ADD(pressure, ioctl_read_killed) {
	.what = IOCTL_READ, .killed = true,
};

FIXTURE_VARIANT_ADD(pressure, ioctl_read_enomem) {
	.what = IOCTL_READ, .unkillable = true, .ret = -ENOMEM,
};

/* Copies of partial pages into empty slots: one page each. */
FIXTURE_VARIANT_ADD(pressure, ioctl_copy_partial_killed) {
	.what = IOCTL_COPY_PARTIAL, .killed = true,
};

FIXTURE_VARIANT_ADD(pressure, ioctl_copy_partial_enomem) {
	.what = IOCTL_COPY_PARTIAL, .unkillable = true, .ret = -ENOMEM,
};

/* ZIO_IOC_WRITE of pending copies: from their source pages, none made. */
FIXTURE_VARIANT_ADD(pressure, ioctl_write_pending_needs_no_page) {
	.what = IOCTL_WRITE_PENDING, .fits = true, .ret = MAP_LEN - SRC_LEN,
};

/*
 * A new cgroup limited to LIMIT: 0, 1 (skip: no cgroup2 memory
 * controller) or -errno.
 */
static int make_cgroup(char *path, size_t size)
{
	char file[192], limit[32];
	int ret;

	if (access(CGROOT "/cgroup.subtree_control", W_OK) ||
	    zio_write_file(CGROOT "/cgroup.subtree_control", "+memory"))
		return 1;
	snprintf(path, size, CGROOT "/zio-pressure-%d", getpid());
	if (mkdir(path, 0755))
		return -errno;
	snprintf(file, sizeof(file), "%s/memory.max", path);
	snprintf(limit, sizeof(limit), "%lld", LIMIT);
	ret = zio_write_file(file, limit);
	/* No swap in the VM; and if there is, not for this. */
	snprintf(file, sizeof(file), "%s/memory.swap.max", path);
	zio_write_file(file, "0");
	if (ret)
		rmdir(path);
	return ret;
}

FIXTURE_SETUP(pressure)
{
	int ret = make_cgroup(self->path, sizeof(self->path));

	if (ret == 1)
		SKIP(return, "no cgroup2 memory controller at " CGROOT);
	ASSERT_EQ(0, ret);
	self->made = true;

	self->res = mmap(NULL, sizeof(*self->res), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->res);
	/* A file of holes: reading it costs no memory of its own. */
	self->memfd = memfd_create("zio-pressure", MFD_CLOEXEC);
	ASSERT_LE(0, self->memfd);
	ASSERT_EQ(0, ftruncate(self->memfd, MAP_LEN));
}

FIXTURE_TEARDOWN(pressure)
{
	if (self->made)
		rmdir(self->path);
	close(self->memfd);
	munmap(self->res, sizeof(*self->res));
}

static void child(const char *cg, const FIXTURE_VARIANT(pressure) *v,
		  int memfd, struct pressure_result *res)
{
	size_t ps = zio_page_size();
	char file[192], pid[32];
	struct zio_io io = { .fd = memfd, .offset = 0 };
	char *map;
	int fd;

	res->step = 1;
	snprintf(file, sizeof(file), "%s/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (zio_write_file(file, pid))
		return;
	if (v->unkillable && zio_write_file("/proc/self/oom_score_adj", "-1000"))
		return;
	res->step = 2;
	fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	map = zio_map(fd, MAP_LEN, 0);
	if (map == MAP_FAILED)
		return;
	/* The source: 1 MiB of pattern, well under the limit. */
	res->step = 3;
	zio_fill(map, SRC_LEN, 1);
	res->current = cg_number(cg, "memory.current");
	res->step = 4;

	switch (v->what) {
	case FAULT_TOUCH:
		for (size_t off = SRC_LEN; off < MAP_LEN; off += ps)
			map[off] = 1;
		break;
	case FAULT_COW:
	case FAULT_MATERIALIZE:
	case IOCTL_WRITE_PENDING: {
		/* Pending when the source is one byte off the page. */
		size_t shift = v->what != FAULT_COW;

		for (size_t off = SRC_LEN; off + SRC_LEN <= MAP_LEN; off += SRC_LEN) {
			res->ret = zio_copy(fd, map + off, map + shift,
					    SRC_LEN - shift, &res->copy);
			if (res->ret ||
			    res->copy.bytes_deferred + res->copy.bytes_copied != SRC_LEN - shift)
				return;
		}
		res->current = cg_number(cg, "memory.current");
		res->step = 5;
		if (v->what == IOCTL_WRITE_PENDING) {
			io.fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
			io.addr = (uintptr_t)map + SRC_LEN;
			io.len = MAP_LEN - SRC_LEN;
			io.offset = ZIO_IO_FILE_POS;
			res->ret = ioctl(fd, ZIO_IOC_WRITE, &io);
			if (res->ret < 0)
				res->ret = -errno;
			/* Room again before anything else faults. */
			if (zio_discard(fd, map + SRC_LEN, MAP_LEN - SRC_LEN))
				return;
			break;
		}
		for (size_t off = SRC_LEN; off < MAP_LEN; off += ps) {
			if (v->what == FAULT_COW)
				map[off] = 2;
			else
				(void)*(volatile char *)(map + off);
		}
		break;
	}
	case IOCTL_READ:
		io.addr = (uintptr_t)map + SRC_LEN;
		io.len = MAP_LEN - SRC_LEN;
		res->ret = ioctl(fd, ZIO_IOC_READ, &io);
		if (res->ret < 0)
			res->ret = -errno;
		break;
	case IOCTL_COPY_PARTIAL:
		/*
		 * Half a page into each empty destination page: the kernel
		 * allocates the page and copies, page after page, until a
		 * copy fails.
		 */
		for (size_t off = SRC_LEN; off < MAP_LEN; off += ps) {
			res->ret = zio_copy(fd, map + off, map, ps / 2, &res->copy);
			if (res->ret)
				break;
		}
		/*
		 * The cgroup is full now: a process the OOM killer may not
		 * kill would retry its next page fault (its stack's, say)
		 * for ever. Give the copies back first.
		 */
		if (zio_discard(fd, map + SRC_LEN, MAP_LEN - SRC_LEN))
			return;
		break;
	}
	res->step = 6;
	/* What failed changed nothing: the source is intact. */
	if (!zio_check(map, SRC_LEN, 1))
		return;
	munmap(map, MAP_LEN);
	close(fd);
	res->done = 1;
}

TEST_F_TIMEOUT(pressure, degrades_cleanly, 300)
{
	struct pressure_result *res = self->res;
	long long kills, cur = -1;
	struct zio_counters c;
	int status, i;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		child(self->path, variant, self->memfd, res);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	kills = cg_key(self->path, "memory.events", "oom_kill");
	TH_LOG("child: status 0x%x, step %d, done %d, ret %ld, copy %llu + %llu, memory.current %lld before the last step, oom_kill %lld",
	       status, res->step, res->done, res->ret, res->copy.bytes_deferred,
	       res->copy.bytes_copied, res->current, kills);

	if (variant->killed) {
		/* The memory cgroup's OOM killer, in the step under test. */
		ASSERT_TRUE(WIFSIGNALED(status));
		EXPECT_EQ(SIGKILL, WTERMSIG(status));
		EXPECT_EQ(1, kills);
		EXPECT_LE(4, res->step);
		EXPECT_GE(5, res->step);
	} else {
		ASSERT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status));
		EXPECT_EQ(1, res->done);
		EXPECT_EQ(variant->ret, res->ret);
		EXPECT_EQ(0, kills);
		/* The OOM killer ran and found nobody to kill, or never ran. */
		if (variant->fits) {
			EXPECT_EQ(0, cg_key(self->path, "memory.events", "oom"));
		} else {
			EXPECT_LE(1, cg_key(self->path, "memory.events", "oom"));
		}
	}
	if (variant->what == FAULT_COW || variant->what == FAULT_MATERIALIZE ||
	    variant->what == IOCTL_WRITE_PENDING) {
		/* Recording the copies took no memory and all of them worked. */
		EXPECT_LE(5, res->step);
		if (variant->what != IOCTL_WRITE_PENDING)
			EXPECT_EQ(0, res->ret);
		EXPECT_EQ(SRC_LEN - (variant->what != FAULT_COW),
			  res->copy.bytes_deferred + res->copy.bytes_copied);
	}

	/* Once the process is gone, zio holds nothing and nothing is charged. */
	for (i = 0; i < 50; i++) {
		ASSERT_EQ(0, zio_global_counters(&c));
		cur = cg_number(self->path, "memory.current");
		if (!c.pages_live && !c.pages_pending && cur <= SLACK)
			break;
		usleep(100 * 1000);
	}
	EXPECT_EQ(0, c.pages_live);
	EXPECT_EQ(0, c.pages_pending);
	EXPECT_EQ(0, c.pages_shared);
	EXPECT_GE(SLACK, cur);
}

/*
 * ZIO_IOC_READ from a pipe blocks with its fresh pages in hand; meanwhile
 * the cgroup fills up. When the data comes, the read must deliver it: the
 * bytes are out of the pipe by then, and an ENOMEM would lose them. The
 * buffer starts and ends mid-page in empty slots, which need pages of
 * their own besides the fresh ones. (zio used to allocate them after the
 * read, and returned ENOMEM with the data gone.)
 */
struct blocked_read {
	int zfd, pipe;
	char *buf;
	size_t len;
	long ret;
};

static void *blocked_reader(void *arg)
{
	struct blocked_read *r = arg;
	struct zio_io io = {
		.fd = r->pipe, .addr = (uintptr_t)r->buf, .len = r->len,
		.offset = ZIO_IO_FILE_POS,
	};

	r->ret = ioctl(r->zfd, ZIO_IOC_READ, &io);
	if (r->ret < 0)
		r->ret = -errno;
	return NULL;
}

static void blocked_read_child(const char *cg, int pipe_rd,
			       struct pressure_result *res)
{
	size_t ps = zio_page_size();
	char file[192], pid[32];
	struct blocked_read r;
	pthread_t thread;
	char *map;
	int fd;

	res->step = 1;
	snprintf(file, sizeof(file), "%s/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (zio_write_file(file, pid) || zio_write_file("/proc/self/oom_score_adj", "-1000"))
		return;
	res->step = 2;
	fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	map = zio_map(fd, MAP_LEN, 0);
	if (map == MAP_FAILED)
		return;
	zio_fill(map, ps, 1);
	r = (struct blocked_read){
		.zfd = fd, .pipe = pipe_rd, .buf = map + 8 * ps + ps / 2,
		.len = 2 * ps,
	};
	res->step = 3;
	if (pthread_create(&thread, NULL, blocked_reader, &r))
		return;
	usleep(300 * 1000);	/* the reader blocks in the pipe */
	/* Fill the cgroup: half pages into empty slots, until ENOMEM. */
	for (size_t off = SRC_LEN; off < MAP_LEN; off += ps) {
		res->ret = zio_copy(fd, map + off, map, ps / 2, NULL);
		if (res->ret)
			break;
	}
	res->current = cg_number(cg, "memory.current");
	res->step = 4;		/* the parent writes into the pipe now */
	pthread_join(thread, NULL);
	/* Room again before anything else faults. */
	if (zio_discard(fd, map + SRC_LEN, MAP_LEN - SRC_LEN))
		return;
	res->step = 5;
	res->copy.bytes_copied = r.ret;		/* what the read returned */
	if (r.ret == (long)r.len && !zio_check(r.buf, r.len, 2))
		return;
	munmap(map, MAP_LEN);
	close(fd);
	res->done = 1;
}

FIXTURE(blocked) {
	char path[128];
	bool made;
	struct pressure_result *res;
};

FIXTURE_SETUP(blocked)
{
	int ret = make_cgroup(self->path, sizeof(self->path));

	if (ret == 1)
		SKIP(return, "no cgroup2 memory controller at " CGROOT);
	ASSERT_EQ(0, ret);
	self->made = true;
	self->res = mmap(NULL, sizeof(*self->res), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->res);
}

FIXTURE_TEARDOWN(blocked)
{
	if (self->made)
		rmdir(self->path);
	munmap(self->res, sizeof(*self->res));
}

TEST_F_TIMEOUT(blocked, read_delivers_in_a_full_cgroup, 300)
{
	struct pressure_result *res = self->res;
	size_t ps = zio_page_size();
	char data[2 * 4096];
	int status, p[2], i;
	pid_t pid;

	ASSERT_EQ(2 * ps, sizeof(data));
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	memset(res, 0, sizeof(*res));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(p[1]);
		blocked_read_child(self->path, p[0], res);
		_exit(0);
	}
	close(p[0]);
	for (i = 0; i < 600 && res->step < 4; i++)
		usleep(100 * 1000);
	ASSERT_EQ(4, res->step);
	/* The pattern the buffer must show, from its first byte. */
	zio_fill(data, sizeof(data), 2);
	ASSERT_EQ((ssize_t)sizeof(data), write(p[1], data, sizeof(data)));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	close(p[1]);
	TH_LOG("child: status 0x%x, step %d, done %d, filled until %ld, memory.current %lld, the read returned %lld",
	       status, res->step, res->done, res->ret, res->current,
	       (long long)res->copy.bytes_copied);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(-ENOMEM, res->ret);	/* the cgroup was full */
	EXPECT_EQ(2 * ps, (long long)res->copy.bytes_copied);
	EXPECT_EQ(1, res->done);
}

ZIO_TEST_NOTHING_LEFT()

TEST_HARNESS_MAIN
