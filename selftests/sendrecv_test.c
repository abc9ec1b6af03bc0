// SPDX-License-Identifier: GPL-2.0
/*
 * zio buffers and sockets: what a send hands the network stack, and what a
 * receive leaves in the buffer.
 *
 * - tcp_peer: a TCP peer never keeps a live view of the sender's zio
 *   memory. Whatever its TCP_ZEROCOPY_RECEIVE maps shows the bytes as they
 *   were at the send, after the sender's buffer is written again (stores,
 *   ZIO_IOC_COPY, ZIO_IOC_READ), and after every skb that held the pages
 *   is gone.
 * - as_recv: ZIO_IOC_READ gives exactly what recv() gives, the return value
 *   (or errno) and every byte of the buffer and around it, and leaves the
 *   same data in the socket, for every flag it accepts, on TCP, UDP and
 *   Unix sockets, with aligned and unaligned buffers and data shorter than,
 *   as long as and longer than the buffer.
 * - lsm: ZIO_IOC_WRITE passes security_socket_sendmsg(), as send() does,
 *   also when it hands TCP the pages by reference (a kprobe counts it).
 */
#include <netinet/in.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <time.h>	/* struct timespec, for linux/errqueue.h */

#include <linux/errqueue.h>
#include <linux/tcp.h>	/* struct tcp_zerocopy_receive, not in netinet/tcp.h */

#include "zio_test.h"

#define PG		4096UL

/* ZIO_IOC_WRITE or ZIO_IOC_READ: the return value, or -errno. */
static long zio_io(int zfd, unsigned long cmd, int fd, void *addr, size_t len,
		   unsigned long long msg_flags)
{
	struct zio_io io = {
		.fd = fd, .addr = (uintptr_t)addr, .len = len,
		.offset = ZIO_IO_FILE_POS, .msg_flags = msg_flags,
	};
	long ret = ioctl(zfd, cmd, &io);

	return ret < 0 ? -errno : ret;
}

/* A listening TCP socket on 127.0.0.1, its address in @addr: fd or -errno. */
static int tcp_listener(struct sockaddr_in *addr, int mss)
{
	socklen_t alen = sizeof(*addr);
	int big = 1 << 20, l;

	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0)
		return -errno;
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* Inherited by the accepted socket. */
	if (setsockopt(l, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big)) ||
	    (mss && setsockopt(l, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss))) ||
	    bind(l, (struct sockaddr *)addr, sizeof(*addr)) || listen(l, 8) ||
	    getsockname(l, (struct sockaddr *)addr, &alen)) {
		int err = -errno;

		close(l);
		return err;
	}
	return l;
}

/* Connect to @l: *@a is the client's end, *@b the accepted one. */
static int tcp_connect(int l, const struct sockaddr_in *addr, int mss,
		       int *a, int *b)
{
	*b = -1;
	*a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*a < 0)
		return -errno;
	if ((mss && setsockopt(*a, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss))) ||
	    connect(*a, (const struct sockaddr *)addr, sizeof(*addr)))
		return -errno;
	*b = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	return *b < 0 ? -errno : 0;
}

/* Wait until @fd has @len bytes to read: 0, or -1 after 10 s. */
static int wait_inq(int fd, int len)
{
	for (int i = 0; i < 10000; i++) {
		int inq;

		if (ioctl(fd, SIOCINQ, &inq))
			return -1;
		if (inq >= len)
			return 0;
		usleep(1000);
	}
	return -1;
}

/* A pipe that holds @len bytes of the pattern of @salt: 0 or -errno. */
static int pipe_with(int p[2], size_t len, uint64_t salt)
{
	unsigned char *tmp = malloc(len);
	ssize_t n;

	if (!tmp || pipe2(p, O_CLOEXEC) ||
	    fcntl(p[1], F_SETPIPE_SZ, (int)(len < 16 * PG ? 16 * PG : len)) < 0) {
		free(tmp);
		return -ENOMEM;
	}
	zio_fill(tmp, len, salt);
	n = write(p[1], tmp, len);
	free(tmp);
	return n == (ssize_t)len ? 0 : -EIO;
}

/*
 * tcp_peer: the sender's pages reach a TCP socket (variants: how), the
 * peer receives with TCP_ZEROCOPY_RECEIVE into an mmap() of its socket,
 * then the sender writes its buffer again.
 */
#define PEER_PAGES	12	/* sent: fits one GSO packet at any MSS */
#define PEER_MSS	(4096 + 12)	/* one page of payload with timestamps */
#define ZMAP_PAGES	64

enum peer_how { VIA_READ_PAGES, VIA_COPIED_PAGES, VIA_MSG_ZEROCOPY };

/* A part of the stream that TCP_ZEROCOPY_RECEIVE mapped. */
struct zc_region {
	size_t stream_off;
	unsigned char *addr;
	size_t len;
};

