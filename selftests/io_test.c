// SPDX-License-Identifier: GPL-2.0
/*
 * ZIO_IOC_WRITE and ZIO_IOC_READ: data between zio buffers and pipes, files,
 * TCP, UDP and Unix sockets, byte for byte, with the results write() and
 * read() would give.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "zio_test.h"

#define MAP_PAGES	64
#define PG		4096UL

FIXTURE(io) {
	int fd;
	unsigned char *map;
	size_t len;
};

FIXTURE_SETUP(io)
{
	self->fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	self->len = MAP_PAGES * PG;
	self->map = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->map);
}

FIXTURE_TEARDOWN(io)
{
	munmap(self->map, self->len);
	close(self->fd);
}

static long zio_io(int zfd, unsigned long cmd, int fd, void *addr, size_t len,
		   unsigned long long offset, unsigned long long msg_flags)
{
	struct zio_io io = {
		.fd = fd, .addr = (unsigned long)addr, .len = len,
		.offset = offset, .msg_flags = msg_flags,
	};
	long ret = ioctl(zfd, cmd, &io);

	return ret < 0 ? -errno : ret;
}

static void fill(unsigned char *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 12));
}

static int check(const unsigned char *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != (unsigned char)(seed * 131 + i * 7 + (i >> 12)))
			return 0;
	return 1;
}

/* Read exactly @len bytes from @fd with plain read(). */
static int read_all(int fd, unsigned char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, buf + done, len - done);

		if (n <= 0)
			return -1;
		done += n;
	}
	return 0;
}

TEST_F(io, pipe_write_from_shared_and_pending_pages)
{
	unsigned char *src = self->map, *dst = self->map + 16 * PG;
	unsigned char *out = malloc(8 * PG);
	struct zio_copy c = { 0 };
	int p[2];

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(8 * PG, (size_t)fcntl(p[1], F_SETPIPE_SZ, 8 * PG));
	fill(src, 9 * PG, 1);
	/* A pending copy (unaligned source): never touched before the write. */
	c.dst = (unsigned long)dst;
	c.src = (unsigned long)src + 100;
	c.len = 8 * PG;
	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_COPY, &c));
	EXPECT_EQ(8 * PG, c.bytes_deferred);
	EXPECT_EQ(8 * PG, zio_io(self->fd, ZIO_IOC_WRITE, p[1], dst, 8 * PG,
				 ZIO_IO_FILE_POS, 0));
	ASSERT_EQ(0, read_all(p[0], out, 8 * PG));
	EXPECT_EQ(0, memcmp(out, src + 100, 8 * PG));
	/* Starting and ending inside pending pages. */
	EXPECT_EQ(5 * PG + 123, zio_io(self->fd, ZIO_IOC_WRITE, p[1],
				       dst + 1000, 5 * PG + 123,
				       ZIO_IO_FILE_POS, 0));
	ASSERT_EQ(0, read_all(p[0], out, 5 * PG + 123));
	EXPECT_EQ(0, memcmp(out, src + 1100, 5 * PG + 123));
	close(p[0]);
	close(p[1]);
	free(out);
}

TEST_F(io, pipe_read_into_buffer_unaligned)
{
	unsigned char *in = malloc(8 * PG), *buf = self->map + 3 * PG + 123;
	int p[2];

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(8 * PG, (size_t)fcntl(p[1], F_SETPIPE_SZ, 8 * PG));
	memset(self->map, 0x5a, 16 * PG);
	fill(in, 5 * PG, 2);
	ASSERT_EQ(5 * PG, (size_t)write(p[1], in, 5 * PG));
	EXPECT_EQ(5 * PG, zio_io(self->fd, ZIO_IOC_READ, p[0], buf, 5 * PG,
				 ZIO_IO_FILE_POS, 0));
	EXPECT_EQ(0, memcmp(buf, in, 5 * PG));
	/* Bytes around the buffer are untouched. */
	for (unsigned char *q = self->map; q < buf; q++)
		ASSERT_EQ(0x5a, *q);
	for (unsigned char *q = buf + 5 * PG; q < self->map + 16 * PG; q++)
		ASSERT_EQ(0x5a, *q);
	close(p[0]);
	close(p[1]);
	free(in);
}

TEST_F(io, short_read_keeps_the_rest)
{
	unsigned char *buf = self->map;
	unsigned char in[1000];
	int p[2];

	ASSERT_EQ(0, pipe(p));
	memset(buf, 0x77, 8 * PG);
	fill(in, sizeof(in), 3);
	ASSERT_EQ((ssize_t)sizeof(in), write(p[1], in, sizeof(in)));
	EXPECT_EQ((long)sizeof(in), zio_io(self->fd, ZIO_IOC_READ, p[0], buf,
					   8 * PG, ZIO_IO_FILE_POS, 0));
	EXPECT_EQ(0, memcmp(buf, in, sizeof(in)));
	for (size_t i = sizeof(in); i < 8 * PG; i++)
		ASSERT_EQ(0x77, buf[i]);
	close(p[0]);
	close(p[1]);
}

/*
 * A read whose pages cannot all be put in place (memory ran out; here the
 * debug_io_install_pages parameter) still hands every byte it took from
 * the pipe over, through the mapping.
 */
TEST_F(io, read_that_cannot_install_loses_nothing)
{
	unsigned char *in = malloc(8 * PG), *buf = self->map + PG + 50;
	size_t len = 5 * PG + 100;
	int p[2];

	if (zio_param_get("debug_io_install_pages") < 0)
		SKIP(return, "no debug_io_install_pages parameter");
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(8 * PG, (size_t)fcntl(p[1], F_SETPIPE_SZ, 8 * PG));
	fill(in, len, 4);
	ASSERT_EQ((ssize_t)len, write(p[1], in, len));
	ASSERT_EQ(0, zio_param_set("debug_io_install_pages", 2));
	EXPECT_EQ((long)len, zio_io(self->fd, ZIO_IOC_READ, p[0], buf, len,
				    ZIO_IO_FILE_POS, 0));
	ASSERT_EQ(0, zio_param_set("debug_io_install_pages", 0));
	EXPECT_EQ(0, memcmp(buf, in, len));
	close(p[0]);
	close(p[1]);
	free(in);
}

TEST_F(io, nonblocking_eagain_and_eof)
{
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_NONBLOCK));
	EXPECT_EQ(-EAGAIN, zio_io(self->fd, ZIO_IOC_READ, p[0], self->map, PG,
				  ZIO_IO_FILE_POS, 0));
	close(p[1]);
	EXPECT_EQ(0, zio_io(self->fd, ZIO_IOC_READ, p[0], self->map, PG,
			    ZIO_IO_FILE_POS, 0));
	close(p[0]);
}

static volatile sig_atomic_t got_sigpipe;

static void on_sigpipe(int sig)
{
	(void)sig;
	got_sigpipe = 1;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* A signal 50 ms from now, whose handler does not restart system calls. */
static void alarm_soon(bool restart)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = restart ? SA_RESTART : 0 };
	struct itimerval it = { .it_value = { .tv_usec = 50000 } };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}

/*
 * Blocked and interrupted: EINTR, as read() and write() give, and nothing
 * moved; with SA_RESTART the call goes on and completes.
 */
