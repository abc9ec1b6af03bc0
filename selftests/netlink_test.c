// SPDX-License-Identifier: GPL-2.0
/*
 * The "zio" generic netlink family, the tracepoints and zioctl: numbers
 * match what the test did, settings need CAP_NET_ADMIN and are checked,
 * bad attributes get their extack message, events arrive, tracepoints fire.
 *
 * Talks netlink through zioctl's client of the family (tools/zioctl/zio_genl.c,
 * on libnl-genl-3). Each test runs in its own process
 * (the harness forks), and the tests of this program run one at a time, so
 * the spaces of the test's pid are the test's own.
 */
#include <grp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "zio_genl.h"
#include "zio_test.h"

#define PAGE		4096UL
#define NOBODY		65534
#define MAX_SPACES	1024
#define MAX_EVENTS	64

/* ---- the replies, parsed ---- */

struct space {
	uint64_t id;
	uint32_t pid, uid;
	bool has_uid;
	uint64_t c[ZIO_COUNTER_MAX + 1];
};

struct stats {
	uint64_t space_limit, copy_threshold;
	uint64_t max_pages;		/* 0: not in the reply */
	uint32_t max_records, nr_spaces, page_size;
	uint8_t enabled;
	uint64_t c[ZIO_COUNTER_MAX + 1];
};

struct event {
	uint8_t cmd;
	uint64_t id, mmap_end, space_limit;
	uint32_t pid, uid, ppid;
};

struct req {
	struct zio_genl_req r;
	unsigned int nr;		/* replies */
	struct stats *stats;
	struct space *spaces;		/* MAX_SPACES of them */
};

static void parse_counters(struct nlattr *nest, uint64_t *c)
{
	struct nlattr *tb[ZIO_COUNTER_MAX + 1];
	int i;

	memset(c, 0xff, sizeof(*c) * (ZIO_COUNTER_MAX + 1));
	if (!nest || nla_parse_nested(tb, ZIO_COUNTER_MAX, nest, NULL) < 0)
		return;
	for (i = 0; i <= ZIO_COUNTER_MAX; i++)
		if (tb[i])
			c[i] = nla_get_u64(tb[i]);
}

static int req_parse(struct nlattr **tb, uint8_t cmd, void *arg)
{
	struct req *req = arg;

	if (cmd == ZIO_CMD_GET_STATS && req->stats) {
		struct stats *st = req->stats;

		st->space_limit = nla_get_u64(tb[ZIO_ATTR_SPACE_LIMIT]);
		st->copy_threshold = nla_get_u64(tb[ZIO_ATTR_COPY_THRESHOLD]);
		st->max_records = nla_get_u32(tb[ZIO_ATTR_MAX_RECORDS]);
		st->max_pages = tb[ZIO_ATTR_MAX_PAGES] ?
				nla_get_u64(tb[ZIO_ATTR_MAX_PAGES]) : 0;
		st->nr_spaces = nla_get_u32(tb[ZIO_ATTR_NR_SPACES]);
		st->page_size = nla_get_u32(tb[ZIO_ATTR_PAGE_SIZE]);
		st->enabled = nla_get_u8(tb[ZIO_ATTR_ENABLED]);
		parse_counters(tb[ZIO_ATTR_COUNTERS], st->c);
	}
	if (cmd == ZIO_CMD_GET_SPACE && req->spaces && req->nr < MAX_SPACES) {
		struct space *sp = &req->spaces[req->nr];

		sp->id = nla_get_u64(tb[ZIO_ATTR_SPACE_ID]);
		sp->pid = nla_get_u32(tb[ZIO_ATTR_PID]);
		sp->has_uid = tb[ZIO_ATTR_UID];
		sp->uid = sp->has_uid ? nla_get_u32(tb[ZIO_ATTR_UID]) : 0;
		parse_counters(tb[ZIO_ATTR_COUNTERS], sp->c);
	}
	req->nr++;
	return NL_OK;
}

/* Send @msg, collect the answers in @req; returns the kernel's -errno. */
static int nl_run(struct zio_genl *nl, struct nl_msg *msg, struct req *req)
{
	req->r.parse = req_parse;
	req->r.arg = req;
	return zio_genl_run(nl, msg, &req->r) < 0 ? -EIO : req->r.error;
}

static int get_stats(struct zio_genl *nl, struct stats *st)
{
	struct req req = { .stats = st };

	return nl_run(nl, zio_genl_msg(nl, ZIO_CMD_GET_STATS, 0), &req);
}