FIXTURE(tcp_peer) {
	int zfd, l, a, b;
	struct sockaddr_in addr;
	unsigned char *map;
	unsigned char *rmap;	/* the peer's mapping of its socket */
	size_t rlen;
};

FIXTURE_VARIANT(tcp_peer) {
	enum peer_how how;
};

/* ZIO_IOC_WRITE of pages ZIO_IOC_READ put in place: sent by reference. */
FIXTURE_VARIANT_ADD(tcp_peer, read_pages) {
	.how = VIA_READ_PAGES,
};

/* ZIO_IOC_WRITE of a copy's pages whose source is gone: by reference. */
FIXTURE_VARIANT_ADD(tcp_peer, copied_pages) {
	.how = VIA_COPIED_PAGES,
};

/*
 * The program's own sendmsg(MSG_ZEROCOPY) from its zio buffer. Loopback
 * delivery copies such data (skb_orphan_frags_rx()), so the peer never
 * holds the sender's pages here: a guard, the completion says "copied".
 */
FIXTURE_VARIANT_ADD(tcp_peer, msg_zerocopy) {
	.how = VIA_MSG_ZEROCOPY,
};

FIXTURE_SETUP(tcp_peer)
{
	self->a = -1;
	self->b = -1;
	self->l = -1;
	self->rmap = MAP_FAILED;
	self->zfd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->zfd);
	self->map = zio_map(self->zfd, ZMAP_PAGES * PG, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	self->l = tcp_listener(&self->addr, PEER_MSS);
	ASSERT_LE(0, self->l);
	ASSERT_EQ(0, tcp_connect(self->l, &self->addr, PEER_MSS, &self->a,
				 &self->b));
	self->rlen = (PEER_PAGES + 4) * PG;
	self->rmap = mmap(NULL, self->rlen, PROT_READ, MAP_SHARED, self->b, 0);
	ASSERT_NE(MAP_FAILED, self->rmap);
}

FIXTURE_TEARDOWN(tcp_peer)
{
	struct zio_counters c;

	if (self->rmap != MAP_FAILED)
		munmap(self->rmap, self->rlen);
	close(self->a);
	close(self->b);
	close(self->l);
	munmap(self->map, ZMAP_PAGES * PG);
	if (!zio_counters(self->zfd, false, &c)) {
		EXPECT_EQ(0, c.pages_live);
		EXPECT_EQ(0, c.pages_pending);
	}
	close(self->zfd);
}

/*
 * Wait for the MSG_ZEROCOPY completion of send number @last: 0, or -1
 * after 10 s. Sets *@copied when the kernel copied the data after all.
 */
static int zerocopy_wait(int fd, unsigned int last, bool *copied)
{
	for (int i = 0; i < 100; i++) {
		char control[128];
		struct msghdr msg = {
			.msg_control = control,
			.msg_controllen = sizeof(control),
		};
		struct pollfd pfd = { .fd = fd };
		struct cmsghdr *cm;

		poll(&pfd, 1, 100);
		if (recvmsg(fd, &msg, MSG_ERRQUEUE) < 0)
			continue;
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			struct sock_extended_err *ee;

			if (cm->cmsg_level != SOL_IP || cm->cmsg_type != IP_RECVERR)
				continue;
			ee = (struct sock_extended_err *)CMSG_DATA(cm);
			if (ee->ee_origin != SO_EE_ORIGIN_ZEROCOPY || ee->ee_errno)
				return -1;
			*copied = ee->ee_code & SO_EE_CODE_ZEROCOPY_COPIED;
			if (ee->ee_data >= last)
				return 0;
		}
	}
	return -1;
}

/*
 * Receive @len bytes from @fd into @got, mapping what TCP_ZEROCOPY_RECEIVE
 * maps at the start of @rmap onwards, and reading what it skips. The
 * regions it mapped go to @reg. Returns the bytes mapped, or -1.
 */
static long zc_receive(struct __test_metadata *_metadata, int fd,
		       unsigned char *rmap, size_t rlen, unsigned char *got,
		       size_t len, struct zc_region *reg, int *nreg)
{
	size_t done = 0, mapped = 0;

	*nreg = 0;
	while (done < len) {
		struct tcp_zerocopy_receive zc = {
			.address = (uintptr_t)(rmap + mapped),
			.length = (__u32)(rlen - mapped),
		};
		socklen_t zlen = sizeof(zc);
		ssize_t n;

		if (getsockopt(fd, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, &zc,
			       &zlen)) {
			TH_LOG("TCP_ZEROCOPY_RECEIVE: %s", strerror(errno));
			return -1;
		}
		if (zc.length) {
			if (zc.length > len - done || *nreg == PEER_PAGES) {
				TH_LOG("TCP_ZEROCOPY_RECEIVE mapped %u bytes at %zu",
				       zc.length, done);
				return -1;
			}
			reg[*nreg].stream_off = done;
			reg[*nreg].addr = rmap + mapped;
			reg[*nreg].len = zc.length;
			(*nreg)++;
			memcpy(got + done, rmap + mapped, zc.length);
			done += zc.length;
			mapped += zc.length;
		}
		if (zc.recv_skip_hint || !zc.length) {
			size_t want = zc.recv_skip_hint ? zc.recv_skip_hint : len - done;

			if (want > len - done)
				want = len - done;
			n = recv(fd, got + done, want, 0);
			if (n <= 0) {
				TH_LOG("recv() after TCP_ZEROCOPY_RECEIVE: %zd (%s)",
				       n, strerror(errno));
				return -1;
			}
			done += n;
		}
	}
	return (long)mapped;
}