TEST_F(io, eintr_and_restart)
{
	unsigned char *buf = self->map;
	int p[2], status;
	pid_t pid;

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(16 * PG, (size_t)fcntl(p[1], F_SETPIPE_SZ, 16 * PG));
	memset(buf, 0x33, 32 * PG);
	alarm_soon(false);
	EXPECT_EQ(-EINTR, zio_io(self->fd, ZIO_IOC_READ, p[0], buf, 4 * PG,
				 ZIO_IO_FILE_POS, 0));
	for (size_t i = 0; i < 4 * PG; i++)
		ASSERT_EQ(0x33, buf[i]);

	/* A full pipe: the write blocks, then is interrupted. */
	ASSERT_EQ(16 * PG, zio_io(self->fd, ZIO_IOC_WRITE, p[1], buf, 16 * PG,
				  ZIO_IO_FILE_POS, 0));
	alarm_soon(false);
	EXPECT_EQ(-EINTR, zio_io(self->fd, ZIO_IOC_WRITE, p[1], buf, 4 * PG,
				 ZIO_IO_FILE_POS, 0));

	/* Restarted: a child drains the pipe a while after the signal. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		static unsigned char sink[20 * PG];

		usleep(300000);
		_exit(read_all(p[0], sink, 20 * PG) ? 1 : 0);
	}
	alarm_soon(true);
	EXPECT_EQ(4 * PG, zio_io(self->fd, ZIO_IOC_WRITE, p[1], buf, 4 * PG,
				 ZIO_IO_FILE_POS, 0));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	signal(SIGALRM, SIG_DFL);
	close(p[0]);
	close(p[1]);
}

TEST_F(io, epipe_and_sigpipe)
{
	struct sigaction sa = { .sa_handler = on_sigpipe }, old;
	int p[2];

	ASSERT_EQ(0, sigaction(SIGPIPE, &sa, &old));
	ASSERT_EQ(0, pipe(p));
	close(p[0]);
	got_sigpipe = 0;
	EXPECT_EQ(-EPIPE, zio_io(self->fd, ZIO_IOC_WRITE, p[1], self->map, PG,
				 ZIO_IO_FILE_POS, 0));
	EXPECT_EQ(1, got_sigpipe);
	close(p[1]);
	sigaction(SIGPIPE, &old, NULL);
}

/* write()/pwrite() and read()/pread() semantics on a file in @dir. */
static void file_io(struct __test_metadata *_metadata, FIXTURE_DATA(io) *self,
		    const char *dir)
{
	unsigned char *back = malloc(12 * PG);
	char path[64];
	int f;

	snprintf(path, sizeof(path), "%s/zio-io-XXXXXX", dir);
	f = mkstemp(path);
	ASSERT_LE(0, f);
	unlink(path);
	fill(self->map, 12 * PG, 4);
	/* write() semantics: the position advances. */
	EXPECT_EQ(4 * PG, zio_io(self->fd, ZIO_IOC_WRITE, f, self->map, 4 * PG,
				 ZIO_IO_FILE_POS, 0));
	EXPECT_EQ((off_t)(4 * PG), lseek(f, 0, SEEK_CUR));
	EXPECT_EQ(4 * PG + 10, zio_io(self->fd, ZIO_IOC_WRITE, f,
				      self->map + 4 * PG, 4 * PG + 10,
				      ZIO_IO_FILE_POS, 0));
	/* pwrite() semantics: the position stays. */
	EXPECT_EQ(PG, zio_io(self->fd, ZIO_IOC_WRITE, f, self->map + 11 * PG, PG,
			     20 * PG, 0));
	EXPECT_EQ((off_t)(8 * PG + 10), lseek(f, 0, SEEK_CUR));
	ASSERT_EQ(0, fsync(f));
	ASSERT_EQ((ssize_t)(8 * PG + 10), pread(f, back, 8 * PG + 10, 0));
	EXPECT_EQ(0, memcmp(back, self->map, 8 * PG + 10));
	ASSERT_EQ((ssize_t)PG, pread(f, back, PG, 20 * PG));
	EXPECT_EQ(0, memcmp(back, self->map + 11 * PG, PG));

	/* read() and pread() semantics into another part of the buffer. */
	ASSERT_EQ(0, (int)lseek(f, 0, SEEK_SET));
	EXPECT_EQ(3 * PG, zio_io(self->fd, ZIO_IOC_READ, f, self->map + 40 * PG,
				 3 * PG, ZIO_IO_FILE_POS, 0));
	EXPECT_EQ((off_t)(3 * PG), lseek(f, 0, SEEK_CUR));
	EXPECT_EQ(0, memcmp(self->map + 40 * PG, self->map, 3 * PG));
	EXPECT_EQ(2 * PG, zio_io(self->fd, ZIO_IOC_READ, f, self->map + 50 * PG + 7,
				 2 * PG, PG, 0));
	EXPECT_EQ(0, memcmp(self->map + 50 * PG + 7, self->map + PG, 2 * PG));
	EXPECT_EQ((off_t)(3 * PG), lseek(f, 0, SEEK_CUR));
	/* Reading at the end: 0, like read() at end of file. */
	EXPECT_EQ(0, zio_io(self->fd, ZIO_IOC_READ, f, self->map, PG, 30 * PG, 0));
	close(f);
	free(back);
}

TEST_F(io, file_on_tmpfs)
{
	file_io(_metadata, self, "/tmp");
}

TEST_F(io, file_on_ext4)
{
	struct stat st;

	/* scripts/check gives the VM an ext4 disk mounted there. */
	if (stat("/mnt/ext4", &st) || stat("/mnt/ext4/lost+found", &st))
		SKIP(return, "no ext4 file system at /mnt/ext4");
	file_io(_metadata, self, "/mnt/ext4");
}

/* A connected pair of TCP sockets on loopback: 0, or -errno. */
static int tcp_pair(int *l, int *a, int *b)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t alen = sizeof(addr);

	*l = socket(AF_INET, SOCK_STREAM, 0);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (*l < 0 || bind(*l, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(*l, 1) || getsockname(*l, (struct sockaddr *)&addr, &alen))
		return -errno;
	*a = socket(AF_INET, SOCK_STREAM, 0);
	if (*a < 0 || connect(*a, (struct sockaddr *)&addr, sizeof(addr)))
		return -errno;
	*b = accept(*l, NULL, NULL);
	return *b < 0 ? -errno : 0;
}

TEST_F(io, tcp_loopback_both_ways)
{
	size_t len = 24 * PG, got = 0;
	int l, a, b;

	ASSERT_EQ(0, tcp_pair(&l, &a, &b));

	fill(self->map, len, 5);
	EXPECT_EQ((long)len, zio_io(self->fd, ZIO_IOC_WRITE, a, self->map, len,
				    ZIO_IO_FILE_POS, MSG_NOSIGNAL));
	/* Overwritten as soon as send() returns: the peer gets what was sent. */
	memset(self->map, 0xee, len);
	while (got < len) {
		long n = zio_io(self->fd, ZIO_IOC_READ, b, self->map + 32 * PG + got,
				len - got, ZIO_IO_FILE_POS, 0);

		ASSERT_LT(0, n);
		got += n;
	}
	EXPECT_TRUE(check(self->map + 32 * PG, len, 5));
	/* recv() flags: peek, then nonblocking with nothing left. */
	ASSERT_EQ(5, write(a, "hello", 5));
	EXPECT_EQ(5, zio_io(self->fd, ZIO_IOC_READ, b, self->map, PG,
			    ZIO_IO_FILE_POS, MSG_PEEK));
	EXPECT_EQ(5, zio_io(self->fd, ZIO_IOC_READ, b, self->map + PG, PG,
			    ZIO_IO_FILE_POS, 0));
	EXPECT_EQ(0, memcmp(self->map, "hello", 5));
	EXPECT_EQ(0, memcmp(self->map + PG, "hello", 5));
	EXPECT_EQ(-EAGAIN, zio_io(self->fd, ZIO_IOC_READ, b, self->map, PG,
				  ZIO_IO_FILE_POS, MSG_DONTWAIT));
	/* send() on a closed peer: EPIPE, no signal with MSG_NOSIGNAL. */
	close(b);
	close(l);
	for (int i = 0; i < 50; i++) {
		long n = zio_io(self->fd, ZIO_IOC_WRITE, a, self->map, PG,
				ZIO_IO_FILE_POS, MSG_NOSIGNAL);
		if (n < 0) {
			EXPECT_TRUE(n == -EPIPE || n == -ECONNRESET);
			break;
		}
		usleep(1000);
	}
	close(a);
}

/*
 * TCP takes deferred pages by reference: a copy's pages, sent before anyone
 * touches them, have references zio cannot account for until the peer
 * reads them. Those are the socket's, which only reads them: a copy from
 * them shares them (no pages_fallback), and a write to them copies the
 * page first. Pages the program wrote (and maps writable) are copied
 * during the send instead.
 */
TEST_F(io, tcp_sends_deferred_pages_by_reference)
{
	size_t len = 16 * PG;
	struct zio_counters before, after;
	unsigned char *sent = self->map + 16 * PG, *copy = self->map + 32 * PG;
	unsigned char *out = malloc(len);
	int l, a, b;

	ASSERT_EQ(0, tcp_pair(&l, &a, &b));
	fill(self->map, len, 12);
	ASSERT_EQ(0, zio_copy(self->fd, sent, self->map, len, NULL));
	ASSERT_EQ((long)len, zio_io(self->fd, ZIO_IOC_WRITE, a, sent, len,
				    ZIO_IO_FILE_POS, 0));
	ASSERT_EQ(0, zio_counters(self->fd, false, &before));
	ASSERT_EQ(0, zio_copy(self->fd, copy, sent, len, NULL));
	ASSERT_EQ(0, zio_counters(self->fd, false, &after));
	EXPECT_EQ(0, after.pages_fallback - before.pages_fallback);
	EXPECT_EQ(len, after.bytes_deferred - before.bytes_deferred);
	/* Written right after the send: the peer gets what was sent. */
	memset(sent, 0xee, len);
	memset(self->map, 0xdd, len);
	EXPECT_EQ(0, read_all(b, out, len));
	EXPECT_TRUE(check(out, len, 12));
	EXPECT_TRUE(check(copy, len, 12));

	/* Written by the program: copied during the send, no references. */
	fill(sent, len, 13);
	ASSERT_EQ((long)len, zio_io(self->fd, ZIO_IOC_WRITE, a, sent, len,
				    ZIO_IO_FILE_POS, 0));
	ASSERT_EQ(0, zio_counters(self->fd, false, &before));
	ASSERT_EQ(0, zio_copy(self->fd, copy, sent, len, NULL));
	ASSERT_EQ(0, zio_counters(self->fd, false, &after));
	EXPECT_EQ(0, after.pages_fallback - before.pages_fallback);
	memset(sent, 0xee, len);
	EXPECT_EQ(0, read_all(b, out, len));
	EXPECT_TRUE(check(out, len, 13));
	EXPECT_TRUE(check(copy, len, 13));
	close(a);
	close(b);
	close(l);
	free(out);
}

TEST_F(io, partial_write_on_a_full_socket)
{
	unsigned char *back = malloc(self->len);
	int sv[2], small = 4096;
	size_t got = 0;
	long n;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv));
	ASSERT_EQ(0, setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)));
	fill(self->map, self->len, 9);
	/* Like write(): a short count on a nonblocking socket that fills up. */
	n = zio_io(self->fd, ZIO_IOC_WRITE, sv[0], self->map, self->len,
		   ZIO_IO_FILE_POS, 0);
	ASSERT_LT(0, n);
	ASSERT_GT((long)self->len, n);
	EXPECT_EQ(-EAGAIN, zio_io(self->fd, ZIO_IOC_WRITE, sv[0], self->map + n,
				  self->len - n, ZIO_IO_FILE_POS, 0));
	/* Exactly those bytes arrive, and no more. */
	while (got < (size_t)n) {
		ssize_t r = read(sv[1], back + got, n - got);

		ASSERT_LT(0, r);
		got += r;
	}
	EXPECT_TRUE(check(back, n, 9));
	EXPECT_EQ(-1, read(sv[1], back, 1));
	EXPECT_EQ(EAGAIN, errno);
	close(sv[0]);
	close(sv[1]);
	free(back);
}

