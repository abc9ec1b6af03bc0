// SPDX-License-Identifier: GPL-2.0
/*
 * chain_bench: receive a message over loopback TCP, copy it N times between
 * buffers, send it on (N = 0..12): plain libc against zio's ioctls, in one
 * process. A child process feeds the message and reads it back at the other
 * end, checking every byte of the first and last round of each N.
 *
 * Each round times libc and zio back to back and gives one speedup,
 * libc/zio, and, for N > 0, one ratio of the copies alone: the time of the
 * N ZIO_IOC_COPYs over that of the N memcpy()s. Prints CSV:
 *   n,libc_ns,zio_ns,speedup,speedup_min,speedup_max,libc_min_ns,zio_min_ns,
 *   copy_libc_ns,copy_zio_ns,copy_ratio,copy_ratio_min,copy_ratio_max
 * (ns: medians of the rounds; speedup: median, min and max of the rounds';
 * min_ns: the fastest round, the least disturbed by the host's other load;
 * copy_*_ns: median time of one copy; copy_ratio: zio / libc, median, min
 * and max of the rounds, 0 for N = 0).
 *
 * "chain_bench libc" runs the libc variant alone (malloc'd buffers, read,
 * memcpy, write) and prints n,libc_ns: run with and without
 * LD_PRELOAD=libzio.so, it measures what the library does transparently.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/zio.h>

#define MSG_LEN		(512UL << 10)
#define MAX_CHAIN	12
#define ROUNDS		31

static int zio_fd;

static void die(const char *what)
{
	fprintf(stderr, "chain_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 13 + (i >> 9));
}

static void xfer_all(int fd, unsigned char *buf, size_t len, int write_side)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write_side ? write(fd, buf + done, len - done) :
					 read(fd, buf + done, len - done);
		if (n <= 0)
			die(write_side ? "write" : "read");
		done += n;
	}
}

/* The child: on each request, send the message on @in; read it from @out. */
static void peer(int in, int out)
{
	unsigned char *msg = malloc(MSG_LEN), *back = malloc(MSG_LEN), cmd;

	for (size_t i = 0; i < MSG_LEN; i++)
		msg[i] = pattern(i);
	while (read(in, &cmd, 1) == 1) {
		xfer_all(in, msg, MSG_LEN, 1);
		xfer_all(out, back, MSG_LEN, 0);
		if (cmd == 'c' && memcmp(back, msg, MSG_LEN)) {
			fprintf(stderr, "chain_bench: data corrupted\n");
			exit(2);
		}
		if (write(out, "k", 1) != 1)
			die("ack");
	}
	exit(0);
}

static long zio_io(unsigned long cmd, int fd, void *addr, size_t len)
{
	struct zio_io io = {
		.fd = fd, .addr = (uintptr_t)addr, .len = len,
		.offset = ZIO_IO_FILE_POS,
	};

	return ioctl(zio_fd, cmd, &io);
}

static void zio_xfer_all(unsigned long cmd, int fd, unsigned char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		long n = zio_io(cmd, fd, buf + done, len - done);

		if (n <= 0)
			die(cmd == ZIO_IOC_READ ? "ZIO_IOC_READ" : "ZIO_IOC_WRITE");
		done += n;
	}
}

static void zio_copy(void *dst, const void *src, size_t len)
{
	struct zio_copy c = { .dst = (uintptr_t)dst, .src = (uintptr_t)src, .len = len };

	if (ioctl(zio_fd, ZIO_IOC_COPY, &c) || c.bytes_deferred + c.bytes_copied != len)
		die("ZIO_IOC_COPY");
}

/*
 * One round: request, receive, copy @n times, send, wait for the ack.
 * Returns the time of the round; the time of the copies in *@copy_ns.
 */
