// SPDX-License-Identifier: GPL-2.0
/*
 * zio_iocheck: libzio's I/O calls, run by libzio_test under LD_PRELOAD.
 * Large arena buffers go through pipes, TCP, UDP and Unix sockets and
 * tmpfs and ext4 files with every interposed call, and come out byte for
 * byte; the errors are the ones libc gives. With ZIO_IO=0 the same data
 * must move without the module, which shows that the counters this
 * checks can tell the two apart.
 *
 *   zio_iocheck CHECK
 *
 * runs the test CHECK of the kselftest harness (libzio_check.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libzio_check.h"

static bool io_on;	/* ZIO_IO is not 0: the module must do the I/O */

/*
 * An arena buffer of @n bytes (the module's pages), filled with @seed: that
 * there is an arena at all, check_main() saw.
 */
static unsigned char *buffer(struct __test_metadata *_metadata, size_t n, unsigned int seed)
{
	unsigned char *p = malloc(n);

	ASSERT_TRUE(p);
	fill(p, n, seed);
	ASSERT_TRUE(zio_owns(p));
	return p;
}

/*
 * An arena buffer of @n bytes filled by a module copy, so that its pages are
 * pending: reads into it go to the module (plain_read shows that reads into
 * pages only the program wrote go to libc).
 */
static unsigned char *copied_buffer(struct __test_metadata *_metadata, size_t n)
{
	unsigned char *src = buffer(_metadata, n, 0), *p = malloc(n);
	struct zio_lib_stats before = stats(_metadata);

	ASSERT_TRUE(p && zio_owns(p));
	memcpy(p, src, n);
	ASSERT_TRUE(stats(_metadata).bytes_deferred > before.bytes_deferred);
	free(src);
	return p;
}

/* The module did the reads and writes since @before, or (ZIO_IO=0) none. */
static void check_routed(struct __test_metadata *_metadata,
			 const struct zio_lib_stats *before, bool reads, bool writes)
{
	struct zio_lib_stats st = stats(_metadata);

	if (!io_on) {
		ASSERT_TRUE(st.io_reads == before->io_reads && st.io_writes == before->io_writes);
		return;
	}
	if (reads)
		ASSERT_TRUE(st.io_reads > before->io_reads);
	if (writes)
		ASSERT_TRUE(st.io_writes > before->io_writes);
}

struct pump {
	int fd;
	const unsigned char *buf;
	size_t len;
	int how;	/* 0 write, 1 send, 2 sendmsg with a small head */
	ssize_t done;
};

/* Write all of p->buf to p->fd, from its own thread. */
static void *pump(void *arg)
{
	struct pump *p = arg;
	size_t done = 0;

	while (done < p->len) {
		ssize_t n;

		if (p->how == 0) {
			n = write(p->fd, p->buf + done, p->len - done);
		} else if (p->how == 1) {
			n = send(p->fd, p->buf + done, p->len - done, MSG_NOSIGNAL);
		} else {
			static const char head[] = "head";
			struct iovec iov[2] = {
				{ (void *)head, done ? 0 : sizeof(head) },
				{ (void *)(p->buf + done), p->len - done },
			};
			struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

			n = sendmsg(p->fd, &msg, MSG_NOSIGNAL);
			if (n > 0 && !done) {
				if ((size_t)n < sizeof(head))
					break;
				n -= sizeof(head);
			}
		}
		if (n <= 0)
			break;
		done += n;
	}
	p->done = done;
	return NULL;
}

/* Receive @len bytes into @buf with read (how 0), recv (1) or recvmsg (2). */
static size_t drain(int fd, unsigned char *buf, size_t len, int how)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n;

		if (how == 0) {
			n = read(fd, buf + got, len - got);
		} else if (how == 1) {
			n = recv(fd, buf + got, len - got, 0);
		} else {
			struct iovec iov = { buf + got, len - got };
			struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

			n = recvmsg(fd, &msg, 0);
		}
		if (n <= 0)
			break;
		got += n;
	}
	return got;
}