TEST_F(tcp_peer, keeps_no_live_view)
{
	const size_t len = PEER_PAGES * PG, third = PEER_PAGES / 3;
	unsigned char *buf = self->map + 16 * PG, *src = self->map;
	unsigned char *other = self->map + 40 * PG, *got = malloc(len);
	struct zc_region reg[PEER_PAGES];
	uint64_t salt = 0x5e4d0000 + variant->how;
	bool zc_copied = false;
	int nreg, p[2], changed = 0;
	long mapped;

	ASSERT_NE(NULL, got);
	switch (variant->how) {
	case VIA_READ_PAGES:
		/* Fresh pages from a read: nothing maps them writable. */
		ASSERT_EQ(0, pipe_with(p, len, salt));
		ASSERT_EQ((long)len, zio_io(self->zfd, ZIO_IOC_READ, p[0], buf,
					    len, 0));
		close(p[0]);
		close(p[1]);
		ASSERT_EQ((long)len, zio_io(self->zfd, ZIO_IOC_WRITE, self->a,
					    buf, len, 0));
		break;
	case VIA_COPIED_PAGES: {
		struct zio_copy c;

		/* The copy's pages, then theirs alone once the source is gone. */
		zio_fill(src, len, salt);
		ASSERT_EQ(0, zio_copy(self->zfd, buf, src, len, &c));
		ASSERT_EQ(len, c.bytes_deferred);
		ASSERT_EQ(0, zio_discard(self->zfd, src, len));
		ASSERT_EQ((long)len, zio_io(self->zfd, ZIO_IOC_WRITE, self->a,
					    buf, len, 0));
		break;
	}
	case VIA_MSG_ZEROCOPY: {
		struct iovec iov = { .iov_base = buf, .iov_len = len };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		int one = 1;

		zio_fill(buf, len, salt);
		ASSERT_EQ(0, setsockopt(self->a, SOL_SOCKET, SO_ZEROCOPY, &one,
					sizeof(one)));
		ASSERT_EQ((ssize_t)len, sendmsg(self->a, &msg, MSG_ZEROCOPY));
		break;
	}
	}

	/* The peer: everything, mapped where TCP lets it, byte for byte. */
	ASSERT_EQ(0, wait_inq(self->b, (int)len));
	mapped = zc_receive(_metadata, self->b, self->rmap, self->rlen, got,
			    len, reg, &nreg);
	ASSERT_LE(0, mapped);
	TH_LOG("the peer got %ld of %zu bytes mapped by TCP_ZEROCOPY_RECEIVE",
	       mapped, len);
	ASSERT_TRUE(zio_check(got, len, salt));

	/* Every skb that held the pages is gone: acked, consumed. */
	ASSERT_EQ(0, zio_tcp_wait_acked(self->a));
	if (variant->how == VIA_MSG_ZEROCOPY) {
		ASSERT_EQ(0, zerocopy_wait(self->a, 0, &zc_copied));
		TH_LOG("MSG_ZEROCOPY completion: %s",
		       zc_copied ? "the kernel copied" : "zero copy");
	}
	{
		int inq;

		ASSERT_EQ(0, ioctl(self->b, SIOCINQ, &inq));
		ASSERT_EQ(0, inq);
	}

	/*
	 * The sender writes its buffer again: stores through its mapping
	 * (first third), a partial-page ZIO_IOC_COPY into each page (second
	 * third), a partial-page ZIO_IOC_READ into each page (last third).
	 * Partial pages, so that zio writes the page it holds rather than
	 * putting a new one in the slot.
	 */
	memset(buf, 0xee, third * PG);
	memset(other, 0xcc, PG);
	for (size_t i = third; i < 2 * third; i++)
		ASSERT_EQ(0, zio_copy(self->zfd, buf + i * PG + 64, other,
				      PG - 128, NULL));
	for (size_t i = 2 * third; i < PEER_PAGES; i++) {
		ASSERT_EQ(0, pipe_with(p, PG - 128, salt + 1));
		ASSERT_EQ((long)(PG - 128),
			  zio_io(self->zfd, ZIO_IOC_READ, p[0], buf + i * PG + 64,
				 PG - 128, 0));
		close(p[0]);
		close(p[1]);
	}
	/* The writes landed, for the sender. */
	EXPECT_EQ(0xee, buf[third * PG - 1]);
	EXPECT_EQ(0xcc, buf[third * PG + 64]);
	EXPECT_TRUE(zio_check(buf + 2 * third * PG + 64, PG - 128, salt + 1));

	/* The peer's mapping still shows what was sent. */
	for (int r = 0; r < nreg; r++) {
		for (size_t off = 0; off < reg[r].len; off += PG) {
			size_t at = reg[r].stream_off + off;
			size_t page = at / PG;

			if (zio_check_at(reg[r].addr + off, at, PG, salt))
				continue;
			TH_LOG("the peer's mapping of sent page %zu shows the sender's %s after the send",
			       page, page < third ? "store" :
			       page < 2 * third ? "ZIO_IOC_COPY" : "ZIO_IOC_READ");
			changed++;
		}
	}
	EXPECT_EQ(0, changed);
	free(got);
}