static uint64_t round_trip(int in, int out, unsigned char **bufs, int n,
			   int use_zio, int check, uint64_t *copy_ns)
{
	uint64_t t0 = now_ns(), t1;
	char ack;

	if (write(in, check ? "c" : "g", 1) != 1)
		die("request");
	if (use_zio)
		zio_xfer_all(ZIO_IOC_READ, in, bufs[0], MSG_LEN);
	else
		xfer_all(in, bufs[0], MSG_LEN, 0);
	t1 = now_ns();
	for (int i = 0; i < n; i++) {
		if (use_zio)
			zio_copy(bufs[i + 1], bufs[i], MSG_LEN);
		else
			memcpy(bufs[i + 1], bufs[i], MSG_LEN);
	}
	*copy_ns = now_ns() - t1;
	if (use_zio)
		zio_xfer_all(ZIO_IOC_WRITE, out, bufs[n], MSG_LEN);
	else
		xfer_all(out, bufs[n], MSG_LEN, 1);
	if (read(out, &ack, 1) != 1)
		die("ack");
	return now_ns() - t0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t alen = sizeof(addr);
	unsigned char *libc_bufs[MAX_CHAIN + 1], *zio_bufs[MAX_CHAIN + 1], *zmap;
	int l, in, out, one = 1;
	pid_t child;
	int libc_only = argc > 1 && !strcmp(argv[1], "libc");

	if (libc_only) {
		for (int i = 0; i <= MAX_CHAIN; i++) {
			libc_bufs[i] = malloc(MSG_LEN);
			memset(libc_bufs[i], 0, MSG_LEN);
		}
		goto sockets;
	}
	zio_fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (zio_fd < 0)
		die(ZIO_DEVICE_PATH);
	zmap = mmap(NULL, (MAX_CHAIN + 1) * MSG_LEN, PROT_READ | PROT_WRITE,
		    MAP_SHARED, zio_fd, 0);
	if (zmap == MAP_FAILED)
		die("mmap");
	for (int i = 0; i <= MAX_CHAIN; i++) {
		libc_bufs[i] = malloc(MSG_LEN);
		memset(libc_bufs[i], 0, MSG_LEN);
		zio_bufs[i] = zmap + i * MSG_LEN;
	}

sockets:
	l = socket(AF_INET, SOCK_STREAM, 0);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(l, (struct sockaddr *)&addr, sizeof(addr)) || listen(l, 2) ||
	    getsockname(l, (struct sockaddr *)&addr, &alen))
		die("listen");
	child = fork();
	if (!child) {
		int a = socket(AF_INET, SOCK_STREAM, 0), b = socket(AF_INET, SOCK_STREAM, 0);

		if (connect(a, (struct sockaddr *)&addr, sizeof(addr)) ||
		    connect(b, (struct sockaddr *)&addr, sizeof(addr)))
			die("connect");
		peer(a, b);
	}
	in = accept(l, NULL, NULL);
	out = accept(l, NULL, NULL);
	if (in < 0 || out < 0)
		die("accept");
	setsockopt(in, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(out, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	if (libc_only) {
		printf("n,libc_ns\n");
		for (int n = 0; n <= MAX_CHAIN; n++) {
			uint64_t tl[ROUNDS], cl;

			for (int r = 0; r < ROUNDS; r++)
				tl[r] = round_trip(in, out, libc_bufs, n, 0,
						   r == 0 || r == ROUNDS - 1, &cl);
			qsort(tl, ROUNDS, sizeof(tl[0]), cmp_u64);
			printf("%d,%llu\n", n, (unsigned long long)tl[ROUNDS / 2]);
		}
		goto done;
	}
	printf("n,libc_ns,zio_ns,speedup,speedup_min,speedup_max,libc_min_ns,zio_min_ns,"
	       "copy_libc_ns,copy_zio_ns,copy_ratio,copy_ratio_min,copy_ratio_max\n");
	for (int n = 0; n <= MAX_CHAIN; n++) {
		uint64_t tl[ROUNDS], tz[ROUNDS], cl[ROUNDS], cz[ROUNDS];
		double sp[ROUNDS], cr[ROUNDS];
		int m = ROUNDS / 2;

		for (int r = 0; r < ROUNDS; r++) {
			int check = r == 0 || r == ROUNDS - 1;

			tl[r] = round_trip(in, out, libc_bufs, n, 0, check, &cl[r]);
			tz[r] = round_trip(in, out, zio_bufs, n, 1, check, &cz[r]);
			sp[r] = (double)tl[r] / tz[r];
			cr[r] = n && cl[r] ? (double)cz[r] / cl[r] : 0;
		}
		qsort(sp, ROUNDS, sizeof(sp[0]), cmp_double);
		qsort(cr, ROUNDS, sizeof(cr[0]), cmp_double);
		qsort(tl, ROUNDS, sizeof(tl[0]), cmp_u64);
		qsort(tz, ROUNDS, sizeof(tz[0]), cmp_u64);
		qsort(cl, ROUNDS, sizeof(cl[0]), cmp_u64);
		qsort(cz, ROUNDS, sizeof(cz[0]), cmp_u64);
		printf("%d,%llu,%llu,%.3f,%.3f,%.3f,%llu,%llu,%.0f,%.0f,%.4f,%.4f,%.4f\n", n,
		       (unsigned long long)tl[m], (unsigned long long)tz[m],
		       sp[m], sp[0], sp[ROUNDS - 1],
		       (unsigned long long)tl[0], (unsigned long long)tz[0],
		       n ? (double)cl[m] / n : 0, n ? (double)cz[m] / n : 0,
		       cr[m], cr[0], cr[ROUNDS - 1]);
		fflush(stdout);
	}
done:
	close(in);
	close(out);
	waitpid(child, NULL, 0);
	return 0;
}
