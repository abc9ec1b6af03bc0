// SPDX-License-Identifier: GPL-2.0
/*
 * get_user_pages() users on zio pages in every state: vmsplice,
 * process_vm_readv/writev (on itself and from a child), O_DIRECT reads
 * and writes of a file on ext4 (skipped when /mnt/ext4 is not mounted).
 *
 * The mapping holds four regions of 8 pages:
 *   A  pages  0-7   written (salt 1)
 *   B  pages 16-23  shares A (aligned copy)
 *   C  pages 32-39  pending copies of A + 100 (unaligned copy)
 *   D  pages 48-55  written (salt 2)
 */
#include <sys/uio.h>
#include <sys/wait.h>

#include "zio_test.h"

#define NPAGES	64
#define RPAGES	8

FIXTURE(gup) {
	int fd;
	size_t ps, len, rlen;
	char *map;
	char *expect;
	char *buf;	/* anonymous, page aligned */
};

static const size_t region_page[] = { 0, 16, 32, 48 };

FIXTURE_SETUP(gup)
{
	size_t ps = zio_page_size();

	self->ps = ps;
	self->len = NPAGES * ps;
	self->rlen = RPAGES * ps;
	self->fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	self->map = zio_map(self->fd, self->len, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	self->expect = calloc(1, self->len);
	ASSERT_NE(NULL, self->expect);
	self->buf = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);

	zio_fill(self->map, self->rlen + ps, 1);
	zio_fill(self->expect, self->rlen + ps, 1);
	ASSERT_EQ(0, zio_copy(self->fd, self->map + 16 * ps, self->map, self->rlen, NULL));
	memcpy(self->expect + 16 * ps, self->expect, self->rlen);
	ASSERT_EQ(0, zio_copy(self->fd, self->map + 32 * ps, self->map + 100, self->rlen, NULL));
	memcpy(self->expect + 32 * ps, self->expect + 100, self->rlen);
	zio_fill(self->map + 48 * ps, self->rlen, 2);
	zio_fill(self->expect + 48 * ps, self->rlen, 2);
}

FIXTURE_TEARDOWN(gup)
{
	munmap(self->map, self->len);
	munmap(self->buf, self->len);
	free(self->expect);
	close(self->fd);
}

static bool same_as_expected(FIXTURE_DATA(gup) *self)
{
	return zio_diff(self->map, self->expect, self->len) < 0;
}

TEST_F(gup, vmsplice)
{
	for (size_t r = 0; r < ARRAY_SIZE(region_page); r++) {
		char *region = self->map + region_page[r] * self->ps;
		struct iovec iov = { .iov_base = region, .iov_len = self->rlen };
		ssize_t n, got = 0;
		int p[2];

		ASSERT_EQ(0, pipe(p));
		ASSERT_LE(self->rlen, (size_t)fcntl(p[1], F_SETPIPE_SZ, self->len));
		n = vmsplice(p[1], &iov, 1, 0);
		ASSERT_EQ((ssize_t)self->rlen, n) {
			TH_LOG("region %zu: vmsplice: %s", r, strerror(errno));
		}
		/* Writes to A after that leave B and C (and the pipe's B, C) alone. */
		if (r == 1 || r == 2)
			zio_fill(self->map, self->rlen + self->ps, 10 + r);
		while (got < (ssize_t)self->rlen) {
			n = read(p[0], self->buf + got, self->rlen - got);
			ASSERT_LT(0, n);
			got += n;
		}
		EXPECT_GT(0, zio_diff(self->buf, self->expect + region_page[r] * self->ps,
				      self->rlen)) {
			TH_LOG("region %zu differs in the pipe", r);
		}
		if (r == 1 || r == 2)
			zio_fill(self->expect, self->rlen + self->ps, 10 + r);
		close(p[0]);
		close(p[1]);
		ASSERT_TRUE(same_as_expected(self));
	}
}