/* 3 MiB through @fds: written with @how_w by a thread, read with @how_r. */
static void stream(struct __test_metadata *_metadata, int wfd, int rfd, int how_w,
		   int how_r, size_t skip_head)
{
	size_t n = 3 * MiB;
	unsigned char *a = buffer(_metadata, n, 7), *b = copied_buffer(_metadata, n + skip_head);
	struct zio_lib_stats before = stats(_metadata);
	struct pump p = { .fd = wfd, .buf = a, .len = n, .how = how_w };
	pthread_t t;

	ASSERT_TRUE(pthread_create(&t, NULL, pump, &p) == 0);
	ASSERT_TRUE(drain(rfd, b, n + skip_head, how_r) == n + skip_head);
	ASSERT_TRUE(pthread_join(t, NULL) == 0);
	ASSERT_TRUE(p.done == (ssize_t)n);
	if (skip_head)
		ASSERT_TRUE(!memcmp(b, "head", skip_head));
	ASSERT_TRUE(same(b + skip_head, n, 7));
	check_routed(_metadata, &before, true, true);
	free(a);
	free(b);
}

TEST_F_TIMEOUT(check, pipe, CHECK_TIMEOUT)
{
	int fd[2];

	ASSERT_TRUE(pipe(fd) == 0);
	stream(_metadata, fd[1], fd[0], 0, 0, 0);
	close(fd[0]);
	close(fd[1]);
}

static void tcp_pair(struct __test_metadata *_metadata, int fd[2])
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_TRUE(l >= 0 && bind(l, (void *)&sin, sizeof(sin)) == 0 && listen(l, 1) == 0);
	ASSERT_TRUE(getsockname(l, (void *)&sin, &len) == 0);
	fd[0] = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_TRUE(fd[0] >= 0 && connect(fd[0], (void *)&sin, sizeof(sin)) == 0);
	fd[1] = accept(l, NULL, NULL);
	ASSERT_TRUE(fd[1] >= 0);
	close(l);
}

TEST_F_TIMEOUT(check, tcp, CHECK_TIMEOUT)
{
	int fd[2];

	tcp_pair(_metadata, fd);
	stream(_metadata, fd[0], fd[1], 1, 1, 0);
	stream(_metadata, fd[1], fd[0], 0, 2, 0);
	/* A small head and an arena body in one sendmsg: sent in two parts. */
	stream(_metadata, fd[0], fd[1], 2, 0, sizeof("head"));
	close(fd[0]);
	close(fd[1]);
}

/*
 * readv() of a small head and a copied arena body from a TCP socket that
 * holds only the head's bytes returns them, as libc's does: the body's
 * piece does not wait for more (SO_RCVTIMEO bounds the wait if it did).
 */