TEST_F(io, udp_datagram_is_whole)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t alen = sizeof(addr);
	int r, s;

	r = socket(AF_INET, SOCK_DGRAM, 0);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_EQ(0, bind(r, (struct sockaddr *)&addr, sizeof(addr)));
	ASSERT_EQ(0, getsockname(r, (struct sockaddr *)&addr, &alen));
	ASSERT_EQ(0, connect(s, (struct sockaddr *)&addr, sizeof(addr)));
	fill(self->map + 50, 3 * PG, 6);
	/* One datagram over four pages of the buffer. */
	EXPECT_EQ(3 * PG, zio_io(self->fd, ZIO_IOC_WRITE, s, self->map + 50,
				 3 * PG, ZIO_IO_FILE_POS, 0));
	EXPECT_EQ(3 * PG, zio_io(self->fd, ZIO_IOC_READ, r, self->map + 20 * PG,
				 8 * PG, ZIO_IO_FILE_POS, 0));
	EXPECT_TRUE(check(self->map + 20 * PG, 3 * PG, 6));
	/* MSG_TRUNC: the datagram's real length; only what fits lands. */
	memset(self->map + 30 * PG, 0, 2 * PG);
	EXPECT_EQ(3 * PG, zio_io(self->fd, ZIO_IOC_WRITE, s, self->map + 50,
				 3 * PG, ZIO_IO_FILE_POS, 0));
	EXPECT_EQ(3 * PG, zio_io(self->fd, ZIO_IOC_READ, r, self->map + 30 * PG,
				 PG, ZIO_IO_FILE_POS, MSG_TRUNC));
	EXPECT_TRUE(check(self->map + 30 * PG, PG, 6));
	EXPECT_EQ(0, self->map[31 * PG]);
	close(r);
	close(s);
}

TEST_F(io, unix_socketpair)
{
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	fill(self->map, 6 * PG, 7);
	EXPECT_EQ(6 * PG, zio_io(self->fd, ZIO_IOC_WRITE, sv[0], self->map,
				 6 * PG, ZIO_IO_FILE_POS, 0));
	EXPECT_EQ(0, read_all(sv[1], self->map + 10 * PG, 6 * PG));
	EXPECT_TRUE(check(self->map + 10 * PG, 6 * PG, 7));
	close(sv[0]);
	close(sv[1]);
}

TEST_F(io, write_then_overwrite_buffer)
{
	unsigned char *out = malloc(4 * PG);
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	fill(self->map, 4 * PG, 8);
	EXPECT_EQ(4 * PG, zio_io(self->fd, ZIO_IOC_WRITE, sv[0], self->map,
				 4 * PG, ZIO_IO_FILE_POS, 0));
	/* Overwritten at once: the peer still gets what was sent. */
	memset(self->map, 0xee, 4 * PG);
	EXPECT_EQ(0, read_all(sv[1], out, 4 * PG));
	EXPECT_TRUE(check(out, 4 * PG, 8));
	close(sv[0]);
	close(sv[1]);
	free(out);
}

/*
 * A buffer of two mappings at different slot offsets, the second longer
 * than the module's batches of slots: pages written through the mapping,
 * shared by an aligned copy, pending from an unaligned one, and a discarded
 * 64-slot chunk (no xarray node there at all). *want gets what the buffer
 * reads as, without touching it.
 */
#define SPAN_PAGES	(4 + 200)

static unsigned char *span_setup(struct __test_metadata *_metadata,
				 FIXTURE_DATA(io) *self, unsigned char *want)
{
	unsigned char *area, *x, *y, *src = malloc(self->len);
	struct zio_copy c;

	area = mmap(NULL, SPAN_PAGES * PG, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED || !src)
		return NULL;
	/* Slots 300-303, then 400-599. */
	x = mmap(area, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 self->fd, 300 * PG);
	y = mmap(area + 4 * PG, 200 * PG, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, self->fd, 400 * PG);
	EXPECT_EQ(area, x);
	EXPECT_EQ(area + 4 * PG, y);

	fill(area, SPAN_PAGES * PG, 3);
	fill(want, SPAN_PAGES * PG, 3);
	fill(self->map, self->len, 4);
	fill(src, self->len, 4);
	EXPECT_EQ(0, zio_copy(self->fd, area + 2 * PG, self->map, 8 * PG, &c));
	EXPECT_EQ(8 * PG, c.bytes_deferred);
	memcpy(want + 2 * PG, src, 8 * PG);
	EXPECT_EQ(0, zio_copy(self->fd, area + 160 * PG, self->map + 100,
			      20 * PG, &c));
	EXPECT_EQ(20 * PG, c.bytes_deferred);
	memcpy(want + 160 * PG, src + 100, 20 * PG);
	/* Slots 448-511: a whole chunk of the xarray. */
	EXPECT_EQ(0, zio_discard(self->fd, area + 52 * PG, 64 * PG));
	memset(want + 52 * PG, 0, 64 * PG);
	free(src);
	return area;
}

/* A write from such a buffer: every page what its own slot holds. */
TEST_F(io, write_spans_mappings_and_slot_batches)
{
	size_t len = SPAN_PAGES * PG - 123 - 77;
	unsigned char *area, *want = malloc(SPAN_PAGES * PG), *out = malloc(len);
	int mfd = memfd_create("zio-write", 0);

	ASSERT_TRUE(want && out);
	ASSERT_LE(0, mfd);
	area = span_setup(_metadata, self, want);
	ASSERT_NE(NULL, area);
	EXPECT_EQ((long)len, zio_io(self->fd, ZIO_IOC_WRITE, mfd, area + 123,
				    len, 0, 0));
	EXPECT_EQ((ssize_t)len, pread(mfd, out, len, 0));
	EXPECT_EQ(0, memcmp(out, want + 123, len));
	close(mfd);
	free(out);
	free(want);
	munmap(area, SPAN_PAGES * PG);
}

/*
 * A read into such a buffer: every byte read lands in place, the bytes
 * around it stay, and the pages the slots held (shared, pending sources)
 * keep their bytes for their other holders.
 */
TEST_F(io, read_spans_mappings_and_slot_batches)
{
	size_t len = SPAN_PAGES * PG - 123 - 77;
	unsigned char *area, *want = malloc(SPAN_PAGES * PG), *in = malloc(len);
	int mfd = memfd_create("zio-read", 0);

	ASSERT_TRUE(want && in);
	ASSERT_LE(0, mfd);
	fill(in, len, 5);
	ASSERT_EQ((ssize_t)len, pwrite(mfd, in, len, 0));
	area = span_setup(_metadata, self, want);
	ASSERT_NE(NULL, area);
	EXPECT_EQ((long)len, zio_io(self->fd, ZIO_IOC_READ, mfd, area + 123,
				    len, 0, 0));
	memcpy(want + 123, in, len);
	EXPECT_EQ(0, memcmp(area, want, SPAN_PAGES * PG));
	EXPECT_TRUE(check(self->map, self->len, 4));
	close(mfd);
	free(in);
	free(want);
	munmap(area, SPAN_PAGES * PG);
}