/* Dump the spaces into @sp; returns how many, or -errno. */
static int get_spaces(struct zio_genl *nl, struct space *sp)
{
	struct req req = { .spaces = sp };
	int ret;

	ret = nl_run(nl, zio_genl_msg(nl, ZIO_CMD_GET_SPACE, NLM_F_DUMP), &req);
	return ret ? ret : (int)req.nr;
}

/* The spaces of @pid, from a dump. */
static int find_spaces(struct zio_genl *nl, pid_t pid, struct space *out, int max)
{
	static struct space all[MAX_SPACES];
	int n, i, found = 0;

	n = get_spaces(nl, all);
	for (i = 0; i < n; i++)
		if (all[i].pid == (uint32_t)pid && found < max)
			out[found++] = all[i];
	return n < 0 ? n : found;
}

/* SET with one attribute; @msgbuf gets the extack message. */
static int set_attr(struct zio_genl *nl, int type, int len, uint64_t value,
		    char *msgbuf)
{
	struct nl_msg *msg = zio_genl_msg(nl, ZIO_CMD_SET, 0);
	struct req req = { 0 };
	int ret;

	if (len == 8)
		nla_put_u64(msg, type, value);
	else if (len == 4)
		nla_put_u32(msg, type, value);
	else if (len == 1)
		nla_put_u8(msg, type, value);
	ret = nl_run(nl, msg, &req);
	if (msgbuf)
		strcpy(msgbuf, req.r.msg);
	return ret;
}

/* ---- zio helpers ---- */

static void *zmap(int fd, unsigned long pages, unsigned long pgoff)
{
	return mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    pgoff * PAGE);
}

static int zcopy(int fd, void *dst, void *src, size_t len,
		 struct zio_copy *out)
{
	struct zio_copy c = {
		.dst = (uintptr_t)dst, .src = (uintptr_t)src, .len = len,
	};
	int ret = zio_ioctl(fd, ZIO_IOC_COPY, &c);

	if (out)
		*out = c;
	return ret;
}

/* ZIO_IOC_WRITE or ZIO_IOC_READ of @len bytes at @addr, through @pipefd. */
static long zio_pipe_io(int fd, unsigned long cmd, int pipefd, void *addr,
			size_t len)
{
	struct zio_io io = {
		.fd = pipefd, .addr = (uintptr_t)addr, .len = len,
		.offset = ZIO_IO_FILE_POS,
	};
	long ret = ioctl(fd, cmd, &io);

	return ret < 0 ? -errno : ret;
}

static void drop_privileges(void)
{
	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY))
		_exit(90);
}


/* @out, a command's output, holds @text; else both go to the log. */
#define EXPECT_OUTPUT_HAS(out, text)					\
	EXPECT_NE(NULL, strstr(out, text)) {				\
		TH_LOG("%s not in: %s", text, out);			\
	}

FIXTURE(nl) {
	struct zio_genl nl;
	int fd;
};

FIXTURE_SETUP(nl)
{
	self->fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, zio_genl_open(&self->nl)) {
		TH_LOG("no generic netlink family \"%s\"", ZIO_GENL_NAME);
	}
}

FIXTURE_TEARDOWN(nl)
{
	zio_genl_close(&self->nl);
	close(self->fd);
}