TEST_F_TIMEOUT(check, readv_stream, CHECK_TIMEOUT)
{
	size_t n = 256 * 1024;
	unsigned char head[100], *b = copied_buffer(_metadata, n);
	struct timeval tv = { .tv_sec = 4 };
	struct iovec iov[2] = { { head, sizeof(head) }, { b, n } };
	double t;
	int fd[2];

	tcp_pair(_metadata, fd);
	ASSERT_TRUE(setsockopt(fd[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
	ASSERT_TRUE(send(fd[0], "0123456789", 10, 0) == 10);
	ASSERT_TRUE(send(fd[0], b, sizeof(head) - 10, 0) == (ssize_t)sizeof(head) - 10);
	/* All of the head's bytes have come before the readv(). */
	while (recv(fd[1], head, sizeof(head), MSG_PEEK | MSG_DONTWAIT) < (ssize_t)sizeof(head))
		usleep(1000);
	t = now();
	ASSERT_TRUE(readv(fd[1], iov, 2) == (ssize_t)sizeof(head));
	t = now() - t;
	printf("# readv_stream: %.3f s\n", t);
	ASSERT_TRUE(t < 2.0);
	ASSERT_TRUE(!memcmp(head, "0123456789", 10) && !memcmp(head + 10, b, sizeof(head) - 10));
	close(fd[0]);
	close(fd[1]);
	free(b);
}

/* Not "unix": GNU C defines it as a macro. */
TEST_F_TIMEOUT(check, unix_stream, CHECK_TIMEOUT)
{
	int fd[2];

	ASSERT_TRUE(socketpair(AF_UNIX, SOCK_STREAM, 0, fd) == 0);
	stream(_metadata, fd[0], fd[1], 2, 1, sizeof("head"));
	stream(_metadata, fd[1], fd[0], 1, 2, 0);
	close(fd[0]);
	close(fd[1]);
}

/*
 * A read into an arena buffer that only the program wrote goes to libc:
 * into pages already mapped, read() costs one copy, and the module would
 * replace them. The bytes come out the same.
 */
TEST_F_TIMEOUT(check, plain_read, CHECK_TIMEOUT)
{
	size_t n = 3 * MiB;
	unsigned char *a = buffer(_metadata, n, 13), *b = buffer(_metadata, n, 0);
	struct zio_lib_stats before, st;
	struct pump p;
	pthread_t t;
	int fd[2];

	ASSERT_TRUE(pipe(fd) == 0);
	p = (struct pump){ .fd = fd[1], .buf = a, .len = n, .how = 0 };
	before = stats(_metadata);
	ASSERT_TRUE(pthread_create(&t, NULL, pump, &p) == 0);
	ASSERT_TRUE(drain(fd[0], b, n, 0) == n);
	ASSERT_TRUE(pthread_join(t, NULL) == 0);
	ASSERT_TRUE(p.done == (ssize_t)n);
	ASSERT_TRUE(same(b, n, 13));
	st = stats(_metadata);
	ASSERT_TRUE(st.io_reads == before.io_reads);
	if (io_on)
		ASSERT_TRUE(st.io_writes > before.io_writes);
	close(fd[0]);
	close(fd[1]);
	free(a);
	free(b);
}

/*
 * Which pages a module copy left marked decides, page by page, which reads
 * go to the module; the library keeps four pages' marks in a word. A copy
 * of pages 3-9 of a large block (which starts on a 64-page boundary) covers
 * the last page of one word, a whole word and the first two of the next.
 * Reads then go to the module exactly where a marked page is, and a read
 * unmarks what it reads. ZIO_THRESHOLD=4096: a page is large enough.
 */
TEST_F_TIMEOUT(check, marked_edges, CHECK_TIMEOUT)
{
	static const struct {
		size_t page, pages;
		bool marked;
	} reads[] = {
		{ 2, 1, false }, { 10, 1, false }, { 3, 1, true }, { 3, 1, false },
		{ 9, 1, true }, { 4, 4, true }, { 8, 1, true }, { 2, 9, false },
	};
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), n = 1 * MiB;
	unsigned char *src = buffer(_metadata, n, 21), *dst = buffer(_metadata, n, 0);
	unsigned char *in = mmap(NULL, 16 * pg, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct zio_lib_stats before = stats(_metadata);
	int fd[2];

	ASSERT_TRUE(in != MAP_FAILED);
	ASSERT_TRUE(pipe(fd) == 0);
	/* Each read's bytes are written first, from this thread: room for 9 pages. */
	ASSERT_TRUE(fcntl(fd[1], F_SETPIPE_SZ, 16 * pg) >= (int)(9 * pg));
	memcpy(dst + 3 * pg, src + 3 * pg, 7 * pg);
	ASSERT_TRUE(stats(_metadata).bytes_deferred > before.bytes_deferred);
	ASSERT_TRUE(!memcmp(dst + 3 * pg, src + 3 * pg, 7 * pg));
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		size_t len = reads[i].pages * pg;
		unsigned char *at = dst + reads[i].page * pg;

		before = stats(_metadata);
		fill(in, len, 40 + i);
		ASSERT_TRUE(write(fd[1], in, len) == (ssize_t)len);
		ASSERT_TRUE(read(fd[0], at, len) == (ssize_t)len);
		ASSERT_TRUE(same(at, len, 40 + i));
		ASSERT_EQ(io_on && reads[i].marked, stats(_metadata).io_reads > before.io_reads)
			TH_LOG("read %zu: %zu pages from page %zu", i, reads[i].pages,
			       reads[i].page);
	}
	/* The pages no read reached hold what the program wrote. */
	for (size_t i = 0; i < n; i++)
		if (i < 2 * pg || i >= 11 * pg)
			ASSERT_EQ((unsigned char)(i * 31 + (i >> 12)), dst[i]);
	close(fd[0]);
	close(fd[1]);
	munmap(in, 16 * pg);
	free(src);
	free(dst);
}

/* Datagrams (ZIO_THRESHOLD=4096 makes them large enough): boundaries kept. */
TEST_F_TIMEOUT(check, udp, CHECK_TIMEOUT)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	size_t n = 60000;
	unsigned char *a = buffer(_metadata, n, 3), *b = copied_buffer(_metadata, n);
	struct zio_lib_stats before = stats(_metadata);
	int s = socket(AF_INET, SOCK_DGRAM, 0), c = socket(AF_INET, SOCK_DGRAM, 0);
	int rcvbuf = 1 << 20;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_TRUE(s >= 0 && c >= 0);
	ASSERT_TRUE(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) == 0);
	ASSERT_TRUE(bind(s, (void *)&sin, sizeof(sin)) == 0);
	ASSERT_TRUE(getsockname(s, (void *)&sin, &len) == 0);
	ASSERT_TRUE(connect(c, (void *)&sin, sizeof(sin)) == 0);
	ASSERT_TRUE(send(c, a, n, 0) == (ssize_t)n);
	ASSERT_TRUE(write(c, a + 4096, n - 4096) == (ssize_t)(n - 4096));
	ASSERT_TRUE(recv(s, b, n, 0) == (ssize_t)n);
	ASSERT_TRUE(same(b, n, 3));
	/* A datagram longer than the buffer: the rest is dropped, as libc does. */
	memset(b, 0, n);
	ASSERT_TRUE(recvfrom(s, b, 8192, 0, NULL, NULL) == 8192);
	ASSERT_TRUE(!memcmp(b, a + 4096, 8192));
	for (size_t i = 8192; i < n; i++)
		ASSERT_TRUE(b[i] == 0);
	check_routed(_metadata, &before, true, true);
	close(s);
	close(c);
	free(a);
	free(b);
}

