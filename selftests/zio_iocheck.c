// SPDX-License-Identifier: GPL-2.0
/*
 * zio_iocheck: libzio's I/O calls, run by libzio_test under LD_PRELOAD.
 * Large arena buffers go through pipes, TCP, UDP and Unix sockets and
 * tmpfs and ext4 files with every interposed call, and come out byte for
 * byte; the errors are the ones libc gives. With ZIO_IO=0 the same data
 * must move without the module, which shows that the counters this
 * checks can tell the two apart.
 *
 *   zio_iocheck COMMAND
 *
 * Exit status: 0 pass, 1 fail (reason on stderr), 4 skip.
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
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "libzio_check.h"

static bool io_on;	/* ZIO_IO is not 0: the module must do the I/O */

/* An arena buffer of @n bytes (the module's pages), filled with @seed. */
static unsigned char *buffer(size_t n, unsigned int seed)
{
	unsigned char *p = malloc(n);

	CHECK(p);
	fill(p, n, seed);
	if (!zio_owns(p)) {
		fprintf(stderr, "zio_iocheck: no arena\n");
		exit(4);
	}
	return p;
}

/* The module did the reads and writes since @before, or (ZIO_IO=0) none. */
static void check_routed(const struct zio_lib_stats *before, bool reads, bool writes)
{
	struct zio_lib_stats st = stats();

	if (!io_on) {
		CHECK(st.io_reads == before->io_reads && st.io_writes == before->io_writes);
		return;
	}
	if (reads)
		CHECK(st.io_reads > before->io_reads);
	if (writes)
		CHECK(st.io_writes > before->io_writes);
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
static void stream(int wfd, int rfd, int how_w, int how_r, size_t skip_head)
{
	size_t n = 3 * MiB;
	unsigned char *a = buffer(n, 7), *b = buffer(n + skip_head, 0);
	struct zio_lib_stats before = stats();
	struct pump p = { .fd = wfd, .buf = a, .len = n, .how = how_w };
	pthread_t t;

	CHECK(pthread_create(&t, NULL, pump, &p) == 0);
	CHECK(drain(rfd, b, n + skip_head, how_r) == n + skip_head);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(p.done == (ssize_t)n);
	if (skip_head)
		CHECK(!memcmp(b, "head", skip_head));
	CHECK(same(b + skip_head, n, 7));
	check_routed(&before, true, true);
	free(a);
	free(b);
}

static int cmd_pipe(void)
{
	int fd[2];

	CHECK(pipe(fd) == 0);
	stream(fd[1], fd[0], 0, 0, 0);
	close(fd[0]);
	close(fd[1]);
	return 0;
}

static void tcp_pair(int fd[2])
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(l >= 0 && bind(l, (void *)&sin, sizeof(sin)) == 0 && listen(l, 1) == 0);
	CHECK(getsockname(l, (void *)&sin, &len) == 0);
	fd[0] = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(fd[0] >= 0 && connect(fd[0], (void *)&sin, sizeof(sin)) == 0);
	fd[1] = accept(l, NULL, NULL);
	CHECK(fd[1] >= 0);
	close(l);
}

static int cmd_tcp(void)
{
	int fd[2];

	tcp_pair(fd);
	stream(fd[0], fd[1], 1, 1, 0);
	stream(fd[1], fd[0], 0, 2, 0);
	/* A small head and an arena body in one sendmsg: sent in two parts. */
	stream(fd[0], fd[1], 2, 0, sizeof("head"));
	close(fd[0]);
	close(fd[1]);
	return 0;
}

static int cmd_unix(void)
{
	int fd[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fd) == 0);
	stream(fd[0], fd[1], 2, 1, sizeof("head"));
	stream(fd[1], fd[0], 1, 2, 0);
	close(fd[0]);
	close(fd[1]);
	return 0;
}