/*
 * as_recv: ZIO_IOC_READ against recv(), on two connections fed the same
 * data: one received with recv() into anonymous memory, the other with
 * ZIO_IOC_READ into zio memory, both prefilled with the same pattern.
 */
#define REGION_PAGES	8
#define REST_CAP	(16 * PG)
#define SOCK_TIMEOUT_S	2
#define MARKER		"end"	/* the datagram after the data */
#define NO_DATA		(-1L)	/* nothing sent yet: the receive must not block */
/* 5 s for msg_oob on TCP under TCG; a debug kernel is several times slower. */
#define AS_RECV_TIMEOUT_S	180

struct geometry {
	size_t start, len;
};

static const struct geometry geometries[] = {
	{ 0, PG },			/* one aligned page */
	{ 0, 4 * PG },			/* aligned pages */
	{ 100, 3 * PG - 200 },		/* mid-page to mid-page, three pages */
	{ PG / 2, 2 * PG + PG / 2 },	/* mid-page to a page end */
	{ PG, 2 * PG + 300 },		/* a page start to mid-page */
	{ 1000, 500 },			/* inside one page */
};

FIXTURE(as_recv) {
	int zfd, l;
	struct sockaddr_in addr;
	unsigned char *zbuf;	/* REGION_PAGES of zio */
	unsigned char *plain;	/* REGION_PAGES of anonymous memory */
	unsigned char *data;
	unsigned char *rest[2];
	int cases, differ;
};

FIXTURE_VARIANT(as_recv) {
	int domain;
	int type;
};

FIXTURE_VARIANT_ADD(as_recv, tcp) {
	.domain = AF_INET, .type = SOCK_STREAM,
};

FIXTURE_VARIANT_ADD(as_recv, udp) {
	.domain = AF_INET, .type = SOCK_DGRAM,
};

FIXTURE_VARIANT_ADD(as_recv, unix_stream) {
	.domain = AF_UNIX, .type = SOCK_STREAM,
};

FIXTURE_VARIANT_ADD(as_recv, unix_dgram) {
	.domain = AF_UNIX, .type = SOCK_DGRAM,
};

FIXTURE_SETUP(as_recv)
{
	self->l = -1;
	self->zfd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->zfd);
	self->zbuf = zio_map(self->zfd, REGION_PAGES * PG, 0);
	ASSERT_NE(MAP_FAILED, self->zbuf);
	self->plain = mmap(NULL, REGION_PAGES * PG, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->plain);
	self->data = malloc(REGION_PAGES * PG);
	self->rest[0] = malloc(REST_CAP);
	self->rest[1] = malloc(REST_CAP);
	ASSERT_NE(NULL, self->data);
	ASSERT_NE(NULL, self->rest[0]);
	ASSERT_NE(NULL, self->rest[1]);
	if (variant->domain == AF_INET && variant->type == SOCK_STREAM) {
		self->l = tcp_listener(&self->addr, 0);
		ASSERT_LE(0, self->l);
	}
}

FIXTURE_TEARDOWN(as_recv)
{
	struct zio_counters c;

	close(self->l);
	free(self->data);
	free(self->rest[0]);
	free(self->rest[1]);
	munmap(self->plain, REGION_PAGES * PG);
	munmap(self->zbuf, REGION_PAGES * PG);
	if (!zio_counters(self->zfd, false, &c)) {
		EXPECT_EQ(0, c.pages_live);
		EXPECT_EQ(0, c.pages_pending);
	}
	close(self->zfd);
}