TEST_F(io, bad_input)
{
	unsigned char local[PG];
	struct zio_io io = { .fd = 0, .addr = (unsigned long)self->map, .len = PG,
			     .offset = ZIO_IO_FILE_POS, .reserved = { 1 } };
	int p[2], sv[2], f;

	ASSERT_EQ(0, pipe(p));
	EXPECT_EQ(-EINVAL, zio_ioctl(self->fd, ZIO_IOC_WRITE, &io));
	EXPECT_EQ(-EBADF, zio_io(self->fd, ZIO_IOC_WRITE, 12345, self->map, PG,
				 ZIO_IO_FILE_POS, 0));
	EXPECT_EQ(-EBADF, zio_io(self->fd, ZIO_IOC_WRITE, -1, self->map, PG,
				 ZIO_IO_FILE_POS, 0));
	/* Wrong direction of the descriptor. */
	EXPECT_EQ(-EBADF, zio_io(self->fd, ZIO_IOC_WRITE, p[0], self->map, PG,
				 ZIO_IO_FILE_POS, 0));
	EXPECT_EQ(-EBADF, zio_io(self->fd, ZIO_IOC_READ, p[1], self->map, PG,
				 ZIO_IO_FILE_POS, 0));
	/* A buffer outside zio mappings, a kernel address, an overflow. */
	EXPECT_EQ(-EFAULT, zio_io(self->fd, ZIO_IOC_WRITE, p[1], local, PG,
				  ZIO_IO_FILE_POS, 0));
	EXPECT_EQ(-EFAULT, zio_io(self->fd, ZIO_IOC_WRITE, p[1],
				  (void *)0xffff888000000000ULL, PG,
				  ZIO_IO_FILE_POS, 0));
	EXPECT_EQ(-EFAULT, zio_io(self->fd, ZIO_IOC_WRITE, p[1],
				  self->map + self->len - PG, 2 * PG,
				  ZIO_IO_FILE_POS, 0));
	EXPECT_EQ(-EOVERFLOW, zio_io(self->fd, ZIO_IOC_WRITE, p[1],
				     (void *)~0UL, 2, ZIO_IO_FILE_POS, 0));
	/*
	 * Socket flags on a pipe, also ZIO_IO_SOCKET alone (send() and
	 * recv() without flags); a bit above it; an offset on a pipe.
	 */
	EXPECT_EQ(-ENOTSOCK, zio_io(self->fd, ZIO_IOC_WRITE, p[1], self->map, PG,
				    ZIO_IO_FILE_POS, MSG_DONTWAIT));
	EXPECT_EQ(-ENOTSOCK, zio_io(self->fd, ZIO_IOC_WRITE, p[1], self->map, PG,
				    ZIO_IO_FILE_POS, ZIO_IO_SOCKET));
	EXPECT_EQ(-ENOTSOCK, zio_io(self->fd, ZIO_IOC_READ, p[0], self->map, PG,
				    ZIO_IO_FILE_POS, ZIO_IO_SOCKET));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	EXPECT_EQ(PG, zio_io(self->fd, ZIO_IOC_WRITE, sv[0], self->map, PG,
			     ZIO_IO_FILE_POS, ZIO_IO_SOCKET));
	EXPECT_EQ(-EINVAL, zio_io(self->fd, ZIO_IOC_WRITE, sv[0], self->map, PG,
				  ZIO_IO_FILE_POS, ZIO_IO_SOCKET << 1));
	close(sv[0]);
	close(sv[1]);
	EXPECT_EQ(-ESPIPE, zio_io(self->fd, ZIO_IOC_WRITE, p[1], self->map, PG,
				  0, 0));
	/* A read into a read-only mapping. */
	ASSERT_EQ(0, mprotect(self->map, PG, PROT_READ));
	ASSERT_EQ(1, write(p[1], "x", 1));
	EXPECT_EQ(-EFAULT, zio_io(self->fd, ZIO_IOC_READ, p[0], self->map, PG,
				  ZIO_IO_FILE_POS, 0));
	ASSERT_EQ(0, mprotect(self->map, PG, PROT_READ | PROT_WRITE));
	/* Zero length: nothing, like write(fd, buf, 0). */
	EXPECT_EQ(0, zio_io(self->fd, ZIO_IOC_WRITE, p[1], self->map, 0,
			    ZIO_IO_FILE_POS, 0));
	f = open("/dev/null", O_WRONLY);
	EXPECT_EQ(PG, zio_io(self->fd, ZIO_IOC_WRITE, f, self->map, PG,
			     ZIO_IO_FILE_POS, 0));
	close(f);
	close(p[0]);
	close(p[1]);
}

TEST(counters_and_nothing_left)
{
	struct zio_stats before = { .flags = ZIO_STATS_GLOBAL };
	struct zio_stats after = { .flags = ZIO_STATS_GLOBAL };
	int fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC), null, p[2];
	unsigned char *map;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pipe(p));
	null = open("/dev/null", O_WRONLY);
	ASSERT_LE(0, null);
	map = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);

	ASSERT_EQ(0, zio_ioctl(fd, ZIO_IOC_STATS, &before));
	EXPECT_EQ(3 * PG, zio_io(fd, ZIO_IOC_WRITE, null, map, 3 * PG,
				 ZIO_IO_FILE_POS, 0));
	ASSERT_EQ(100, write(p[1], map, 100));
	EXPECT_EQ(100, zio_io(fd, ZIO_IOC_READ, p[0], map + PG, 2 * PG,
			      ZIO_IO_FILE_POS, 0));
	ASSERT_EQ(0, zio_ioctl(fd, ZIO_IOC_STATS, &after));
	EXPECT_EQ(3 * PG, after.counters.io_bytes_written -
			  before.counters.io_bytes_written);
	EXPECT_EQ(100, after.counters.io_bytes_read - before.counters.io_bytes_read);

	munmap(map, 4 * PG);
	close(fd);
	ASSERT_EQ(0, zio_global_counters(&after.counters));
	EXPECT_EQ(0, after.counters.pages_live);
	EXPECT_EQ(0, after.counters.pages_pending);
	close(null);
	close(p[0]);
	close(p[1]);
}

/* ZIO_IOC_READ of @len bytes of the pattern @seed, through a pipe. */
static long pipe_read(int zfd, unsigned char *buf, size_t len, unsigned int seed)
{
	unsigned char *in = malloc(len);
	int p[2];
	long ret = -ENOMEM;

	if (!in)
		return ret;
	ret = -EPIPE;
	if (pipe(p))
		goto out_free;
	if (fcntl(p[1], F_SETPIPE_SZ, len) < (long)len)
		goto out_close;
	fill(in, len, seed);
	if (write(p[1], in, len) != (ssize_t)len)
		goto out_close;
	ret = zio_io(zfd, ZIO_IOC_READ, p[0], buf, len, ZIO_IO_FILE_POS, 0);
out_close:
	close(p[0]);
	close(p[1]);
out_free:
	free(in);
	return ret;
}

/*
 * The pages a read puts out of their slots go to the space's pool, and the
 * next read takes them from there: 16 pages and the spare for a short
 * read's last page, which goes back unused. A page the program mapped is
 * not kept. The pool is gone with the space.
 */