/* Datagrams (ZIO_THRESHOLD=4096 makes them large enough): boundaries kept. */
static int cmd_udp(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	size_t n = 60000;
	unsigned char *a = buffer(n, 3), *b = buffer(n, 0);
	struct zio_lib_stats before = stats();
	int s = socket(AF_INET, SOCK_DGRAM, 0), c = socket(AF_INET, SOCK_DGRAM, 0);
	int rcvbuf = 1 << 20;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(s >= 0 && c >= 0);
	CHECK(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) == 0);
	CHECK(bind(s, (void *)&sin, sizeof(sin)) == 0);
	CHECK(getsockname(s, (void *)&sin, &len) == 0);
	CHECK(connect(c, (void *)&sin, sizeof(sin)) == 0);
	CHECK(send(c, a, n, 0) == (ssize_t)n);
	CHECK(write(c, a + 4096, n - 4096) == (ssize_t)(n - 4096));
	CHECK(recv(s, b, n, 0) == (ssize_t)n);
	CHECK(same(b, n, 3));
	/* A datagram longer than the buffer: the rest is dropped, as libc does. */
	memset(b, 0, n);
	CHECK(recvfrom(s, b, 8192, 0, NULL, NULL) == 8192);
	CHECK(!memcmp(b, a + 4096, 8192));
	for (size_t i = 8192; i < n; i++)
		CHECK(b[i] == 0);
	check_routed(&before, true, true);
	close(s);
	close(c);
	free(a);
	free(b);
	return 0;
}