/* A page a pipe holds is copied, not shared, by a copy. */
TEST_F(gup, copy_of_referenced_pages)
{
	struct iovec iov = { .iov_base = self->map + 48 * self->ps, .iov_len = self->rlen };
	struct zio_counters before, after;
	struct zio_copy out;
	int p[2];

	ASSERT_EQ(0, pipe(p));
	ASSERT_LE(self->rlen, (size_t)fcntl(p[1], F_SETPIPE_SZ, self->len));
	ASSERT_EQ((ssize_t)self->rlen, vmsplice(p[1], &iov, 1, 0));
	ASSERT_EQ(0, zio_counters(self->fd, false, &before));
	ASSERT_EQ(0, zio_copy(self->fd, self->map + 56 * self->ps, self->map + 48 * self->ps,
			      self->rlen, &out));
	EXPECT_EQ(self->rlen, out.bytes_copied);
	EXPECT_EQ(0, out.bytes_deferred);
	ASSERT_EQ(0, zio_counters(self->fd, false, &after));
	EXPECT_EQ(before.pages_fallback + RPAGES, after.pages_fallback);
	memcpy(self->expect + 56 * self->ps, self->expect + 48 * self->ps, self->rlen);
	/* D changes in place (the pipe sees that, as with any memory)... */
	zio_fill(self->map + 48 * self->ps, self->rlen, 3);
	zio_fill(self->expect + 48 * self->ps, self->rlen, 3);
	/* ...but its copy does not. */
	ASSERT_TRUE(same_as_expected(self));
	close(p[0]);
	close(p[1]);

	/* Without the pipe's references, the same copy defers again. */
	ASSERT_EQ(0, zio_copy(self->fd, self->map + 56 * self->ps, self->map + 48 * self->ps,
			      self->rlen, &out));
	EXPECT_EQ(self->rlen, out.bytes_deferred);
	memcpy(self->expect + 56 * self->ps, self->expect + 48 * self->ps, self->rlen);
	ASSERT_TRUE(same_as_expected(self));
}

TEST_F(gup, process_vm_self)
{
	pid_t me = getpid();

	for (size_t r = 0; r < ARRAY_SIZE(region_page); r++) {
		size_t off = region_page[r] * self->ps;
		struct iovec local = { .iov_base = self->buf, .iov_len = self->rlen };
		struct iovec remote = { .iov_base = self->map + off, .iov_len = self->rlen };

		memset(self->buf, 0, self->rlen);
		ASSERT_EQ((ssize_t)self->rlen, process_vm_readv(me, &local, 1, &remote, 1, 0)) {
			TH_LOG("region %zu: process_vm_readv: %s", r, strerror(errno));
		}
		EXPECT_GT(0, zio_diff(self->buf, self->expect + off, self->rlen));
	}
	ASSERT_TRUE(same_as_expected(self));

	/* Writes into shared (B) and pending (C) pages leave A alone. */
	for (size_t r = 1; r < 3; r++) {
		size_t off = region_page[r] * self->ps + 10;
		struct iovec local = { .iov_base = self->buf, .iov_len = self->rlen - 20 };
		struct iovec remote = { .iov_base = self->map + off, .iov_len = self->rlen - 20 };

		zio_fill(self->buf, self->rlen, 20 + r);
		ASSERT_EQ((ssize_t)self->rlen - 20,
			  process_vm_writev(me, &local, 1, &remote, 1, 0)) {
			TH_LOG("region %zu: process_vm_writev: %s", r, strerror(errno));
		}
		memcpy(self->expect + off, self->buf, self->rlen - 20);
		ASSERT_TRUE(same_as_expected(self)) {
			TH_LOG("after process_vm_writev into region %zu", r);
		}
	}
}

TEST_F(gup, process_vm_from_child)
{
	size_t ps = self->ps;
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		pid_t parent = getppid();

		/* The child's own snapshot must not be what it reads or writes. */
		memset(self->map, 0, self->len);
		for (size_t r = 0; r < ARRAY_SIZE(region_page); r++) {
			size_t off = region_page[r] * ps;
			struct iovec local = { .iov_base = self->buf, .iov_len = self->rlen };
			struct iovec remote = { .iov_base = self->map + off,
						.iov_len = self->rlen };

			if (process_vm_readv(parent, &local, 1, &remote, 1, 0) !=
			    (ssize_t)self->rlen)
				_exit(1);
			if (zio_diff(self->buf, self->expect + off, self->rlen) >= 0)
				_exit(2 + r);
		}
		for (size_t r = 1; r < 3; r++) {
			struct iovec local = { .iov_base = self->buf, .iov_len = 2 * ps };
			struct iovec remote = { .iov_base = self->map + region_page[r] * ps + ps,
						.iov_len = 2 * ps };

			zio_fill(self->buf, 2 * ps, 30 + r);
			if (process_vm_writev(parent, &local, 1, &remote, 1, 0) != 2 * (ssize_t)ps)
				_exit(10);
		}
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	for (size_t r = 1; r < 3; r++)
		zio_fill(self->expect + region_page[r] * ps + ps, 2 * ps, 30 + r);
	ASSERT_TRUE(same_as_expected(self));
}