/* Counters, module-wide and per space, count exactly what the test did. */
TEST_F(nl, counters_match)
{
	const int copies = 5, pages = 8;
	struct stats before, after;
	struct space sp[4];
	struct zio_copy c;
	char *src, *dst, *p;
	int i;

	src = zmap(self->fd, 16, 0);
	dst = zmap(self->fd, 16, 16);
	ASSERT_NE(MAP_FAILED, src);
	ASSERT_NE(MAP_FAILED, dst);
	for (i = 0; i < 16; i++)
		src[i * PAGE] = i + 1;

	ASSERT_EQ(0, get_stats(&self->nl, &before));
	for (i = 0; i < copies; i++) {
		ASSERT_EQ(0, zcopy(self->fd, dst, src, pages * PAGE, &c));
		ASSERT_EQ(pages * PAGE, c.bytes_deferred);
	}
	ASSERT_EQ(0, get_stats(&self->nl, &after));
	EXPECT_EQ(copies, after.c[ZIO_COUNTER_COPIES] - before.c[ZIO_COUNTER_COPIES]);
	EXPECT_EQ(copies * pages * PAGE, after.c[ZIO_COUNTER_BYTES_DEFERRED] -
					 before.c[ZIO_COUNTER_BYTES_DEFERRED]);
	EXPECT_EQ(before.c[ZIO_COUNTER_BYTES_COPIED], after.c[ZIO_COUNTER_BYTES_COPIED]);
	EXPECT_LE(1, after.nr_spaces);
	EXPECT_EQ(PAGE, after.page_size);
	/* Module-wide counters carry no per-space record count. */
	EXPECT_EQ(UINT64_MAX, after.c[ZIO_COUNTER_RECORDS]);

	ASSERT_EQ(1, find_spaces(&self->nl, getpid(), sp, 4));
	EXPECT_TRUE(sp[0].has_uid);
	EXPECT_EQ(getuid(), sp[0].uid);
	EXPECT_EQ(copies, sp[0].c[ZIO_COUNTER_COPIES]);
	EXPECT_EQ(copies * pages * PAGE, sp[0].c[ZIO_COUNTER_BYTES_DEFERRED]);
	EXPECT_EQ(0, sp[0].c[ZIO_COUNTER_BYTES_COPIED]);
	EXPECT_EQ(16 + pages, sp[0].c[ZIO_COUNTER_PAGES_LIVE]);
	EXPECT_EQ(2 * pages, sp[0].c[ZIO_COUNTER_PAGES_SHARED]);
	EXPECT_EQ(0, sp[0].c[ZIO_COUNTER_PAGES_PENDING]);
	EXPECT_EQ(copies, sp[0].c[ZIO_COUNTER_RECORDS]);
	EXPECT_EQ(0, sp[0].c[ZIO_COUNTER_PAGES_COW]);

	/* A write to a shared page copies it: one copy-on-write. */
	dst[0] = 42;
	/* A copy from mid-page makes the destination page pending... */
	ASSERT_EQ(0, zcopy(self->fd, dst + 8 * PAGE, src + 100, PAGE, &c));
	ASSERT_EQ(PAGE, c.bytes_deferred);
	ASSERT_EQ(1, find_spaces(&self->nl, getpid(), sp, 4));
	EXPECT_EQ(1, sp[0].c[ZIO_COUNTER_PAGES_COW]);
	EXPECT_EQ(1, sp[0].c[ZIO_COUNTER_PAGES_PENDING]);
	EXPECT_EQ(0, sp[0].c[ZIO_COUNTER_PAGES_MATERIALIZED]);
	/* ... until it is touched. */
	p = dst + 8 * PAGE;
	EXPECT_EQ(src[PAGE], p[PAGE - 100]);
	ASSERT_EQ(1, find_spaces(&self->nl, getpid(), sp, 4));
	EXPECT_EQ(0, sp[0].c[ZIO_COUNTER_PAGES_PENDING]);
	EXPECT_EQ(1, sp[0].c[ZIO_COUNTER_PAGES_MATERIALIZED]);
	EXPECT_EQ(copies + 1, sp[0].c[ZIO_COUNTER_COPIES]);
	EXPECT_LE(3, sp[0].c[ZIO_COUNTER_FAULTS]);
	EXPECT_EQ(0, sp[0].c[ZIO_COUNTER_IO_BYTES_WRITTEN]);

	/* I/O: 3 pages out to a pipe from the source, back into dst. */
	{
		int pfd[2];

		ASSERT_EQ(0, pipe(pfd));
		EXPECT_EQ(3 * PAGE, zio_pipe_io(self->fd, ZIO_IOC_WRITE, pfd[1],
						src, 3 * PAGE));
		EXPECT_EQ(3 * PAGE, zio_pipe_io(self->fd, ZIO_IOC_READ, pfd[0],
						dst + 12 * PAGE, 3 * PAGE));
		close(pfd[0]);
		close(pfd[1]);
	}
	ASSERT_EQ(1, find_spaces(&self->nl, getpid(), sp, 4));
	EXPECT_EQ(3 * PAGE, sp[0].c[ZIO_COUNTER_IO_BYTES_WRITTEN]);
	EXPECT_EQ(3 * PAGE, sp[0].c[ZIO_COUNTER_IO_BYTES_READ]);
	EXPECT_EQ(src[2 * PAGE], dst[14 * PAGE]);

	munmap(src, 16 * PAGE);
	munmap(dst, 16 * PAGE);
	/* Gone with its last mapping. */
	EXPECT_EQ(0, find_spaces(&self->nl, getpid(), sp, 4));
}

/* Many spaces: the dump is paged, each space reported once, in order. */
TEST_F(nl, dump_pages)
{
	static struct space sp[MAX_SPACES];
	const int nr = 600;
	int fds[600], i, n;

	for (i = 0; i < nr; i++) {
		fds[i] = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fds[i]);
		ASSERT_NE(MAP_FAILED, zmap(fds[i], 1, 0));
	}
	n = find_spaces(&self->nl, getpid(), sp, MAX_SPACES);
	ASSERT_EQ(nr, n);
	for (i = 1; i < n; i++)
		ASSERT_LT(sp[i - 1].id, sp[i].id);
}