/* A connected pair: sv[0] sends, sv[1] receives. 0 or -errno. */
static int make_pair(FIXTURE_DATA(as_recv) *self,
		     const FIXTURE_VARIANT(as_recv) *variant, int sv[2])
{
	struct timeval tv = { .tv_sec = SOCK_TIMEOUT_S };
	int ret = 0;

	sv[0] = -1;
	sv[1] = -1;
	if (variant->domain == AF_UNIX) {
		if (socketpair(AF_UNIX, variant->type | SOCK_CLOEXEC, 0, sv))
			return -errno;
	} else if (variant->type == SOCK_STREAM) {
		ret = tcp_connect(self->l, &self->addr, 0, &sv[0], &sv[1]);
	} else {
		struct sockaddr_in addr = {
			.sin_family = AF_INET,
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
		};
		socklen_t alen = sizeof(addr);

		sv[1] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		sv[0] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (sv[0] < 0 || sv[1] < 0 ||
		    bind(sv[1], (struct sockaddr *)&addr, sizeof(addr)) ||
		    getsockname(sv[1], (struct sockaddr *)&addr, &alen) ||
		    connect(sv[0], (struct sockaddr *)&addr, sizeof(addr)))
			ret = -errno;
	}
	/* Whatever goes wrong, no receive blocks for long. */
	if (!ret && setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		ret = -errno;
	return ret;
}

static void close_pair(int sv[2])
{
	close(sv[0]);
	close(sv[1]);
}

/*
 * Send @n bytes of self->data (one datagram, or a stream), then, with
 * @urgent, one byte of urgent data. 0 or -errno.
 */
static int feed(FIXTURE_DATA(as_recv) *self, int fd, long n, bool urgent)
{
	size_t done = 0;

	if (n == NO_DATA)
		return 0;
	do {
		ssize_t s = send(fd, self->data + done, n - done, MSG_NOSIGNAL);

		if (s < 0)
			return -errno;
		done += s;
	} while (done < (size_t)n);
	if (urgent && send(fd, "!", 1, MSG_OOB | MSG_NOSIGNAL) != 1)
		return -errno;
	return 0;
}

/*
 * End what was fed: a stream is shut down, a datagram socket gets the
 * marker datagram. Then wait until the receiver has everything: TCP until
 * it is acknowledged, UDP until a datagram is there (the rest is read
 * blocking, up to the marker); Unix sockets queue at once. 0 or -errno.
 */
static int finish(const FIXTURE_VARIANT(as_recv) *variant, int sv[2])
{
	struct pollfd pfd = { .fd = sv[1], .events = POLLIN };

	if (variant->type == SOCK_STREAM) {
		if (shutdown(sv[0], SHUT_WR))
			return -errno;
	} else if (send(sv[0], MARKER, 3, 0) != 3) {
		return -errno;
	}
	if (variant->domain == AF_INET && variant->type == SOCK_STREAM)
		return zio_tcp_wait_acked(sv[0]) ? -ETIMEDOUT : 0;
	return poll(&pfd, 1, SOCK_TIMEOUT_S * 1000) == 1 ? 0 : -ETIMEDOUT;
}

/*
 * What is left in the socket, read with plain recv(): a stream up to its
 * end, datagrams (each as its length and bytes) up to the marker. The
 * bytes in @out; returns their count, or -errno (then -errno is also the
 * first word of @out).
 */
static long drain(const FIXTURE_VARIANT(as_recv) *variant, int fd,
		  unsigned char *out)
{
	size_t len = 0;

	for (int i = 0; i < 1000; i++) {
		size_t hdr = variant->type == SOCK_DGRAM ? sizeof(int) : 0;
		ssize_t n;

		if (len + hdr >= REST_CAP)
			return -ENOSPC;
		n = recv(fd, out + len + hdr, REST_CAP - len - hdr, 0);
		if (n < 0)
			return -errno;
		if (hdr) {
			int dlen = (int)n;

			memcpy(out + len, &dlen, sizeof(dlen));
			len += hdr + n;
			if (n == 3 && !memcmp(out + len - 3, MARKER, 3))
				return (long)len;
		} else {
			if (!n)
				return (long)len;
			len += n;
		}
	}
	return -E2BIG;
}

static const char *flag_names(int flags)
{
	static char s[128];

	s[0] = 0;
	if (flags & MSG_TRUNC)
		strcat(s, "|MSG_TRUNC");
	if (flags & MSG_PEEK)
		strcat(s, "|MSG_PEEK");
	if (flags & MSG_OOB)
		strcat(s, "|MSG_OOB");
	if (flags & MSG_WAITALL)
		strcat(s, "|MSG_WAITALL");
	if (flags & MSG_DONTWAIT)
		strcat(s, "|MSG_DONTWAIT");
	return s[0] ? s + 1 : "0";
}

/*
 * One case: @n bytes of data (or NO_DATA) into two fresh pairs, received
 * once by recv() and once by ZIO_IOC_READ with @flags into @g of the
 * prefilled regions. Counts the case in self->differ when anything
 * differs: the return value, a byte of the regions, what is left.
 */
static void one_case(struct __test_metadata *_metadata,
		     FIXTURE_DATA(as_recv) *self,
		     const FIXTURE_VARIANT(as_recv) *variant,
		     const struct geometry *g, long n, bool urgent, int flags)
{
	const size_t region = REGION_PAGES * PG;
	uint64_t salt = 0xa5000000 + self->cases;
	long ret[2], rest[2], at;
	int sv[2][2];

	self->cases++;
	if (n != NO_DATA)
		zio_fill(self->data, n, salt + 1);
	for (int k = 0, tries = 0; k < 2; k++) {
		int inq;

		ASSERT_EQ(0, make_pair(self, variant, sv[k]));
		ASSERT_EQ(0, feed(self, sv[k][0], n, urgent));
		if (n == NO_DATA)
			continue;
		ASSERT_EQ(0, finish(variant, sv[k]));
		if (variant->domain != AF_INET || variant->type != SOCK_DGRAM)
			continue;
		/*
		 * UDP may drop a datagram on loopback (no memory for it at
		 * the receiver, seen on the KASAN kernel): then the first one
		 * queued is not the data (SIOCINQ: its length). Before any
		 * receive, so the case is set up again, a few times at most.
		 */
		ASSERT_EQ(0, ioctl(sv[k][1], SIOCINQ, &inq));
		if (inq != n && ++tries <= 3) {
			TH_LOG("a datagram of %ld bytes was lost on loopback (%d queued first): again",
			       n, inq);
			close_pair(sv[k--]);
			continue;
		}
		ASSERT_EQ(n, inq);
	}
	zio_fill(self->plain, region, salt);
	zio_fill(self->zbuf, region, salt);

	ret[0] = recv(sv[0][1], self->plain + g->start, g->len, flags);
	if (ret[0] < 0)
		ret[0] = -errno;
	ret[1] = zio_io(self->zfd, ZIO_IOC_READ, sv[1][1], self->zbuf + g->start,
			g->len, flags);

	for (int k = 0; k < 2; k++) {
		if (n == NO_DATA)
			ASSERT_EQ(0, finish(variant, sv[k]));
		rest[k] = drain(variant, sv[k][1], self->rest[k]);
		close_pair(sv[k]);
	}

	at = -1;
	if (memcmp(self->plain, self->zbuf, region))
		for (at = 0; self->plain[at] == self->zbuf[at]; at++)
			;
	if (ret[0] == ret[1] && at < 0 && rest[0] == rest[1] &&
	    (rest[0] <= 0 || !memcmp(self->rest[0], self->rest[1], rest[0])))
		return;

	self->differ++;
	TH_LOG("%s, buffer %zu+%zu, data %ld%s: recv() %ld, ZIO_IOC_READ %ld",
	       flag_names(flags), g->start, g->len, n,
	       urgent ? " + 1 urgent" : "", ret[0], ret[1]);
	if (at >= 0) {
		long start = (long)g->start, end = (long)(g->start + g->len);
		const char *where = at < start ? "before the buffer" :
				    at < end ? "in the buffer" : "after the buffer";
		unsigned char was;

		zio_fill_at(&was, at, 1, salt);
		TH_LOG("  byte %ld of the buffer (%s, page %ld of the region): recv() 0x%02x, ZIO_IOC_READ 0x%02x%s",
		       at - start, where, at / (long)PG, self->plain[at],
		       self->zbuf[at],
		       self->plain[at] == was ? " (recv() left it as it was)" : "");
	}
	if (rest[0] != rest[1] ||
	    (rest[0] > 0 && memcmp(self->rest[0], self->rest[1], rest[0])))
		TH_LOG("  left in the socket: recv() %ld bytes, ZIO_IOC_READ %ld bytes%s",
		       rest[0], rest[1], rest[0] == rest[1] ? ", not the same" : "");
}

/*
 * Every geometry with no data yet (receiving with MSG_DONTWAIT added), an
 * end of stream or an empty datagram, and data shorter than, as long as
 * and longer than the buffer; for streams with @urgent_too, also each
 * followed by an urgent byte.
 */
static void all_cases(struct __test_metadata *_metadata,
		      FIXTURE_DATA(as_recv) *self,
		      const FIXTURE_VARIANT(as_recv) *variant, int flags,
		      bool urgent_too)
{
	int urgent_max = urgent_too && variant->type == SOCK_STREAM;

	for (size_t i = 0; i < ARRAY_SIZE(geometries); i++) {
		const struct geometry *g = &geometries[i];
		const long sizes[] = {
			0, (long)g->len / 2 + 1, (long)g->len,
			(long)(g->len + PG + 7),
		};

		one_case(_metadata, self, variant, g, NO_DATA, false,
			 flags | MSG_DONTWAIT);
		for (size_t s = 0; s < ARRAY_SIZE(sizes); s++)
			for (int urgent = 0; urgent <= urgent_max; urgent++)
				one_case(_metadata, self, variant, g, sizes[s],
					 urgent, flags);
	}
	TH_LOG("%d of %d cases differ from recv()", self->differ, self->cases);
	EXPECT_EQ(0, self->differ);
}

TEST_F_TIMEOUT(as_recv, no_flags, AS_RECV_TIMEOUT_S)
{
	all_cases(_metadata, self, variant, 0, false);
}

TEST_F_TIMEOUT(as_recv, msg_trunc, AS_RECV_TIMEOUT_S)
{
	all_cases(_metadata, self, variant, MSG_TRUNC, false);
}

TEST_F_TIMEOUT(as_recv, msg_peek, AS_RECV_TIMEOUT_S)
{
	all_cases(_metadata, self, variant, MSG_PEEK, false);
}

TEST_F_TIMEOUT(as_recv, msg_peek_trunc, AS_RECV_TIMEOUT_S)
{
	all_cases(_metadata, self, variant, MSG_PEEK | MSG_TRUNC, false);
}

/* With nothing urgent (EINVAL for TCP), and with an urgent byte. */
TEST_F_TIMEOUT(as_recv, msg_oob, AS_RECV_TIMEOUT_S)
{
	all_cases(_metadata, self, variant, MSG_OOB, true);
}

TEST_F_TIMEOUT(as_recv, msg_waitall, AS_RECV_TIMEOUT_S)
{
	all_cases(_metadata, self, variant, MSG_WAITALL, false);
}

TEST_F_TIMEOUT(as_recv, msg_dontwait, AS_RECV_TIMEOUT_S)
{
	all_cases(_metadata, self, variant, MSG_DONTWAIT, false);
}

/*
 * Flags ZIO_IOC_READ does not take: EINVAL (uapi.rst), and the data stays
 * in the socket for the next receive.
 */
TEST_F_TIMEOUT(as_recv, other_flags_einval, AS_RECV_TIMEOUT_S)
{
	static const int others[] = {
		MSG_ERRQUEUE, MSG_CMSG_CLOEXEC, MSG_CTRUNC, MSG_EOR,
		MSG_NOSIGNAL, MSG_MORE, MSG_PEEK | MSG_ERRQUEUE,
	};
	int sv[2];
	long rest;

	for (size_t i = 0; i < ARRAY_SIZE(others); i++) {
		zio_fill(self->data, 3 * PG, 0xf1a9);
		ASSERT_EQ(0, make_pair(self, variant, sv));
		ASSERT_EQ(0, feed(self, sv[0], 3 * PG, false));
		ASSERT_EQ(0, finish(variant, sv));
		memset(self->zbuf, 0x3c, 4 * PG);
		EXPECT_EQ(-EINVAL, zio_io(self->zfd, ZIO_IOC_READ, sv[1],
					  self->zbuf, 4 * PG, others[i])) {
			TH_LOG("msg_flags 0x%x", others[i]);
		}
		for (size_t j = 0; j < 4 * PG; j++)
			ASSERT_EQ(0x3c, self->zbuf[j]);
		rest = drain(variant, sv[1], self->rest[0]);
		close_pair(sv);
		if (variant->type == SOCK_DGRAM) {
			/* The datagram, then the marker. */
			ASSERT_EQ((long)(3 * PG + 3 + 2 * sizeof(int)), rest);
			EXPECT_EQ(0, memcmp(self->rest[0] + sizeof(int),
					    self->data, 3 * PG));
		} else {
			ASSERT_EQ((long)(3 * PG), rest);
			EXPECT_EQ(0, memcmp(self->rest[0], self->data, 3 * PG));
		}
	}
}

/*
 * lsm: ZIO_IOC_WRITE to a TCP socket passes security_socket_sendmsg(), the
 * LSM hook of every send(), also when it sends pages by reference: a
 * kprobe on the hook counts the calls of this process.
 */
#define TRACING		"/sys/kernel/tracing"
#define LSM_PROBE	"zio_lsm_send"
#define LSM_EVENT	TRACING "/events/kprobes/" LSM_PROBE
#define LSM_PAGES	4
#define LSM_WRITES	3

FIXTURE(lsm) {
	int zfd, l, a, b;
	struct sockaddr_in addr;
	unsigned char *map;
	bool probe;
	bool no_kprobes;
};

static void lsm_probe_remove(void)
{
	zio_write_file(LSM_EVENT "/enable", "0");
	zio_write_file_flags(TRACING "/kprobe_events", "-:" LSM_PROBE "\n", O_APPEND);
}

/* Lines of the trace that are hits of the probe. */
static int lsm_hits(void)
{
	static char trace[1 << 20];
	size_t len = 0;
	ssize_t n;
	char *p;
	int fd, hits = 0;

	fd = open(TRACING "/trace", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < sizeof(trace) - 1 &&
	       (n = read(fd, trace + len, sizeof(trace) - 1 - len)) > 0)
		len += n;
	close(fd);
	trace[len] = 0;
	for (p = trace; (p = strstr(p, " " LSM_PROBE ": ")); p++)
		hits++;
	return hits;
}

FIXTURE_SETUP(lsm)
{
	char filter[64];
	int ret;

	self->a = -1;
	self->b = -1;
	self->l = -1;
	self->zfd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->zfd);
	self->map = zio_map(self->zfd, 32 * PG, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	self->l = tcp_listener(&self->addr, 0);
	ASSERT_LE(0, self->l);
	ASSERT_EQ(0, tcp_connect(self->l, &self->addr, 0, &self->a, &self->b));

	if (access(TRACING "/trace", F_OK))
		mount("tracefs", TRACING, "tracefs", 0, NULL);
	if (access(TRACING "/kprobe_events", F_OK)) {
		/* The test skips: SKIP() here would not stop it. */
		self->no_kprobes = true;
		return;
	}
	lsm_probe_remove();	/* a leftover of an aborted run */
	ret = zio_write_file_flags(TRACING "/kprobe_events",
				   "p:" LSM_PROBE " security_socket_sendmsg\n",
				   O_APPEND);
	ASSERT_EQ(0, ret) {
		TH_LOG("cannot add a kprobe on security_socket_sendmsg: %s",
		       strerror(-ret));
	}
	self->probe = true;
	snprintf(filter, sizeof(filter), "common_pid == %d", getpid());
	ASSERT_EQ(0, zio_write_file(LSM_EVENT "/filter", filter));
	ASSERT_EQ(0, zio_write_file(LSM_EVENT "/enable", "1"));
}

FIXTURE_TEARDOWN(lsm)
{
	struct zio_counters c;

	if (self->probe)
		lsm_probe_remove();
	close(self->a);
	close(self->b);
	close(self->l);
	munmap(self->map, 32 * PG);
	if (!zio_counters(self->zfd, false, &c)) {
		EXPECT_EQ(0, c.pages_live);
		EXPECT_EQ(0, c.pages_pending);
	}
	close(self->zfd);
}

TEST_F(lsm, every_send_passes_the_hook)
{
	const size_t len = LSM_PAGES * PG;
	unsigned char *buf = self->map, *copy = self->map + 16 * PG;
	unsigned char *got = malloc(len);
	struct zio_counters before, after;
	int p[2], hits[LSM_WRITES], sent_hits;

	if (self->no_kprobes)
		SKIP(return, "no kprobe events in tracefs (CONFIG_KPROBE_EVENTS)");
	ASSERT_NE(NULL, got);
	/* A plain send(): the probe sees it. */
	zio_fill(got, len, 0x15a);
	ASSERT_EQ(0, zio_write_file(TRACING "/trace", ""));
	ASSERT_EQ((ssize_t)len, send(self->b, got, len, 0));
	sent_hits = lsm_hits();
	TH_LOG("send(): %d hits of security_socket_sendmsg", sent_hits);
	ASSERT_LE(1, sent_hits);
	ASSERT_EQ(0, wait_inq(self->a, (int)len));
	ASSERT_EQ((ssize_t)len, recv(self->a, got, len, MSG_WAITALL));

	/* Pages a read put in place: TCP gets them by reference. */
	ASSERT_EQ(0, pipe_with(p, len, 0x15b));
	ASSERT_EQ((long)len, zio_io(self->zfd, ZIO_IOC_READ, p[0], buf, len, 0));
	close(p[0]);
	close(p[1]);
	for (int i = 0; i < LSM_WRITES; i++) {
		ASSERT_EQ(0, zio_write_file(TRACING "/trace", ""));
		ASSERT_EQ((long)len, zio_io(self->zfd, ZIO_IOC_WRITE, self->a,
					    buf, len, 0));
		hits[i] = lsm_hits();
	}

	/* By reference indeed: the peer's queue holds the pages. */
	ASSERT_EQ(0, zio_counters(self->zfd, false, &before));
	ASSERT_EQ(0, zio_copy(self->zfd, copy, buf, len, NULL));
	ASSERT_EQ(0, zio_counters(self->zfd, false, &after));
	TH_LOG("ZIO_IOC_WRITE of %d pages (%llu of them held by the socket): %d, %d, %d hits of security_socket_sendmsg",
	       LSM_PAGES,
	       (unsigned long long)(after.pages_fallback - before.pages_fallback),
	       hits[0], hits[1], hits[2]);
	for (int i = 0; i < LSM_WRITES; i++) {
		ASSERT_EQ((ssize_t)len, recv(self->b, got, len, MSG_WAITALL));
		EXPECT_TRUE(zio_check(got, len, 0x15b));
		EXPECT_LE(1, hits[i]);
	}
	free(got);
}

ZIO_TEST_NOTHING_LEFT()

TEST_HARNESS_MAIN