/* Files: positions, offsets and vectors, read back with a plain buffer. */
static int file_check(const char *dir)
{
	char path[256];
	size_t n = 2 * MiB + 12345;
	unsigned char *a = buffer(n, 5), *b = buffer(n, 0);
	unsigned char *plain;
	struct zio_lib_stats before = stats();
	static char head[100];
	struct iovec iov[2];
	int fd;

	snprintf(path, sizeof(path), "%s/zio_iocheck.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0 && errno == ENOENT)
		return 4;
	CHECK(fd >= 0);
	unlink(path);

	CHECK(write(fd, a, n) == (ssize_t)n);
	CHECK(lseek(fd, 0, SEEK_CUR) == (off_t)n);
	CHECK(pwrite(fd, a, 3 * 4096, 1000) == 3 * 4096);
	CHECK(lseek(fd, 0, SEEK_CUR) == (off_t)n);
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	CHECK(read(fd, b, n) == (ssize_t)n);
	CHECK(lseek(fd, 0, SEEK_CUR) == (off_t)n);
	CHECK(!memcmp(b, a, 1000) && !memcmp(b + 1000, a, 3 * 4096) &&
	      !memcmp(b + 1000 + 3 * 4096, a + 1000 + 3 * 4096, n - 1000 - 3 * 4096));
	CHECK(pread(fd, b, n, 0) == (ssize_t)n && !memcmp(b, a, 1000));
	/* Reading at the end: 0, and a short read before it. */
	CHECK(read(fd, b, n) == 0);
	CHECK(pread(fd, b, n, n - 5000) == 5000);

	/* A vector of a small head and an arena body, at an offset and not. */
	memset(head, 'h', sizeof(head));
	iov[0] = (struct iovec){ head, sizeof(head) };
	iov[1] = (struct iovec){ a, n };
	CHECK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0);
	CHECK(writev(fd, iov, 2) == (ssize_t)(n + sizeof(head)));
	CHECK(pwritev(fd, iov, 2, n + sizeof(head)) == (ssize_t)(n + sizeof(head)));
	plain = mmap(NULL, n + sizeof(head), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(plain != MAP_FAILED);
	for (int k = 0; k < 2; k++) {
		off_t at = k * (n + sizeof(head));

		/* libc's own read, into memory that is not the arena's */
		CHECK(pread(fd, plain, n + sizeof(head), at) == (ssize_t)(n + sizeof(head)));
		CHECK(!memcmp(plain, head, sizeof(head)));
		CHECK(!memcmp(plain + sizeof(head), a, n));
	}
	memset(head, 0, sizeof(head));
	memset(b, 0, n);
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	iov[1].iov_base = b;
	CHECK(readv(fd, iov, 2) == (ssize_t)(n + sizeof(head)));
	CHECK(head[0] == 'h' && head[99] == 'h' && same(b, n, 5));
	memset(b, 0, n);
	CHECK(preadv(fd, iov, 2, n + sizeof(head)) == (ssize_t)(n + sizeof(head)));
	CHECK(same(b, n, 5));
	CHECK(lseek(fd, 0, SEEK_CUR) == (off_t)(n + sizeof(head)));
	check_routed(&before, true, true);

	munmap(plain, n + sizeof(head));
	close(fd);
	free(a);
	free(b);
	return 0;
}

static int cmd_files(void)
{
	CHECK(file_check("/tmp") == 0);
	if (file_check("/mnt/ext4") == 4)
		printf("# files: no /mnt/ext4, tmpfs only\n");
	return 0;
}

static volatile sig_atomic_t sigpipes;

static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

/* The errors of the libc calls, exactly. */
static int cmd_errors(void)
{
	size_t n = 1 * MiB;
	unsigned char *a = buffer(n, 9);
	int fd[2], dir;

	errno = 0;
	CHECK(write(-1, a, n) == -1 && errno == EBADF);
	CHECK(read(12345, a, n) == -1 && errno == EBADF);
	CHECK(pwrite(-5, a, n, 0) == -1 && errno == EBADF);

	/* Nonblocking and empty: EAGAIN. */
	CHECK(pipe2(fd, O_NONBLOCK) == 0);
	CHECK(read(fd[0], a, n) == -1 && errno == EAGAIN);
	/* Full: a short write, then EAGAIN. */
	CHECK(write(fd[1], a, n) > 0);
	CHECK(write(fd[1], a, n) == -1 && errno == EAGAIN);
	/* The wrong end: EBADF. */
	CHECK(read(fd[1], a, n) == -1 && errno == EBADF);
	/* A pipe without reader: EPIPE, and SIGPIPE once. */
	close(fd[0]);
	signal(SIGPIPE, on_sigpipe);
	CHECK(write(fd[1], a, n) == -1 && errno == EPIPE);
	CHECK(sigpipes == 1);
	close(fd[1]);

	/* Things the module does not take: libc answers. */
	dir = open("/", O_RDONLY | O_DIRECTORY);
	CHECK(dir >= 0);
	CHECK(read(dir, a, n) == -1 && errno == EISDIR);
	CHECK(pwrite(dir, a, n, -1) == -1 && (errno == EINVAL || errno == EBADF));
	close(dir);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fd) == 0);
	CHECK(pread(fd[0], a, n, 0) == -1 && errno == ESPIPE);
	/* A flag the module does not take: what libc says for plain memory. */
	{
		static unsigned char plain[4096];
		ssize_t want = recv(fd[0], plain, sizeof(plain), MSG_ERRQUEUE | MSG_DONTWAIT);
		int want_errno = errno;

		errno = 0;
		CHECK(recv(fd[0], a, n, MSG_ERRQUEUE | MSG_DONTWAIT) == want);
		CHECK(want >= 0 || errno == want_errno);
	}
	close(fd[0]);
	CHECK(send(fd[1], a, n, MSG_NOSIGNAL) == -1 && errno == EPIPE);
	CHECK(sigpipes == 1);
	close(fd[1]);
	CHECK(same(a, n, 9));
	free(a);
	return 0;
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
static int cmd_overwrite(void)
{
	size_t n = 1 * MiB;
	unsigned char *a = buffer(n, 11), *b = buffer(n, 0);
	struct zio_lib_stats before = stats();
	int fd[2];

	tcp_pair(fd);
	for (int round = 0; round < 8; round++) {
		struct sink k = { .fd = fd[1], .buf = b, .len = n };
		pthread_t t;

		fill(a, n, 11 + round);
		CHECK(pthread_create(&t, NULL, sink, &k) == 0);
		CHECK(send(fd[0], a, n, 0) == (ssize_t)n);
		memset(a, 0xee, n);
		CHECK(pthread_join(t, NULL) == 0);
		CHECK(k.got == n);
		CHECK(same(b, n, 11 + round));
	}
	check_routed(&before, true, true);
	close(fd[0]);
	close(fd[1]);
	free(a);
	free(b);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct check_cmd cmds[] = {
		{ "pipe", cmd_pipe },
		{ "tcp", cmd_tcp },
		{ "unix", cmd_unix },
		{ "udp", cmd_udp },
		{ "files", cmd_files },
		{ "errors", cmd_errors },
		{ "overwrite", cmd_overwrite },
	};
	const char *io = getenv("ZIO_IO");

	io_on = !io || strcmp(io, "0");
	return check_main(argc, argv, cmds, sizeof(cmds) / sizeof(cmds[0]));
}