/* Files: positions, offsets and vectors, read back with a plain buffer. */
static int file_check(struct __test_metadata *_metadata, const char *dir)
{
	char path[256];
	size_t n = 2 * MiB + 12345;
	unsigned char *a = buffer(_metadata, n, 5), *b = copied_buffer(_metadata, n);
	unsigned char *plain;
	struct zio_lib_stats before = stats(_metadata);
	static char head[100];
	struct iovec iov[2];
	int fd;

	snprintf(path, sizeof(path), "%s/zio_iocheck.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0 && errno == ENOENT)
		return 4;
	ASSERT_TRUE(fd >= 0);
	unlink(path);

	ASSERT_TRUE(write(fd, a, n) == (ssize_t)n);
	ASSERT_TRUE(lseek(fd, 0, SEEK_CUR) == (off_t)n);
	ASSERT_TRUE(pwrite(fd, a, 3 * 4096, 1000) == 3 * 4096);
	ASSERT_TRUE(lseek(fd, 0, SEEK_CUR) == (off_t)n);
	ASSERT_TRUE(lseek(fd, 0, SEEK_SET) == 0);
	ASSERT_TRUE(read(fd, b, n) == (ssize_t)n);
	ASSERT_TRUE(lseek(fd, 0, SEEK_CUR) == (off_t)n);
	ASSERT_TRUE(!memcmp(b, a, 1000) && !memcmp(b + 1000, a, 3 * 4096) &&
	      !memcmp(b + 1000 + 3 * 4096, a + 1000 + 3 * 4096, n - 1000 - 3 * 4096));
	ASSERT_TRUE(pread(fd, b, n, 0) == (ssize_t)n && !memcmp(b, a, 1000));
	/* Reading at the end: 0, and a short read before it. */
	ASSERT_TRUE(read(fd, b, n) == 0);
	ASSERT_TRUE(pread(fd, b, n, n - 5000) == 5000);

	/* A vector of a small head and an arena body, at an offset and not. */
	memset(head, 'h', sizeof(head));
	iov[0] = (struct iovec){ head, sizeof(head) };
	iov[1] = (struct iovec){ a, n };
	ASSERT_TRUE(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0);
	ASSERT_TRUE(writev(fd, iov, 2) == (ssize_t)(n + sizeof(head)));
	ASSERT_TRUE(pwritev(fd, iov, 2, n + sizeof(head)) == (ssize_t)(n + sizeof(head)));
	plain = mmap(NULL, n + sizeof(head), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(plain != MAP_FAILED);
	for (int k = 0; k < 2; k++) {
		off_t at = k * (n + sizeof(head));

		/* libc's own read, into memory that is not the arena's */
		ASSERT_TRUE(pread(fd, plain, n + sizeof(head), at) == (ssize_t)(n + sizeof(head)));
		ASSERT_TRUE(!memcmp(plain, head, sizeof(head)));
		ASSERT_TRUE(!memcmp(plain + sizeof(head), a, n));
	}
	memset(head, 0, sizeof(head));
	memset(b, 0, n);
	ASSERT_TRUE(lseek(fd, 0, SEEK_SET) == 0);
	iov[1].iov_base = b;
	ASSERT_TRUE(readv(fd, iov, 2) == (ssize_t)(n + sizeof(head)));
	ASSERT_TRUE(head[0] == 'h' && head[99] == 'h' && same(b, n, 5));
	memset(b, 0, n);
	ASSERT_TRUE(preadv(fd, iov, 2, n + sizeof(head)) == (ssize_t)(n + sizeof(head)));
	ASSERT_TRUE(same(b, n, 5));
	ASSERT_TRUE(lseek(fd, 0, SEEK_CUR) == (off_t)(n + sizeof(head)));
	check_routed(_metadata, &before, true, true);

	munmap(plain, n + sizeof(head));
	close(fd);
	free(a);
	free(b);
	return 0;
}

TEST_F_TIMEOUT(check, files, CHECK_TIMEOUT)
{
	ASSERT_TRUE(file_check(_metadata, "/tmp") == 0);
	if (file_check(_metadata, "/mnt/ext4") == 4)
		printf("# files: no /mnt/ext4, tmpfs only\n");
}

/*
 * A vector call on a file is one call for the file, as it is in libc:
 * records appended by two processes with writev() and pwritev() through
 * O_APPEND never mix, and two threads that readv() through one file
 * position each get whole records. Each record is a head that is not in
 * the arena and a body that is, so that a call split in two pieces (one
 * for libc, one for the module) lets the other writer or reader in
 * between.
 */
#define REC_HEAD	(64 * 1024)
#define REC_BODY	(256 * 1024)
#define REC_LEN		(REC_HEAD + REC_BODY)
#define RECORDS		48

static bool uniform(const unsigned char *p, size_t n, unsigned char tag)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != tag)
			return false;
	return true;
}