static int open_direct(void)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), ZIO_EXT4_DIR "/gup_test.%d", getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0600);
	if (fd >= 0)
		unlink(path);
	return fd;
}

TEST_F(gup, o_direct_write)
{
	int fd;

	if (!zio_ext4_mounted())
		SKIP(return, ZIO_EXT4_DIR " is not mounted");
	fd = open_direct();
	ASSERT_LE(0, fd);
	/* Every region to the file, straight from its pages. */
	for (size_t r = 0; r < ARRAY_SIZE(region_page); r++) {
		size_t off = region_page[r] * self->ps;

		ASSERT_EQ((ssize_t)self->rlen, pwrite(fd, self->map + off, self->rlen, off)) {
			TH_LOG("region %zu: %s", r, strerror(errno));
		}
	}
	ASSERT_EQ(0, fsync(fd));
	/* Read back through O_DIRECT too, into anonymous memory. */
	for (size_t r = 0; r < ARRAY_SIZE(region_page); r++) {
		size_t off = region_page[r] * self->ps;

		memset(self->buf, 0, self->rlen);
		ASSERT_EQ((ssize_t)self->rlen, pread(fd, self->buf, self->rlen, off));
		EXPECT_GT(0, zio_diff(self->buf, self->expect + off, self->rlen)) {
			TH_LOG("region %zu differs in the file", r);
		}
	}
	ASSERT_TRUE(same_as_expected(self));
	close(fd);
}

TEST_F(gup, o_direct_read)
{
	size_t ps = self->ps;
	int fd;

	if (!zio_ext4_mounted())
		SKIP(return, ZIO_EXT4_DIR " is not mounted");
	fd = open_direct();
	ASSERT_LE(0, fd);
	zio_fill(self->buf, self->len, 40);
	ASSERT_EQ((ssize_t)self->len, pwrite(fd, self->buf, self->len, 0));
	ASSERT_EQ(0, fsync(fd));

	/* Into shared (B) and pending (C) pages, whole and partly. */
	ASSERT_EQ((ssize_t)self->rlen, pread(fd, self->map + 16 * ps, self->rlen, 0));
	memcpy(self->expect + 16 * ps, self->buf, self->rlen);
	ASSERT_TRUE(same_as_expected(self));
	ASSERT_EQ(2 * (ssize_t)ps, pread(fd, self->map + 33 * ps + 512, 2 * ps, 4 * ps));
	memcpy(self->expect + 33 * ps + 512, self->buf + 4 * ps, 2 * ps);
	ASSERT_TRUE(same_as_expected(self));

	/* Into a destination, then the source is written. */
	ASSERT_EQ(0, zio_copy(self->fd, self->map + 56 * ps, self->map + 48 * ps, 4 * ps, NULL));
	memcpy(self->expect + 56 * ps, self->expect + 48 * ps, 4 * ps);
	ASSERT_EQ(2 * (ssize_t)ps, pread(fd, self->map + 57 * ps, 2 * ps, 8 * ps));
	memcpy(self->expect + 57 * ps, self->buf + 8 * ps, 2 * ps);
	zio_fill(self->map + 48 * ps, 4 * ps, 41);
	zio_fill(self->expect + 48 * ps, 4 * ps, 41);
	ASSERT_TRUE(same_as_expected(self));

	/* And back out through O_DIRECT: what the pages hold now. */
	ASSERT_EQ((ssize_t)self->len, pwrite(fd, self->map, self->len, 0));
	memset(self->buf, 0, self->len);
	ASSERT_EQ((ssize_t)self->len, pread(fd, self->buf, self->len, 0));
	EXPECT_GT(0, zio_diff(self->buf, self->expect, self->len));
	close(fd);
}

ZIO_TEST_NOTHING_LEFT()

TEST_HARNESS_MAIN