/* Settings change through netlink and take effect. */
TEST_F(nl, set_settings)
{
	struct stats st, now;
	struct zio_info info = { 0 };
	char *p;

	ASSERT_EQ(0, get_stats(&self->nl, &st));
	ASSERT_EQ(0, set_attr(&self->nl, ZIO_ATTR_COPY_THRESHOLD, 8, 128 << 10, NULL));
	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_INFO, &info));
	EXPECT_EQ(128 << 10, info.copy_threshold);

	ASSERT_EQ(0, set_attr(&self->nl, ZIO_ATTR_MAX_RECORDS, 4, 7, NULL));
	ASSERT_EQ(0, get_stats(&self->nl, &now));
	EXPECT_EQ(7, now.max_records);

	/* space_limit: a mapping beyond it is refused. */
	ASSERT_EQ(0, set_attr(&self->nl, ZIO_ATTR_SPACE_LIMIT, 8, 16 * PAGE, NULL));
	p = zmap(self->fd, 17, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(ENOMEM, errno);
	p = zmap(self->fd, 16, 0);
	ASSERT_NE(MAP_FAILED, p);

	/* enabled: copies are refused while off. */
	ASSERT_EQ(0, set_attr(&self->nl, ZIO_ATTR_ENABLED, 1, 0, NULL));
	EXPECT_EQ(-EOPNOTSUPP, zcopy(self->fd, p + 8 * PAGE, p, 4 * PAGE, NULL));
	ASSERT_EQ(0, set_attr(&self->nl, ZIO_ATTR_ENABLED, 1, 1, NULL));
	EXPECT_EQ(0, zcopy(self->fd, p + 8 * PAGE, p, 4 * PAGE, NULL));

	EXPECT_EQ(0, set_attr(&self->nl, ZIO_ATTR_SPACE_LIMIT, 8, st.space_limit, NULL));
	EXPECT_EQ(0, set_attr(&self->nl, ZIO_ATTR_COPY_THRESHOLD, 8, st.copy_threshold, NULL));
	EXPECT_EQ(0, set_attr(&self->nl, ZIO_ATTR_MAX_RECORDS, 4, st.max_records, NULL));
	ASSERT_EQ(0, get_stats(&self->nl, &now));
	EXPECT_EQ(st.space_limit, now.space_limit);
	EXPECT_EQ(st.copy_threshold, now.copy_threshold);
	EXPECT_EQ(st.max_records, now.max_records);
	EXPECT_EQ(1, now.enabled);
}

/* SET with max_pages alone. */
static int set_max_pages(struct zio_genl *nl, uint64_t pages, char *msgbuf)
{
	return set_attr(nl, ZIO_ATTR_MAX_PAGES, 8, pages, msgbuf);
}

/*
 * max_pages: GET shows the module parameter, SET changes it and bounds
 * allocations at once, and large values are taken whole.
 */
TEST_F(nl, max_pages)
{
	const unsigned int room = 8;
	struct zio_counters c = {};
	struct stats st, now;
	long long saved;
	int status, ret;
	pid_t pid;

	saved = zio_param_get("max_pages");
	ASSERT_LT(0, saved);
	ASSERT_EQ(0, get_stats(&self->nl, &st));
	ASSERT_EQ(saved, st.max_pages) {
		TH_LOG("GET_STATS has no max_pages, or not sysfs's");
	}

	/* Room for 8 more pages: the 9th fault gets SIGBUS, a read ENOMEM. */
	ASSERT_EQ(0, zio_global_counters(&c));
	ret = set_max_pages(&self->nl, c.pages_live + room, NULL);
	EXPECT_EQ(0, ret);
	EXPECT_EQ(c.pages_live + room, zio_param_get("max_pages"));
	status = -1;
	pid = ret ? -1 : fork();
	if (!pid)
		_exit(zio_fill_to_the_limit(room));
	if (pid > 0)
		waitpid(pid, &status, 0);
	ASSERT_EQ(0, set_max_pages(&self->nl, saved, NULL));
	EXPECT_EQ(saved, zio_param_get("max_pages"));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) {
		TH_LOG(ZIO_FILL_FAILURES);
	}

	/* Beyond 32 bits: kept whole by a 64-bit kernel. */
	ret = set_max_pages(&self->nl, 1ULL << 40, NULL);
	if (sizeof(long) == 8) {
		EXPECT_EQ(0, ret);
		EXPECT_EQ(1LL << 40, zio_param_get("max_pages"));
		EXPECT_EQ(0, set_max_pages(&self->nl, UINT64_MAX, NULL));
		ASSERT_EQ(0, get_stats(&self->nl, &now));
		EXPECT_EQ(UINT64_MAX, now.max_pages);
	} else {
		EXPECT_EQ(-EINVAL, ret);
	}
	ASSERT_EQ(0, set_max_pages(&self->nl, saved, NULL));
	ASSERT_EQ(0, get_stats(&self->nl, &now));
	EXPECT_EQ(saved, now.max_pages);
	EXPECT_EQ(saved, zio_param_get("max_pages"));
}