TEST(read_recycles_pages)
{
	int fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	struct zio_counters c0, c;
	volatile unsigned char sum = 0;
	unsigned char *map;

	ASSERT_LE(0, fd);
	map = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, zio_counters(fd, false, &c0));
	EXPECT_EQ(0, c0.pages_pooled);

	/* Fresh pages; the unused spare is kept. */
	ASSERT_EQ(16 * PG, pipe_read(fd, map, 16 * PG, 1));
	ASSERT_EQ(0, zio_counters(fd, false, &c));
	EXPECT_EQ(0, c.pages_recycled - c0.pages_recycled);
	EXPECT_EQ(1, c.pages_pooled);
	/* The spare comes back; the 16 pages replaced are kept. */
	ASSERT_EQ(16 * PG, pipe_read(fd, map, 16 * PG, 2));
	ASSERT_EQ(0, zio_counters(fd, false, &c));
	EXPECT_EQ(1, c.pages_recycled - c0.pages_recycled);
	EXPECT_EQ(17, c.pages_pooled);
	/* All 17 come from the pool, and go back. */
	ASSERT_EQ(16 * PG, pipe_read(fd, map, 16 * PG, 3));
	ASSERT_EQ(0, zio_counters(fd, false, &c));
	EXPECT_EQ(18, c.pages_recycled - c0.pages_recycled);
	EXPECT_EQ(17, c.pages_pooled);
	EXPECT_TRUE(check(map, 16 * PG, 3));

	/* Mapped (by the check's loads) when replaced: not kept. */
	for (size_t i = 0; i < 16 * PG; i += PG)
		sum += map[i];
	ASSERT_EQ(16 * PG, pipe_read(fd, map, 16 * PG, 4));
	ASSERT_EQ(0, zio_counters(fd, false, &c));
	EXPECT_EQ(35, c.pages_recycled - c0.pages_recycled);
	EXPECT_EQ(1, c.pages_pooled);
	EXPECT_TRUE(check(map, 16 * PG, 4));
	EXPECT_EQ(16, c.pages_live);

	munmap(map, 16 * PG);
	close(fd);
	ASSERT_EQ(0, zio_global_counters(&c));
	EXPECT_EQ(0, c.pages_pooled);
	EXPECT_EQ(0, c.pages_live);
}

/*
 * A child that writes @len bytes of @buf to @fd 64 KiB at a time, 20 ms
 * apart, so that a read waits for more than the socket holds. Its pid.
 */
static pid_t send_slowly(int fd, const unsigned char *buf, size_t len)
{
	pid_t child = fork();

	if (child)
		return child;
	for (size_t off = 0; off < len; off += 16 * PG) {
		if (write(fd, buf + off, 16 * PG) != (ssize_t)(16 * PG))
			_exit(1);
		usleep(20000);
	}
	_exit(0);
}

/*
 * A TCP read gets fresh pages for what the socket holds (at least 64 KiB),
 * not for the whole buffer: 8 KiB queued for a 512 KiB buffer costs 16
 * pages and a spare, of which the 15 unfilled go to the pool (127 when
 * every page of the buffer got one). MSG_WAITALL still fills the whole
 * buffer from segments that come one after the other, and SO_RCVLOWAT
 * still makes a read wait for that many bytes.
 */
TEST(tcp_read_takes_what_is_queued)
{
	int fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	size_t len = 128 * PG, got;
	struct pollfd pfd;
	struct zio_counters c;
	unsigned char *map, *buf;
	int l, a, b, status, lowat;
	pid_t child;

	ASSERT_LE(0, fd);
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	buf = malloc(len);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, tcp_pair(&l, &a, &b));

	fill(buf, 2 * PG, 6);
	ASSERT_EQ((ssize_t)(2 * PG), write(a, buf, 2 * PG));
	pfd = (struct pollfd){ .fd = b, .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, 5000));
	usleep(10000);
	EXPECT_EQ((long)(2 * PG), zio_io(fd, ZIO_IOC_READ, b, map, len,
					 ZIO_IO_FILE_POS, 0));
	EXPECT_TRUE(check(map, 2 * PG, 6));
	ASSERT_EQ(0, zio_counters(fd, false, &c));
	EXPECT_EQ(15, c.pages_pooled);
	EXPECT_EQ(2, c.pages_live);

	fill(buf, len, 7);
	child = send_slowly(a, buf, len);
	ASSERT_LE(0, child);
	got = zio_io(fd, ZIO_IOC_READ, b, map, len, ZIO_IO_FILE_POS,
		     MSG_WAITALL);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_EQ(0, status);
	EXPECT_EQ(len, got);
	EXPECT_TRUE(check(map, len, 7));

	/* SO_RCVLOWAT: the read waits for that much, as recv() does. */
	lowat = 64 * PG;
	ASSERT_EQ(0, setsockopt(b, SOL_SOCKET, SO_RCVLOWAT, &lowat,
				sizeof(lowat)));
	fill(buf, len, 8);
	child = send_slowly(a, buf, len);
	ASSERT_LE(0, child);
	got = zio_io(fd, ZIO_IOC_READ, b, map, len, ZIO_IO_FILE_POS, 0);
	EXPECT_LE(64 * PG, got);
	EXPECT_GE(len, got);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_EQ(0, status);
	if (got < len)
		ASSERT_EQ(0, read_all(b, map + got, len - got));
	EXPECT_TRUE(check(map, len, 8));

	close(a);
	close(b);
	close(l);
	free(buf);
	munmap(map, len);
	close(fd);
}

/*
 * Pooled pages hold the bytes of earlier reads. None of them may show:
 * not around a read into part of an empty page, not after a short read,
 * not where a TCP MSG_TRUNC read wrote nothing, not in a page copied on
 * write or materialized from a pending copy.
 */
TEST_F(io, pooled_pages_never_show)
{
	unsigned char *stock = self->map, *part = self->map + 32 * PG;
	unsigned char *zero = calloc(1, 8 * PG), in[100];
	struct zio_copy cp = { 0 };
	int p[2], l, a, b;
	struct zio_counters c0, c;

	ASSERT_NE(NULL, zero);
	/* Stock the pool with 17 pages of the pattern of 9. */
	ASSERT_EQ(16 * PG, pipe_read(self->fd, stock, 16 * PG, 9));
	ASSERT_EQ(16 * PG, pipe_read(self->fd, stock, 16 * PG, 10));
	ASSERT_EQ(0, zio_counters(self->fd, false, &c0));
	ASSERT_EQ(17, c0.pages_pooled);
	/* The pool's first page is the spare, which never held data: take it. */
	stock[31 * PG] = 1;
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	ASSERT_EQ(16, c.pages_pooled);

	/* 100 bytes into the middle of an empty page: zeros around them. */
	ASSERT_EQ(0, pipe(p));
	fill(in, sizeof(in), 11);
	ASSERT_EQ((ssize_t)sizeof(in), write(p[1], in, sizeof(in)));
	EXPECT_EQ((long)sizeof(in), zio_io(self->fd, ZIO_IOC_READ, p[0],
					   part + 1000, sizeof(in),
					   ZIO_IO_FILE_POS, 0));
	EXPECT_EQ(0, memcmp(part, zero, 1000));
	EXPECT_EQ(0, memcmp(part + 1000, in, sizeof(in)));
	EXPECT_EQ(0, memcmp(part + 1100, zero, PG - 1100));
	/* Its spare and its page came from the pool. */
	c0 = c;
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(2, c.pages_recycled - c0.pages_recycled);

	/* A short read: 2.5 pages of 8, into empty pages. */
	part += PG;
	fill(zero + 4 * PG, PG / 2 * 5, 12);	/* what the pipe gets */
	ASSERT_EQ((ssize_t)PG / 2 * 5, write(p[1], zero + 4 * PG, PG / 2 * 5));
	EXPECT_EQ((long)PG / 2 * 5, zio_io(self->fd, ZIO_IOC_READ, p[0], part,
					   8 * PG, ZIO_IO_FILE_POS, 0));
	EXPECT_TRUE(check(part, PG / 2 * 5, 12));
	memset(zero + 4 * PG, 0, PG / 2 * 5);
	EXPECT_EQ(0, memcmp(part + PG / 2 * 5, zero, 8 * PG - PG / 2 * 5));
	close(p[0]);
	close(p[1]);

	/* TCP with MSG_TRUNC discards what it reads and writes nothing. */
	part += 8 * PG;
	ASSERT_EQ(0, tcp_pair(&l, &a, &b));
	ASSERT_EQ((ssize_t)sizeof(in), write(a, in, sizeof(in)));
	EXPECT_EQ((long)sizeof(in), zio_io(self->fd, ZIO_IOC_READ, b, part,
					   2 * PG, ZIO_IO_FILE_POS, MSG_TRUNC));
	EXPECT_EQ(0, memcmp(part, zero, 2 * PG));
	close(l);
	close(a);
	close(b);

	/* A page copied on write, and one materialized from a pending copy. */
	part += 2 * PG;
	fill(part, 2 * PG, 13);
	cp.dst = (unsigned long)(part + 2 * PG);
	cp.src = (unsigned long)part;
	cp.len = PG;
	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_COPY, &cp));
	cp.dst = (unsigned long)(part + 3 * PG);
	cp.src = (unsigned long)part + 10;
	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_COPY, &cp));
	EXPECT_EQ(PG, cp.bytes_deferred);
	part[2 * PG + 5] ^= 0xff;
	part[2 * PG + 5] ^= 0xff;
	EXPECT_EQ(0, memcmp(part + 2 * PG, part, PG));
	EXPECT_EQ(0, memcmp(part + 3 * PG, part + 10, PG));

	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_LT(c0.pages_recycled, c.pages_recycled);
	free(zero);
}