/* Append RECORDS records tagged @base + k; 0 or an errno. */
static int append_records(const char *path, unsigned char base, bool positional)
{
	static unsigned char head[REC_HEAD];
	unsigned char *body = calloc(1, REC_BODY);
	int fd = open(path, O_WRONLY | O_APPEND);
	int ret = 0;

	if (!body || fd < 0 || !zio_owns(body))
		return EINVAL;
	for (int k = 0; k < RECORDS && !ret; k++) {
		struct iovec iov[2] = { { head, REC_HEAD }, { body, REC_BODY } };
		ssize_t n;

		memset(head, base + k, REC_HEAD);
		memset(body, base + k, REC_BODY);
		/* Linux appends a pwritev() to an O_APPEND file, offset or not. */
		n = positional ? pwritev(fd, iov, 2, 0) : writev(fd, iov, 2);
		if (n != REC_LEN)
			ret = n < 0 ? errno : EIO;
	}
	close(fd);
	free(body);
	return ret;
}

struct reader {
	int fd;
	const unsigned char *src;	/* what a module copy puts in the body */
	unsigned int got[2 * RECORDS];
	int bad;
};

/* readv() whole records through the shared position until the end. */
static void *read_records(void *arg)
{
	struct reader *r = arg;
	unsigned char *head = mmap(NULL, REC_HEAD, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *body = calloc(1, REC_BODY);

	if (head == MAP_FAILED || !body || !zio_owns(body)) {
		r->bad++;
		return NULL;
	}
	for (;;) {
		struct iovec iov[2] = { { head, REC_HEAD }, { body, REC_BODY } };
		ssize_t n;

		/* Pending pages: the module takes the body's read. */
		zio_copy(body, r->src, REC_BODY);
		n = readv(r->fd, iov, 2);
		if (n == 0)
			break;
		if (n != REC_LEN || head[0] >= 2 * RECORDS ||
		    !uniform(head, REC_HEAD, head[0]) || !uniform(body, REC_BODY, head[0])) {
			r->bad++;
			break;
		}
		r->got[head[0]]++;
	}
	munmap(head, REC_HEAD);
	free(body);
	return NULL;
}

TEST_F_TIMEOUT(check, file_vectors_atomic, CHECK_TIMEOUT)
{
	char path[] = "/tmp/zio_iocheck.XXXXXX";
	unsigned char *plain, *src = buffer(_metadata, REC_BODY, 1);
	struct reader r[2] = {};
	int fd, status, mixed = 0;
	pthread_t t[2];
	pid_t pid;

	fd = mkstemp(path);
	ASSERT_TRUE(fd >= 0);
	plain = mmap(NULL, REC_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(plain != MAP_FAILED);

	pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (!pid)
		_exit(append_records(path, RECORDS, true));
	ASSERT_EQ(0, append_records(path, 0, false));
	ASSERT_TRUE(waitpid(pid, &status, 0) == pid);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ASSERT_TRUE(lseek(fd, 0, SEEK_END) == 2 * RECORDS * REC_LEN);
	for (int k = 0; k < 2 * RECORDS; k++) {
		ASSERT_TRUE(pread(fd, plain, REC_LEN, (off_t)k * REC_LEN) == REC_LEN);
		if (!uniform(plain, REC_LEN, plain[0]) && !mixed++)
			TH_LOG("record %d mixes appends of %u and another", k, plain[0]);
	}
	EXPECT_EQ(0, mixed);

	/* Records k, written by libc, read back through one position. */
	for (int k = 0; k < 2 * RECORDS; k++) {
		memset(plain, k, REC_LEN);
		ASSERT_TRUE(pwrite(fd, plain, REC_LEN, (off_t)k * REC_LEN) == REC_LEN);
	}
	ASSERT_TRUE(lseek(fd, 0, SEEK_SET) == 0);
	for (int i = 0; i < 2; i++) {
		r[i].fd = fd;
		r[i].src = src;
		ASSERT_TRUE(pthread_create(&t[i], NULL, read_records, &r[i]) == 0);
	}
	for (int i = 0; i < 2; i++)
		ASSERT_TRUE(pthread_join(t[i], NULL) == 0);
	EXPECT_EQ(0, r[0].bad + r[1].bad);
	for (int k = 0; k < 2 * RECORDS; k++)
		EXPECT_EQ(1, r[0].got[k] + r[1].got[k]);

	unlink(path);
	close(fd);
	munmap(plain, REC_LEN);
	free(src);
}

static volatile sig_atomic_t sigxfsz;

static void on_sigxfsz(int sig)
{
	(void)sig;
	sigxfsz++;
}

/*
 * What a vector call does at once that pieces would not: a packet-mode
 * pipe (O_DIRECT) gets full packets, the first of them part head and part
 * body; a write that reaches RLIMIT_FSIZE comes back short, without the
 * SIGXFSZ that only a write starting at the limit gets.
 */
TEST_F_TIMEOUT(check, vector_edges, CHECK_TIMEOUT)
{
	static unsigned char head[100];
	size_t n = 64 * 1024, ps = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char *a = buffer(_metadata, n, 13), *b = malloc(ps);
	struct iovec iov[2] = { { head, sizeof(head) }, { a, n } };
	char path[] = "/tmp/zio_iocheck.XXXXXX";
	struct rlimit old, lim;
	int p[2], fd;

	ASSERT_TRUE(b != NULL);
	memset(head, 'h', sizeof(head));
	ASSERT_TRUE(pipe2(p, O_DIRECT) == 0);
	ASSERT_TRUE(fcntl(p[1], F_SETPIPE_SZ, 2 * (int)n) >= 2 * (int)n);
	ASSERT_TRUE(writev(p[1], iov, 2) == (ssize_t)(n + sizeof(head)));
	EXPECT_TRUE(read(p[0], b, ps) == (ssize_t)ps) {
		TH_LOG("the first packet is not a page: the head went alone");
	}
	EXPECT_TRUE(!memcmp(b, head, sizeof(head)) &&
		    !memcmp(b + sizeof(head), a, ps - sizeof(head)));
	close(p[0]);
	close(p[1]);

	fd = mkstemp(path);
	ASSERT_TRUE(fd >= 0);
	unlink(path);
	ASSERT_TRUE(signal(SIGXFSZ, on_sigxfsz) != SIG_ERR);
	ASSERT_TRUE(getrlimit(RLIMIT_FSIZE, &old) == 0);
	lim = old;
	lim.rlim_cur = sizeof(head);
	ASSERT_TRUE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	EXPECT_TRUE(pwritev(fd, iov, 2, 0) == (ssize_t)sizeof(head));
	EXPECT_TRUE(writev(fd, iov, 2) == (ssize_t)sizeof(head));
	ASSERT_TRUE(setrlimit(RLIMIT_FSIZE, &old) == 0);
	signal(SIGXFSZ, SIG_DFL);
	EXPECT_EQ(0, sigxfsz);
	close(fd);
	free(a);
	free(b);
}

static volatile sig_atomic_t sigpipes;

static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

/* The errors of the libc calls, exactly. */
TEST_F_TIMEOUT(check, errors, CHECK_TIMEOUT)
{
	size_t n = 1 * MiB;
	unsigned char *a = buffer(_metadata, n, 9);
	int fd[2], dir;

	errno = 0;
	ASSERT_TRUE(write(-1, a, n) == -1 && errno == EBADF);
	ASSERT_TRUE(read(12345, a, n) == -1 && errno == EBADF);
	ASSERT_TRUE(pwrite(-5, a, n, 0) == -1 && errno == EBADF);

	/* Nonblocking and empty: EAGAIN. */
	ASSERT_TRUE(pipe2(fd, O_NONBLOCK) == 0);
	ASSERT_TRUE(read(fd[0], a, n) == -1 && errno == EAGAIN);
	/* Full: a short write, then EAGAIN. */
	ASSERT_TRUE(write(fd[1], a, n) > 0);
	ASSERT_TRUE(write(fd[1], a, n) == -1 && errno == EAGAIN);
	/* The wrong end: EBADF. */
	ASSERT_TRUE(read(fd[1], a, n) == -1 && errno == EBADF);
	/* A pipe without reader: EPIPE, and SIGPIPE once. */
	close(fd[0]);
	signal(SIGPIPE, on_sigpipe);
	ASSERT_TRUE(write(fd[1], a, n) == -1 && errno == EPIPE);
	ASSERT_TRUE(sigpipes == 1);
	close(fd[1]);

	/* Things the module does not take: libc answers. */
	dir = open("/", O_RDONLY | O_DIRECTORY);
	ASSERT_TRUE(dir >= 0);
	ASSERT_TRUE(read(dir, a, n) == -1 && errno == EISDIR);
	ASSERT_TRUE(pwrite(dir, a, n, -1) == -1 && (errno == EINVAL || errno == EBADF));
	close(dir);
	ASSERT_TRUE(socketpair(AF_UNIX, SOCK_STREAM, 0, fd) == 0);
	ASSERT_TRUE(pread(fd[0], a, n, 0) == -1 && errno == ESPIPE);
	/* A flag the module does not take: what libc says for plain memory. */
	{
		static unsigned char plain[4096];
		ssize_t want = recv(fd[0], plain, sizeof(plain), MSG_ERRQUEUE | MSG_DONTWAIT);
		int want_errno = errno;

		errno = 0;
		ASSERT_TRUE(recv(fd[0], a, n, MSG_ERRQUEUE | MSG_DONTWAIT) == want);
		ASSERT_TRUE(want >= 0 || errno == want_errno);
	}
	close(fd[0]);
	ASSERT_TRUE(send(fd[1], a, n, MSG_NOSIGNAL) == -1 && errno == EPIPE);
	ASSERT_TRUE(sigpipes == 1);
	close(fd[1]);
	ASSERT_TRUE(same(a, n, 9));

	/*
	 * send() and recv() without flags on a pipe: ENOTSOCK, as from libc,
	 * also where the module would take the call (a buffer a module copy
	 * marked, for recv()).
	 */
	{
		unsigned char *b = buffer(_metadata, n, 10);
		struct zio_lib_stats before, st;

		ASSERT_TRUE(pipe2(fd, O_NONBLOCK) == 0);
		memcpy(b, a, n);
		before = stats(_metadata);
		errno = 0;
		ASSERT_TRUE(send(fd[1], a, n, 0) == -1 && errno == ENOTSOCK);
		errno = 0;
		ASSERT_TRUE(recv(fd[0], b, n, 0) == -1 && errno == ENOTSOCK);
		ASSERT_TRUE(same(b, n, 9));
		/* The module was asked, and said no: libc answered. */
		st = stats(_metadata);
		ASSERT_TRUE(st.io_fallbacks - before.io_fallbacks == (io_on ? 2 : 0));
		close(fd[0]);
		close(fd[1]);
		free(b);
	}
	free(a);
}

struct sink {
	int fd;
	unsigned char *buf;
	size_t len;
	size_t got;
};

static void *sink(void *arg)
{
	struct sink *k = arg;

	k->got = drain(k->fd, k->buf, k->len, 1);
	return NULL;
}

/*
 * A write right after send() returns gets its own copy: the peer receives
 * the bytes that were sent, not the ones written afterwards.
 */
TEST_F_TIMEOUT(check, overwrite, CHECK_TIMEOUT)
{
	size_t n = 1 * MiB;
	unsigned char *a = buffer(_metadata, n, 11), *b = copied_buffer(_metadata, n);
	struct zio_lib_stats before = stats(_metadata);
	int fd[2];

	tcp_pair(_metadata, fd);
	for (int round = 0; round < 8; round++) {
		struct sink k = { .fd = fd[1], .buf = b, .len = n };
		pthread_t t;

		fill(a, n, 11 + round);
		ASSERT_TRUE(pthread_create(&t, NULL, sink, &k) == 0);
		ASSERT_TRUE(send(fd[0], a, n, 0) == (ssize_t)n);
		memset(a, 0xee, n);
		ASSERT_TRUE(pthread_join(t, NULL) == 0);
		ASSERT_TRUE(k.got == n);
		ASSERT_TRUE(same(b, n, 11 + round));
	}
	check_routed(_metadata, &before, true, true);
	close(fd[0]);
	close(fd[1]);
	free(a);
	free(b);
}

int main(int argc, char **argv)
{
	static const char *const need_arena[] = {
		"pipe", "tcp", "readv_stream", "unix_stream", "udp", "files", "errors", "overwrite", "plain_read",
		"file_vectors_atomic", "vector_edges", "marked_edges", NULL
	};
	const char *io = getenv("ZIO_IO");

	io_on = !io || strcmp(io, "0");
	return check_main(argc, argv, need_arena);
}