/* Malformed attributes are rejected with their extack message. */
TEST_F(nl, bad_attributes)
{
	struct stats st, now;
	struct nl_msg *msg;
	struct req req = { 0 };
	char text[256];

	ASSERT_EQ(0, get_stats(&self->nl, &st));

	EXPECT_EQ(-EINVAL, set_attr(&self->nl, ZIO_ATTR_SPACE_LIMIT, 8, 3 * PAGE + 1, text));
	EXPECT_STREQ("space_limit must be a multiple of the page size", text);
	EXPECT_EQ(-ERANGE, set_attr(&self->nl, ZIO_ATTR_SPACE_LIMIT, 8, 100, text));
	EXPECT_STREQ("integer out of range", text);
	EXPECT_EQ(-ERANGE, set_attr(&self->nl, ZIO_ATTR_COPY_THRESHOLD, 8, 0, text));
	EXPECT_STREQ("integer out of range", text);
	EXPECT_EQ(-ERANGE, set_attr(&self->nl, ZIO_ATTR_ENABLED, 1, 2, text));
	EXPECT_STREQ("integer out of range", text);
	EXPECT_EQ(-ERANGE, set_attr(&self->nl, ZIO_ATTR_MAX_RECORDS, 4,
				    ZIO_MAX_RECORDS_MAX + 1, text));
	EXPECT_STREQ("integer out of range", text);
	EXPECT_EQ(-ERANGE, set_max_pages(&self->nl, 0, text));
	EXPECT_STREQ("integer out of range", text);
	if (sizeof(long) == 4) {
		EXPECT_EQ(-EINVAL, set_max_pages(&self->nl, 1ULL << 32, text));
		EXPECT_STREQ("max_pages is beyond an unsigned long", text);
	}
	EXPECT_EQ(-EINVAL, set_attr(&self->nl, ZIO_ATTR_NR_SPACES, 4, 1, text));
	EXPECT_STREQ("nr_spaces is output only", text);
	EXPECT_EQ(-EINVAL, set_attr(&self->nl, ZIO_ATTR_MAX + 1, 4, 1, text));
	EXPECT_STREQ("Unknown attribute type", text);
	EXPECT_EQ(-EINVAL, set_attr(&self->nl, 0, 0, 0, text));
	EXPECT_STREQ("no setting to change", text);

	/* Strict policy on the read commands too. */
	msg = zio_genl_msg(&self->nl, ZIO_CMD_GET_STATS, 0);
	nla_put_u64(msg, ZIO_ATTR_SPACE_ID, 1);
	EXPECT_EQ(-EINVAL, nl_run(&self->nl, msg, &req));
	EXPECT_STREQ("space_id is output only", req.r.msg);

	/* A refused command changed nothing, not even the valid part. */
	msg = zio_genl_msg(&self->nl, ZIO_CMD_SET, 0);
	nla_put_u64(msg, ZIO_ATTR_COPY_THRESHOLD, 1 << 20);
	nla_put_u64(msg, ZIO_ATTR_SPACE_LIMIT, PAGE + 1);
	memset(&req, 0, sizeof(req));
	EXPECT_EQ(-EINVAL, nl_run(&self->nl, msg, &req));
	ASSERT_EQ(0, get_stats(&self->nl, &now));
	EXPECT_EQ(st.space_limit, now.space_limit);
	EXPECT_EQ(st.copy_threshold, now.copy_threshold);
	EXPECT_EQ(st.enabled, now.enabled);
	EXPECT_EQ(st.max_records, now.max_records);
	EXPECT_EQ(st.max_pages, now.max_pages);

	/* Nor a valid max_pages with a bad setting, nor a bad max_pages. */
	msg = zio_genl_msg(&self->nl, ZIO_CMD_SET, 0);
	nla_put_u64(msg, ZIO_ATTR_MAX_PAGES, st.max_pages + 1);
	nla_put_u64(msg, ZIO_ATTR_SPACE_LIMIT, PAGE + 1);
	memset(&req, 0, sizeof(req));
	EXPECT_EQ(-EINVAL, nl_run(&self->nl, msg, &req));
	msg = zio_genl_msg(&self->nl, ZIO_CMD_SET, 0);
	nla_put_u64(msg, ZIO_ATTR_COPY_THRESHOLD, 1 << 20);
	nla_put_u64(msg, ZIO_ATTR_MAX_PAGES, 0);
	memset(&req, 0, sizeof(req));
	EXPECT_EQ(-ERANGE, nl_run(&self->nl, msg, &req));
	ASSERT_EQ(0, get_stats(&self->nl, &now));
	EXPECT_EQ(st.max_pages, now.max_pages);
	EXPECT_EQ(st.max_pages, zio_param_get("max_pages"));
	EXPECT_EQ(st.copy_threshold, now.copy_threshold);
}