/*
 * Pages lent to TCP are not pooled while the socket holds them: a read
 * over the buffer gives it fresh pages, the next reads may take pooled
 * ones, and the peer still receives what was sent.
 */
TEST_F(io, pages_lent_to_tcp_are_not_pooled)
{
	const size_t len = 4 * PG;
	unsigned char *buf = self->map, *other = self->map + 8 * PG;
	unsigned char *out = malloc(len);
	int l, a, b;

	ASSERT_NE(NULL, out);
	ASSERT_EQ(0, tcp_pair(&l, &a, &b));
	/* Pages only a read wrote: TCP gets them by reference. */
	ASSERT_EQ((long)len, pipe_read(self->fd, buf, len, 21));
	ASSERT_EQ((long)len, zio_io(self->fd, ZIO_IOC_WRITE, a, buf, len,
				    ZIO_IO_FILE_POS, 0));
	/* Read over them, then take whatever the pool holds, twice over. */
	ASSERT_EQ((long)len, pipe_read(self->fd, buf, len, 22));
	ASSERT_EQ((long)len, pipe_read(self->fd, other, len, 23));
	ASSERT_EQ((long)len, pipe_read(self->fd, other, len, 24));
	ASSERT_EQ(0, read_all(b, out, len));
	EXPECT_TRUE(check(out, len, 21));
	EXPECT_TRUE(check(buf, len, 22));
	EXPECT_TRUE(check(other, len, 24));
	close(l);
	close(a);
	close(b);
	free(out);
}

/* Until TCP has every byte sent on @fd acknowledged: 0, or -1 after 5 s. */
static int tcp_wait_acked(int fd)
{
	for (int i = 0; i < 5000; i++) {
		struct tcp_info ti;
		socklen_t len = sizeof(ti);

		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
			return -1;
		if (!ti.tcpi_unacked)
			return 0;
		usleep(1000);
	}
	return -1;
}

/* On one CPU, socket buffers are freed where they were allocated, at once. */
static int stay_on_one_cpu(void)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(0, &one);
	return sched_setaffinity(0, sizeof(one), &one);
}

/*
 * Fill @map with @seed's pattern, send it from @a, write over it at once,
 * and receive it on @b into @out: 0 when the peer got what was sent.
 */
static int send_then_overwrite(int fd, int a, int b, unsigned char *map,
			       unsigned char *out, size_t len, unsigned int seed)
{
	fill(map, len, seed);
	if (zio_io(fd, ZIO_IOC_WRITE, a, map, len, ZIO_IO_FILE_POS, 0) != (long)len)
		return -1;
	memset(map, 0xee, len);
	if (read_all(b, out, len))
		return -1;
	return check(out, len, seed) ? 0 : -1;
}

/*
 * A send of pages the program wrote copies them into the space's 32 KiB
 * send frags, which TCP takes by reference: the peer gets what was sent
 * however the buffer changes next, and once TCP lets go of the frags, the
 * next send takes them again (counted as pages recycled). The slot pages
 * are not lent. The frags are gone with the space.
 */
TEST(tcp_sends_written_pages_from_frags)
{
	int fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC), l, a, b;
	const size_t len = 16 * PG;
	unsigned char *map, *out = malloc(len);
	struct zio_counters c0, c;

	ASSERT_LE(0, fd);
	ASSERT_NE(NULL, out);
	ASSERT_EQ(0, stay_on_one_cpu());
	map = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, tcp_pair(&l, &a, &b));
	ASSERT_EQ(0, zio_counters(fd, false, &c0));

	/* Two new frags; written over at once, the peer gets what was sent. */
	ASSERT_EQ(0, send_then_overwrite(fd, a, b, map, out, len, 31));
	ASSERT_EQ(0, tcp_wait_acked(a));
	ASSERT_EQ(0, zio_counters(fd, false, &c));
	EXPECT_EQ(0, c.pages_recycled - c0.pages_recycled);

	/* TCP let go of both: the next send takes them again. */
	fill(map, len, 32);
	ASSERT_EQ((long)len, zio_io(fd, ZIO_IOC_WRITE, a, map, len,
				    ZIO_IO_FILE_POS, 0));
	ASSERT_EQ(0, read_all(b, out, len));
	EXPECT_TRUE(check(out, len, 32));
	ASSERT_EQ(0, zio_counters(fd, false, &c));
	EXPECT_EQ(16, c.pages_recycled - c0.pages_recycled);
	/* Not lent: copying from them shares them, no fallback. */
	ASSERT_EQ(0, zio_copy(fd, map + len, map, len, NULL));
	ASSERT_EQ(0, zio_counters(fd, false, &c));
	EXPECT_EQ(0, c.pages_fallback - c0.pages_fallback);
	EXPECT_TRUE(check(map + len, len, 32));

	/* Empty slots and written pages in one send: zeros, then the bytes. */
	ASSERT_EQ(0, zio_discard(fd, map, PG));
	ASSERT_EQ((long)(2 * PG), zio_io(fd, ZIO_IOC_WRITE, a, map, 2 * PG,
					 ZIO_IO_FILE_POS, 0));
	ASSERT_EQ(0, read_all(b, out, 2 * PG));
	for (size_t i = 0; i < PG; i++)
		ASSERT_EQ(0, out[i]);
	EXPECT_EQ(0, memcmp(out + PG, map + PG, PG));

	close(a);
	close(b);
	close(l);
	munmap(map, 2 * len);
	close(fd);
	ASSERT_EQ(0, zio_global_counters(&c));
	EXPECT_EQ(0, c.pages_pooled);
	EXPECT_EQ(0, c.pages_live);
	free(out);
}

/*
 * A pending copy goes to TCP as the parts of its source pages: nothing is
 * materialized, and the copy's record is charged once for each page sent.
 * The source pages are lent: source and destination written right after
 * the send, the peer still receives the copy's bytes. In a send with a
 * page the program wrote, that page is copied and the others still go by
 * reference: a page a read put in place is lent, so writing it after the
 * send copies it (pages_cow).
 */
TEST_F(io, tcp_sends_pending_pages_from_their_sources)
{
	const size_t len = 8 * PG;
	unsigned char *src = self->map, *dst = self->map + 16 * PG;
	unsigned char *out = malloc(len), *want = malloc(len);
	struct zio_record rec[2];
	struct zio_stats s = { .records = (uintptr_t)rec, .records_cap = 2 };
	struct zio_counters c0, c;
	int l, a, b;

	ASSERT_NE(NULL, out);
	ASSERT_NE(NULL, want);
	ASSERT_EQ(0, tcp_pair(&l, &a, &b));
	fill(src, 9 * PG, 41);
	memcpy(want, src + 100, len);
	ASSERT_EQ(0, zio_copy_tag(self->fd, dst, src + 100, len, 0x4141, NULL));
	ASSERT_EQ(0, zio_counters(self->fd, false, &c0));
	ASSERT_EQ((long)len, zio_io(self->fd, ZIO_IOC_WRITE, a, dst, len,
				    ZIO_IO_FILE_POS, 0));
	ASSERT_EQ((long)len, zio_io(self->fd, ZIO_IOC_WRITE, a, dst, len,
				    ZIO_IO_FILE_POS, 0));
	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_STATS, &s));
	EXPECT_EQ(0, s.counters.pages_materialized - c0.pages_materialized);
	EXPECT_EQ(0, s.counters.pages_fallback - c0.pages_fallback);
	ASSERT_EQ(1, s.records_count);
	EXPECT_EQ(0x4141, rec[0].tag);
	EXPECT_EQ(8, rec[0].pages_deferred);
	EXPECT_EQ(8, rec[0].pages_materialized);
	/*
	 * The pending copies go (the destination is written), and then the
	 * source pages are only the source's: lent, they are copied on write.
	 */
	memset(dst, 0xbb, len);
	memset(src, 0xaa, 9 * PG);
	ASSERT_EQ(0, read_all(b, out, len));
	EXPECT_EQ(0, memcmp(out, want, len));
	ASSERT_EQ(0, read_all(b, out, len));
	EXPECT_EQ(0, memcmp(out, want, len));
	/* Touched after the send: materialized, and not charged again. */
	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_STATS, &s));
	EXPECT_EQ(8, s.counters.pages_materialized - c0.pages_materialized);
	EXPECT_EQ(9, s.counters.pages_cow - c0.pages_cow);
	EXPECT_EQ(8, rec[0].pages_materialized);

	/* A written page, then a page a read put in place, then pending ones. */
	fill(src, 9 * PG, 42);
	ASSERT_EQ(0, zio_copy(self->fd, dst + 2 * PG, src + 100, len - 2 * PG,
			      NULL));
	fill(dst, PG, 43);
	ASSERT_EQ((long)PG, pipe_read(self->fd, dst + PG, PG, 44));
	memcpy(want, dst, 2 * PG);
	memcpy(want + 2 * PG, src + 100, len - 2 * PG);
	ASSERT_EQ(0, zio_counters(self->fd, false, &c0));
	ASSERT_EQ((long)len, zio_io(self->fd, ZIO_IOC_WRITE, a, dst, len,
				    ZIO_IO_FILE_POS, 0));
	memset(dst, 0xcc, len);
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	/* The read page is copied on write, the written one is not. */
	EXPECT_EQ(1, c.pages_cow - c0.pages_cow);
	EXPECT_EQ(6, c.pages_materialized - c0.pages_materialized);
	memset(src, 0xdd, 9 * PG);
	ASSERT_EQ(0, read_all(b, out, len));
	EXPECT_EQ(0, memcmp(out, want, len));

	close(a);
	close(b);
	close(l);
	free(want);
	free(out);
}