/*
 * Without CAP_NET_ADMIN: settings and events are refused, the stats are
 * open, and the dump shows only the caller's own uid's spaces.
 */
TEST_F(nl, unprivileged)
{
	long long max_pages = zio_param_get("max_pages");
	char *mine;
	pid_t pid;
	int status;

	/* A space of root's, which nobody must not see. */
	mine = zmap(self->fd, 1, 0);
	ASSERT_NE(MAP_FAILED, mine);
	mine[0] = 1;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		static struct space sp[MAX_SPACES];
		struct stats st;
		struct zio_genl nl;
		char text[256];
		int fd, n, i;

		zio_genl_close(&self->nl);
		drop_privileges();
		if (zio_genl_open(&nl))
			_exit(10);
		if (set_attr(&nl, ZIO_ATTR_ENABLED, 1, 1, text) != -EPERM)
			_exit(11);
		if (set_max_pages(&nl, max_pages + 1, text) != -EPERM)
			_exit(16);
		if (get_stats(&nl, &st))
			_exit(12);
		fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		if (fd < 0 || zmap(fd, 1, 0) == MAP_FAILED)
			_exit(13);
		n = get_spaces(&nl, sp);
		if (n < 1)
			_exit(14);
		for (i = 0; i < n; i++)
			if (sp[i].uid != NOBODY || sp[i].pid != (uint32_t)getpid())
				_exit(15);
		if (zio_genl_subscribe(&nl, NULL, NULL) != -NLE_PERM)
			_exit(17);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) {
		TH_LOG("child step %d failed (11, 16: set not refused, 14/15: dump, 17: events)",
		       WEXITSTATUS(status));
	}
	EXPECT_EQ(max_pages, zio_param_get("max_pages"));
}

static int event_parse(struct nlattr **tb, uint8_t cmd, void *arg)
{
	struct event *ev = arg;

	while (ev->cmd)
		ev++;
	if (ev - (struct event *)arg >= MAX_EVENTS - 1)
		return NL_STOP;
	ev->cmd = cmd;
	if (tb[ZIO_ATTR_SPACE_ID])
		ev->id = nla_get_u64(tb[ZIO_ATTR_SPACE_ID]);
	if (tb[ZIO_ATTR_PID])
		ev->pid = nla_get_u32(tb[ZIO_ATTR_PID]);
	if (tb[ZIO_ATTR_UID])
		ev->uid = nla_get_u32(tb[ZIO_ATTR_UID]);
	if (tb[ZIO_ATTR_PARENT_PID])
		ev->ppid = nla_get_u32(tb[ZIO_ATTR_PARENT_PID]);
	if (tb[ZIO_ATTR_MMAP_END])
		ev->mmap_end = nla_get_u64(tb[ZIO_ATTR_MMAP_END]);
	if (tb[ZIO_ATTR_SPACE_LIMIT])
		ev->space_limit = nla_get_u64(tb[ZIO_ATTR_SPACE_LIMIT]);
	return NL_OK;
}

/* Space created, forked, freed, and an mmap past space_limit: all arrive. */
TEST_F(nl, events)
{
	static struct event ev[MAX_EVENTS];
	struct event *new = NULL, *del = NULL, *limit = NULL, *fork_new = NULL;
	struct stats st;
	struct pollfd pfd;
	pid_t pid, grandchild = 0;
	int status, i;

	ASSERT_EQ(0, get_stats(&self->nl, &st));
	ASSERT_EQ(0, zio_genl_subscribe(&self->nl, event_parse, ev));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		char *p = zmap(fd, 2, 0);
		pid_t c;

		if (p == MAP_FAILED)
			_exit(10);
		p[0] = 1;
		c = fork();		/* the grandchild's space: a snapshot */
		if (!c)
			_exit(0);
		waitpid(c, NULL, 0);
		munmap(p, 2 * PAGE);	/* frees the child's space */
		/* Past the limit: refused, and reported. */
		if (zmap(fd, 1, st.space_limit / PAGE) != MAP_FAILED)
			_exit(11);
		_exit(c > 0 ? c & 0xff : 12);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));

	pfd.fd = nl_socket_get_fd(self->nl.sk);
	pfd.events = POLLIN;
	while (poll(&pfd, 1, 1000) == 1)
		nl_recvmsgs_default(self->nl.sk);

	for (i = 0; i < MAX_EVENTS && ev[i].cmd; i++) {
		if (ev[i].cmd == ZIO_CMD_SPACE_NEW && ev[i].pid == (uint32_t)pid)
			new = &ev[i];
		if (ev[i].cmd == ZIO_CMD_SPACE_NEW && ev[i].ppid == (uint32_t)pid)
			fork_new = &ev[i];
		if (ev[i].cmd == ZIO_CMD_SPACE_DEL && new && ev[i].id == new->id)
			del = &ev[i];
		if (ev[i].cmd == ZIO_CMD_LIMIT && ev[i].pid == (uint32_t)pid)
			limit = &ev[i];
	}
	ASSERT_NE(NULL, new);
	EXPECT_EQ(0, new->uid);
	ASSERT_NE(NULL, del);
	EXPECT_EQ(pid, del->pid);
	ASSERT_NE(NULL, fork_new);
	EXPECT_NE(new->id, fork_new->id);
	/* The grandchild's space is freed at its exit, named by its pid. */
	for (i = 0; i < MAX_EVENTS && ev[i].cmd; i++)
		if (ev[i].cmd == ZIO_CMD_SPACE_DEL && ev[i].id == fork_new->id)
			grandchild = ev[i].pid;
	EXPECT_EQ(WEXITSTATUS(status), grandchild & 0xff);
	EXPECT_NE(pid, grandchild);
	ASSERT_NE(NULL, limit);
	EXPECT_EQ(st.space_limit + PAGE, limit->mmap_end);
	EXPECT_EQ(st.space_limit, limit->space_limit);
}

/* Every zio tracepoint fires, in tracefs. */
TEST_F(nl, tracepoints)
{
	static const char *const events[] = {
		"zio_copy: ", "zio_share: ", "zio_materialize: ", "zio_cow: ",
		"zio_discard: ", "zio_io: ",
	};
	static char trace[1 << 16];
	struct zio_range range;
	char *p;
	size_t len = 0;
	ssize_t n;
	unsigned int i;
	int fd;

	if (access("/sys/kernel/tracing/events/zio", F_OK))
		SKIP(return, "no zio events in tracefs");
	ASSERT_EQ(0, zio_write_file("/sys/kernel/tracing/trace", ""));
	ASSERT_EQ(0, zio_write_file("/sys/kernel/tracing/events/zio/enable", "1"));

	p = zmap(self->fd, 8, 0);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = 1;
	p[PAGE] = 2;
	ASSERT_EQ(0, zcopy(self->fd, p + 4 * PAGE, p, 2 * PAGE, NULL));	/* share */
	ASSERT_EQ(0, zcopy(self->fd, p + 6 * PAGE, p + 1, PAGE, NULL));	/* pending */
	EXPECT_EQ(2, p[7 * PAGE - 1]);				/* materialize */
	p[4 * PAGE] = 3;					/* cow */
	range = (struct zio_range){ .addr = (uintptr_t)p, .len = 2 * PAGE };
	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_DISCARD, &range));
	{
		int pfd[2];

		ASSERT_EQ(0, pipe(pfd));
		EXPECT_EQ(PAGE, zio_pipe_io(self->fd, ZIO_IOC_WRITE, pfd[1],
					    p + 4 * PAGE, PAGE));	/* io */
		close(pfd[0]);
		close(pfd[1]);
	}

	ASSERT_EQ(0, zio_write_file("/sys/kernel/tracing/events/zio/enable", "0"));
	fd = open("/sys/kernel/tracing/trace", O_RDONLY);
	ASSERT_LE(0, fd);
	while ((n = read(fd, trace + len, sizeof(trace) - 1 - len)) > 0)
		len += n;
	close(fd);
	trace[len] = 0;
	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		bool found = strstr(trace, events[i]);

		if (!found)
			fprintf(stderr, "# %s missing from the trace\n", events[i]);
		EXPECT_TRUE(found);
	}
	EXPECT_NE(NULL, strstr(trace, "deferred=8192 copied=0 ret=0"));
	EXPECT_NE(NULL, strstr(trace, "pages=2"));
	EXPECT_NE(NULL, strstr(trace, " write fd="));
}