/*
 * A page somebody else holds (here a pipe, through vmsplice) is not lent
 * the first time: its bytes go through the frags, and a copy from it
 * still gets a copy of its own (pages_fallback), as for any page such a
 * holder may write. The page next to it, nobody else's, is lent.
 */
TEST_F(io, tcp_does_not_lend_pages_others_hold)
{
	unsigned char *buf = self->map, *copy = self->map + 8 * PG;
	unsigned char out[2 * PG];
	struct iovec iov = { .iov_base = buf, .iov_len = PG };
	struct zio_counters c0, c;
	int l, a, b, p[2];

	ASSERT_EQ(0, tcp_pair(&l, &a, &b));
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ((long)(2 * PG), pipe_read(self->fd, buf, 2 * PG, 61));
	ASSERT_EQ((ssize_t)PG, vmsplice(p[1], &iov, 1, 0));
	ASSERT_EQ((long)(2 * PG), zio_io(self->fd, ZIO_IOC_WRITE, a, buf, 2 * PG,
					 ZIO_IO_FILE_POS, 0));
	ASSERT_EQ(0, zio_counters(self->fd, false, &c0));
	ASSERT_EQ(0, zio_copy(self->fd, copy, buf, PG, NULL));
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(1, c.pages_fallback - c0.pages_fallback);
	/* The lent page is copied on write, the other is written in place. */
	memset(buf, 0xee, 2 * PG);
	ASSERT_EQ(0, zio_counters(self->fd, false, &c0));
	EXPECT_EQ(1, c0.pages_cow - c.pages_cow);
	ASSERT_EQ(0, read_all(b, out, 2 * PG));
	EXPECT_TRUE(check(out, 2 * PG, 61));
	EXPECT_TRUE(check(copy, PG, 61));
	ASSERT_EQ((ssize_t)PG, read(p[0], out, PG));
	close(p[0]);
	close(p[1]);
	close(a);
	close(b);
	close(l);
}

/*
 * A nonblocking send of read, pending and written pages to a socket with
 * little room comes back short: exactly the bytes it says arrive, and
 * the copy's record is charged for the pending pages those reached only.
 */
TEST_F(io, tcp_nonblocking_mixed_send_is_short)
{
	const size_t len = 16 * PG;
	unsigned char *src = self->map + 32 * PG, *buf = self->map;
	unsigned char *out = malloc(len), *want = malloc(len);
	struct zio_record rec[1];
	struct zio_stats s = { .records = (uintptr_t)rec, .records_cap = 1 };
	int l, a, b, small = 4096;
	unsigned int pending = 0;
	long n;

	ASSERT_NE(NULL, out);
	ASSERT_NE(NULL, want);
	ASSERT_EQ(0, tcp_pair(&l, &a, &b));
	ASSERT_EQ(0, setsockopt(a, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)));
	ASSERT_EQ(0, setsockopt(b, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)));
	fill(src, 9 * PG, 62);
	/* Read pages 0-7, then pending pages 8-15, page 11 written over. */
	ASSERT_EQ((long)(8 * PG), pipe_read(self->fd, buf, 8 * PG, 64));
	ASSERT_EQ(0, zio_copy_tag(self->fd, buf + 8 * PG, src + 100, 8 * PG,
				  0x6262, NULL));
	fill(buf + 11 * PG, PG, 63);
	/* Not from the buffer: reading a pending page materializes it. */
	fill(want, 8 * PG, 64);
	memcpy(want + 8 * PG, src + 100, 8 * PG);
	fill(want + 11 * PG, PG, 63);
	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_STATS, &s));
	ASSERT_EQ(1, s.records_count);
	ASSERT_EQ(1, rec[0].pages_materialized);	/* page 11 */

	n = zio_io(self->fd, ZIO_IOC_WRITE, a, buf, len, ZIO_IO_FILE_POS,
		   MSG_DONTWAIT);
	ASSERT_LT(0, n);
	ASSERT_GT((long)len, n);
	TH_LOG("the send took %ld bytes of %zu", n, len);
	for (unsigned int i = 8; i < 16; i++)
		pending += i != 11 && i * PG < (size_t)n;
	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_STATS, &s));
	EXPECT_EQ(1 + pending, rec[0].pages_materialized);
	memset(buf, 0xee, len);
	ASSERT_EQ(0, read_all(b, out, n));
	EXPECT_EQ(0, memcmp(out, want, n));
	EXPECT_EQ(-1, recv(b, out, 1, MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
	close(a);
	close(b);
	close(l);
	free(want);
	free(out);
}

/* What memory reclaim does when the system runs short. */
static int drop_kernel_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	int ret = fd < 0 || write(fd, "2", 1) != 1 ? -1 : 0;

	if (fd >= 0)
		close(fd);
	return ret;
}

/*
 * Memory reclaim takes the pages a space keeps: its pool of free pages and
 * the send frags no socket holds. A frag in flight stays, and the peer gets
 * what was sent; the next read and send work as before, with new pages.
 */
TEST(kept_pages_go_back_under_reclaim)
{
	int fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC), l, a, b;
	const size_t len = 16 * PG;
	unsigned char *map, *out = malloc(len);
	struct zio_counters c;

	ASSERT_LE(0, fd);
	ASSERT_NE(NULL, out);
	ASSERT_EQ(0, stay_on_one_cpu());
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, tcp_pair(&l, &a, &b));

	/* 17 pages in the pool (see read_recycles_pages), 16 in frags in flight. */
	ASSERT_EQ(16 * PG, pipe_read(fd, map, len, 1));
	ASSERT_EQ(16 * PG, pipe_read(fd, map, len, 2));
	fill(map, len, 3);
	ASSERT_EQ((long)len, zio_io(fd, ZIO_IOC_WRITE, a, map, len,
				    ZIO_IO_FILE_POS, 0));
	ASSERT_EQ(0, zio_counters(fd, false, &c));
	ASSERT_EQ(33, c.pages_pooled);

	/* The pool goes, the frags in flight stay and keep their bytes. */
	ASSERT_EQ(0, drop_kernel_caches());
	ASSERT_EQ(0, zio_counters(fd, false, &c));
	EXPECT_EQ(16, c.pages_pooled);
	memset(map, 0xee, len);
	ASSERT_EQ(0, read_all(b, out, len));
	EXPECT_TRUE(check(out, len, 3));

	/* Once TCP let go of them, the frags go too. */
	ASSERT_EQ(0, tcp_wait_acked(a));
	ASSERT_EQ(0, drop_kernel_caches());
	ASSERT_EQ(0, zio_counters(fd, false, &c));
	EXPECT_EQ(0, c.pages_pooled);
	ASSERT_EQ(0, zio_global_counters(&c));
	EXPECT_EQ(0, c.pages_pooled);

	/* Reads and sends go on, with new pages. */
	ASSERT_EQ(16 * PG, pipe_read(fd, map, len, 4));
	EXPECT_TRUE(check(map, len, 4));
	ASSERT_EQ(0, send_then_overwrite(fd, a, b, map, out, len, 5));

	close(a);
	close(b);
	close(l);
	munmap(map, len);
	close(fd);
	ASSERT_EQ(0, zio_global_counters(&c));
	EXPECT_EQ(0, c.pages_pooled);
	EXPECT_EQ(0, c.pages_live);
	free(out);
}

/*
 * More in flight than the space's frags hold (512 of 32 KiB): a frag TCP
 * still holds is never written again, new ones come instead, and the peer
 * gets every send as it was.
 */