/* Run zioctl (from the initramfs); its output in @out. Returns its status. */
static int zioctl(const char *args, bool nobody, char *out, size_t size)
{
	char cmd[256];
	int status, fd;
	ssize_t n;
	pid_t pid;

	snprintf(cmd, sizeof(cmd), "zioctl %s >/tmp/zioctl.out 2>&1", args);
	pid = fork();
	if (!pid) {
		if (nobody)
			drop_privileges();
		execl("/bin/sh", "sh", "-c", cmd, NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	fd = open("/tmp/zioctl.out", O_RDONLY);
	n = fd < 0 ? -1 : read(fd, out, size - 1);
	out[n < 0 ? 0 : n] = 0;
	close(fd);
	unlink("/tmp/zioctl.out");
	return WEXITSTATUS(status);
}

/* zioctl end to end: JSON, permission message, extack message. */
TEST_F(nl, zioctl)
{
	static char out[1 << 16];
	char want[64], *p;

	if (system("command -v zioctl >/dev/null 2>&1"))
		SKIP(return, "zioctl is not installed in this system");

	p = zmap(self->fd, 4, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, zcopy(self->fd, p + 2 * PAGE, p, 2 * PAGE, NULL));

	ASSERT_EQ(0, zioctl("stats --json", false, out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "\"counters\": {\"pages_live\": "));
	ASSERT_EQ(0, zioctl("stats", false, out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "space_limit"));
	ASSERT_EQ(0, zioctl("spaces --json", false, out, sizeof(out)));
	snprintf(want, sizeof(want), "\"pid\": %d, \"uid\": 0", getpid());
	EXPECT_OUTPUT_HAS(out, want);
	EXPECT_NE(NULL, strstr(out, "\"bytes_deferred\": 8192"));

	EXPECT_EQ(1, zioctl("set enabled 1", true, out, sizeof(out)));
	EXPECT_OUTPUT_HAS(out, "permission denied");
	EXPECT_EQ(1, zioctl("set space_limit 5000", false, out, sizeof(out)));
	EXPECT_OUTPUT_HAS(out, "space_limit must be a multiple of the page size");
	EXPECT_EQ(1, zioctl("monitor", true, out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "permission denied"));
	EXPECT_EQ(2, zioctl("set nonsense 1", false, out, sizeof(out)));
	EXPECT_EQ(2, zioctl("set max_pages lots", false, out, sizeof(out)));
}

/* zioctl shows max_pages, sets it, and says why the module refuses 0. */
TEST_F(nl, zioctl_max_pages)
{
	static char out[1 << 16];
	long long saved = zio_param_get("max_pages");
	char args[64], want[64];

	if (system("command -v zioctl >/dev/null 2>&1"))
		SKIP(return, "zioctl is not installed in this system");
	ASSERT_LT(0, saved);

	snprintf(args, sizeof(args), "set max_pages %lld", saved + 1);
	EXPECT_EQ(0, zioctl(args, false, out, sizeof(out))) {
		TH_LOG("%s", out);
	}
	EXPECT_EQ(saved + 1, zio_param_get("max_pages"));
	EXPECT_EQ(0, zioctl("stats", false, out, sizeof(out)));
	snprintf(want, sizeof(want), "  max_pages            %lld (", saved + 1);
	EXPECT_OUTPUT_HAS(out, want);
	EXPECT_EQ(0, zioctl("stats --json", false, out, sizeof(out)));
	snprintf(want, sizeof(want), "\"max_pages\": %lld,", saved + 1);
	EXPECT_OUTPUT_HAS(out, want);

	EXPECT_EQ(1, zioctl("set max_pages 0", false, out, sizeof(out)));
	EXPECT_OUTPUT_HAS(out, "integer out of range");
	EXPECT_EQ(1, zioctl("set max_pages 1", true, out, sizeof(out)));
	EXPECT_OUTPUT_HAS(out, "permission denied");
	EXPECT_EQ(saved + 1, zio_param_get("max_pages"));

	snprintf(args, sizeof(args), "set max_pages %lld", saved);
	EXPECT_EQ(0, zioctl(args, false, out, sizeof(out)));
	EXPECT_EQ(saved, zio_param_get("max_pages"));
}

TEST_HARNESS_MAIN