TEST_F(io, frags_in_flight_are_never_written)
{
	/* 18 MiB in flight: more than the ring's 16 MiB. */
	const int rounds = 72, big = 32 << 20;
	unsigned char *out = malloc(self->len);
	struct zio_counters c0, c;
	int l, a, b;

	ASSERT_NE(NULL, out);
	ASSERT_EQ(0, tcp_pair(&l, &a, &b));
	ASSERT_EQ(0, setsockopt(a, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)));
	ASSERT_EQ(0, setsockopt(b, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)));
	ASSERT_EQ(0, zio_counters(self->fd, false, &c0));
	for (int r = 0; r < rounds; r++) {
		fill(self->map, self->len, 40 + r);
		ASSERT_EQ((long)self->len, zio_io(self->fd, ZIO_IOC_WRITE, a,
						  self->map, self->len,
						  ZIO_IO_FILE_POS, MSG_DONTWAIT));
	}
	/* The ring filled up with frags, and none was taken again. */
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_LE(512, c.pages_pooled);
	EXPECT_EQ(0, c.pages_recycled - c0.pages_recycled);
	for (int r = 0; r < rounds; r++) {
		ASSERT_EQ(0, read_all(b, out, self->len));
		EXPECT_TRUE(check(out, self->len, 40 + r));
	}
	close(a);
	close(b);
	close(l);
	free(out);
}

/* Reads exactly @n bytes of the pattern @seed from @fd, and nothing more is there. */
static int got_exactly(int fd, unsigned char *out, size_t n, unsigned int seed)
{
	return !read_all(fd, out, n) && check(out, n, seed) &&
	       recv(fd, out, 1, MSG_DONTWAIT) == -1 && errno == EAGAIN;
}

struct tcp_drain {
	int fd;
	unsigned char *buf;
	size_t len;
	int ret;
};

static void *tcp_drain_run(void *arg)
{
	struct tcp_drain *d = arg;

	d->ret = read_all(d->fd, d->buf, d->len);
	return NULL;
}

/*
 * A blocking send of 2 MiB through a small socket goes to TCP a part at a
 * time, as the peer reads: all of it arrives, in order. Interrupted with
 * nobody reading, it is short, and the peer gets exactly those bytes.
 */
TEST(tcp_blocking_send_from_frags_in_parts)
{
	const size_t len = 2UL << 20;
	int fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC), l, a, b, small = 16384;
	unsigned char *map, *out = malloc(len);
	struct tcp_drain d;
	pthread_t reader;
	long n;

	ASSERT_LE(0, fd);
	ASSERT_NE(NULL, out);
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, tcp_pair(&l, &a, &b));
	ASSERT_EQ(0, setsockopt(a, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)));
	ASSERT_EQ(0, setsockopt(b, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)));
	fill(map, len, 60);

	d = (struct tcp_drain){ .fd = b, .buf = out, .len = len };
	ASSERT_EQ(0, pthread_create(&reader, NULL, tcp_drain_run, &d));
	EXPECT_EQ((long)len, zio_io(fd, ZIO_IOC_WRITE, a, map, len,
				    ZIO_IO_FILE_POS, 0));
	ASSERT_EQ(0, pthread_join(reader, NULL));
	EXPECT_EQ(0, d.ret);
	EXPECT_TRUE(check(out, len, 60));

	alarm_soon(false);
	n = zio_io(fd, ZIO_IOC_WRITE, a, map, len, ZIO_IO_FILE_POS, 0);
	signal(SIGALRM, SIG_DFL);
	ASSERT_LT(0, n);
	ASSERT_GT((long)len, n);
	EXPECT_TRUE(got_exactly(b, out, n, 60));

	close(a);
	close(b);
	close(l);
	munmap(map, len);
	close(fd);
	free(out);
}

/*
 * A nonblocking TCP send that fills the socket is short, as send() is, and
 * the peer gets exactly those bytes.
 */
TEST_F(io, tcp_nonblocking_send_from_frags_is_short)
{
	unsigned char *out = malloc(self->len);
	int l, a, b, small = 4096;
	long n, m;

	ASSERT_NE(NULL, out);
	ASSERT_EQ(0, tcp_pair(&l, &a, &b));
	ASSERT_EQ(0, setsockopt(a, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)));
	ASSERT_EQ(0, setsockopt(b, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)));
	fill(self->map, self->len, 50);
	n = zio_io(self->fd, ZIO_IOC_WRITE, a, self->map, self->len,
		   ZIO_IO_FILE_POS, MSG_DONTWAIT);
	ASSERT_LT(0, n);
	ASSERT_GT((long)self->len, n);
	/* More while the socket takes it, until EAGAIN. */
	while ((m = zio_io(self->fd, ZIO_IOC_WRITE, a, self->map + n,
			   self->len - n, ZIO_IO_FILE_POS, MSG_DONTWAIT)) > 0)
		n += m;
	EXPECT_EQ(-EAGAIN, m);
	ASSERT_GT((long)self->len, n);
	/* Exactly those bytes arrive, and no more. */
	EXPECT_TRUE(got_exactly(b, out, n, 50));
	close(a);
	close(b);
	close(l);
	free(out);
}

/* A read on another thread, started before the write it races with. */
struct io_reader {
	int zfd, fd;
	unsigned char *buf;
	size_t len;
	atomic_int tid;		/* set just before the ioctl */
	long ret;
};

static void *io_reader_run(void *arg)
{
	struct io_reader *r = arg;

	atomic_store(&r->tid, (int)syscall(SYS_gettid));
	r->ret = zio_io(r->zfd, ZIO_IOC_READ, r->fd, r->buf, r->len,
			ZIO_IO_FILE_POS, MSG_WAITALL);
	return NULL;
}

/*
 * Guards the race between a blocked ZIO_IOC_READ and a ZIO_IOC_WRITE of
 * the same buffer to TCP from another thread. The buffer's pages were
 * placed by an earlier read and never stored to: only their slots hold
 * them and nothing maps them writable, so the write lends them to TCP.
 * The read, blocked before the write and completed after it, must not
 * write those pages (284755a received into them in place): the peer,
 * which reads only after the read completed, gets what the buffer held
 * at the send, and the buffer gets what the read received.
 */
TEST_F(io, blocked_read_does_not_write_pages_lent_to_tcp)
{
	const size_t len = 4 * PG;
	struct io_reader r = { .zfd = self->fd, .buf = self->map, .len = len };
	unsigned char *in = malloc(len), *out = malloc(len);
	int p[2], sv[2], l, a, b, tid = 0, i;
	pthread_t thread;
	char state = 0;

	ASSERT_NE(NULL, in);
	ASSERT_NE(NULL, out);
	ASSERT_EQ(0, tcp_pair(&l, &a, &b));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));

	/* Pages only a read wrote: the pattern of 40, never stored to. */
	ASSERT_EQ(0, pipe(p));
	ASSERT_LE((long)len, fcntl(p[1], F_SETPIPE_SZ, len));
	fill(in, len, 40);
	ASSERT_EQ((ssize_t)len, write(p[1], in, len));
	ASSERT_EQ((long)len, zio_io(self->fd, ZIO_IOC_READ, p[0], self->map,
				    len, ZIO_IO_FILE_POS, 0));
	close(p[0]);
	close(p[1]);

	/* (1) The read blocks: nothing to receive on sv[0] yet. */
	r.fd = sv[0];
	ASSERT_EQ(0, pthread_create(&thread, NULL, io_reader_run, &r));
	for (i = 0; i < 10000; i++) {
		tid = atomic_load(&r.tid);
		/* Its one interruptible sleep: waiting for data. */
		if (tid && (state = zio_thread_state(tid)) == 'S')
			break;
		usleep(1000);
	}
	ASSERT_EQ('S', state) {
		TH_LOG("the reading thread never blocked in ZIO_IOC_READ");
	}

	/* (2) The same pages to TCP; the peer does not read yet. */
	ASSERT_EQ((long)len, zio_io(self->fd, ZIO_IOC_WRITE, a, self->map, len,
				    ZIO_IO_FILE_POS, 0));

	/* (3) The read gets the pattern of 41 and completes. */
	fill(out, len, 41);
	ASSERT_EQ((ssize_t)len, write(sv[1], out, len));
	ASSERT_EQ(0, pthread_join(thread, NULL));
	ASSERT_EQ((long)len, r.ret);
	EXPECT_TRUE(check(self->map, len, 41)) {
		TH_LOG("the buffer does not hold what the read received");
	}

	/* (4) Now the peer reads: what the buffer held at the send. */
	memset(out, 0, len);
	ASSERT_EQ(0, read_all(b, out, len));
	for (i = 0; i < (int)len && out[i] == in[i]; i++)
		;
	EXPECT_EQ((int)len, i) {
		TH_LOG("TCP peer byte %d is 0x%02x, the buffer held 0x%02x at the send%s",
		       i, out[i], in[i],
		       check(out, len, 41) ?
		       ": it got the later read's bytes, written into a lent page" : "");
	}
	close(sv[0]);
	close(sv[1]);
	close(a);
	close(b);
	close(l);
	free(in);
	free(out);
}

TEST_HARNESS_MAIN
