// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The I/O calls behind the interposed read and write, send and recv, in
 * all their forms (preload.c forwards them here: zio_write()...). A large
 * buffer in the arena goes to the module's ZIO_IOC_WRITE, and to its
 * ZIO_IOC_READ where a module copy left shared or pending pages
 * (module_takes()): they move the bytes straight from or into the slot
 * pages, so the kernel does not fault in pages that hold deferred copies,
 * and fresh pages are installed without being faulted in. Everything else
 * goes to libc through one compare.
 *
 * The module returns what the libc call would, so its answer is returned
 * as it is, with one exception: errors that tell that the module did not
 * take the request (the buffer, the device or the descriptor kind is not
 * what it handles) make libc do the call instead, which then gives the
 * exact answer, errors included. The module reports no such error once
 * bytes have moved, so nothing is moved twice.
 *
 * Vectors (readv, writev, sendmsg...) whose large arena parts sit next to
 * other parts are done piece by piece only where that is invisible: stream
 * sockets, and for writes, pipes that are not in packet mode; everywhere
 * else (files, datagrams) libc does the whole call. A piece that ends
 * short ends the call, as a short vector call would; a socket read does
 * not wait for the pieces after the first.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

/* Not an answer of the module: libc does the call. */
#define ZIO_IO_LIBC	(-2)

/*
 * A write of at least the threshold goes to the module whenever the buffer
 * is in the arena: it sends shared and pending pages without materializing
 * them, and what a read put in place by reference. A read goes to the
 * module only where a module copy left shared or pending pages
 * (zio_arena_marked()), which it replaces by fresh ones instead of copying
 * them on write; into pages that only the program has written, read()
 * costs less: one copy into pages already mapped. Over marked pages, any
 * read of a page or more goes to the module, below the threshold too:
 * read() would copy every shared page it reaches (Redis reads the rest of
 * a large value, often less than the threshold, into the query buffer the
 * previous value was copied out of).
 */
static bool module_takes(bool write, const void *buf, size_t n)
{
	size_t min = __atomic_load_n(&zio_io_min, __ATOMIC_RELAXED);

	if (write)
		return n >= min && zio_in_arena(buf, n);
	return min != SIZE_MAX && n >= zio_arena.page_size && zio_in_arena(buf, n) &&
	       zio_arena_marked((uintptr_t)buf, n);
}

/*
 * The msg_flags of send(), recv()...: those fail on other files. A module
 * without ZIO_FEATURE_IO_SOCKET takes flags 0 as read() and write().
 */
static uint64_t socket_flags(int flags)
{
	return (zio_arena.io_socket_ok ? ZIO_IO_SOCKET : 0) | (unsigned int)flags;
}

/* Errors of ZIO_IOC_WRITE/READ that come before any byte moved. */
static bool not_taken(int err)
{
	switch (err) {
	case EBADF:	/* the descriptor, or the device's fd closed */
	case ENOTTY:	/* the device's fd number reused */
	case EFAULT:	/* the buffer is not all in the arena's mapping */
	case ENOMEM:
	case EINVAL:	/* a file without read_iter/write_iter, a flag */
	case EOVERFLOW:
	case ENOTSOCK:
	case ESPIPE:
	case EOPNOTSUPP:
	case EIO:	/* a fork child whose snapshot failed: libc faults */
		return true;
	default:
		return false;
	}
}

/*
 * ZIO_IOC_WRITE or ZIO_IOC_READ of @n bytes at @buf. @offset is
 * ZIO_IO_FILE_POS or a file offset; @msg_flags is 0 for read() and write(),
 * socket_flags() for the socket calls. Returns bytes, -1 with errno, or
 * ZIO_IO_LIBC.
 */
static ssize_t module_io(bool write, int fd, uintptr_t addr, size_t n,
			 uint64_t offset, uint64_t msg_flags)
{
	struct zio_io io = {
		.fd = (uint64_t)(int64_t)fd,
		.addr = addr,
		.len = n,
		.offset = offset,
		.msg_flags = msg_flags,
	};
	int saved = errno, ret;

	ret = zio_dev_io(zio_arena.fd, write, &io);
	if (ret >= 0) {
		if (write) {
			zio_count(io_writes, 1);
			zio_count(io_bytes_written, ret);
		} else {
			zio_count(io_reads, 1);
			zio_count(io_bytes_read, ret);
			/*
			 * The pages read into are the program's alone now
			 * (a truncated datagram's length may exceed @n).
			 */
			zio_arena_unmark(addr, (size_t)ret < n ? (size_t)ret : n,
					 zio_policy_overwritten);
		}
		return ret;
	}
	if (!not_taken(-ret)) {
		errno = -ret;
		return -1;
	}
	zio_debug("ZIO_IOC_%s fd %d %#lx+%zu: %s: libc does it", write ? "WRITE" : "READ",
		  fd, (unsigned long)addr, n, strerror(-ret));
	zio_count(io_fallbacks, 1);
	if (-ret == ENOTTY) {
		/* The device's fd is gone: stop asking. */
		__atomic_store_n(&zio_io_min, SIZE_MAX, __ATOMIC_RELAXED);
	}
	errno = saved;
	return ZIO_IO_LIBC;
}

static uint64_t pos_of(off_t offset)
{
	return offset < 0 ? ZIO_IO_FILE_POS : (uint64_t)offset;
}

/* Some part of the vector is for the module. */
static bool vector_takes(bool write, const struct iovec *iov, size_t cnt)
{
	if (cnt > IOV_MAX)
		return false;
	for (size_t i = 0; i < cnt; i++)
		if (module_takes(write, iov[i].iov_base, iov[i].iov_len))
			return true;
	return false;
}

/* What a vector call may be split on. */
enum zio_split { ZIO_SPLIT_NO, ZIO_SPLIT_STREAM, ZIO_SPLIT_PIPE };

/*
 * Files are not: the kernel writes a vector to a file at once (the file
 * position moves by the whole call, an O_APPEND write lands in one piece,
 * no other write to the same range comes in between, and only a write
 * that starts at RLIMIT_FSIZE gets SIGXFSZ). Nor are packet-mode pipes
 * (O_DIRECT), where each piece would be a packet of its own.
 */
static enum zio_split split_kind(int fd)
{
	struct stat st;
	int type;
	socklen_t len = sizeof(type);

	if (fstat(fd, &st))
		return ZIO_SPLIT_NO;
	if (S_ISFIFO(st.st_mode)) {
		int fl = fcntl(fd, F_GETFL);

		return fl < 0 || (fl & O_DIRECT) ? ZIO_SPLIT_NO : ZIO_SPLIT_PIPE;
	}
	if (S_ISSOCK(st.st_mode) &&
	    !getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) && type == SOCK_STREAM)
		return ZIO_SPLIT_STREAM;
	return ZIO_SPLIT_NO;
}

/* One piece of a split vector call: libc's part. */
static ssize_t libc_piece(bool write, bool sock, int fd, const struct iovec *iov,
			  int cnt, int flags)
{
	if (sock) {
		struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = cnt };

		return write ? zio_next.sendmsg(fd, &msg, flags) : zio_next.recvmsg(fd, &msg, flags);
	}
	return write ? zio_next.writev(fd, iov, cnt) : zio_next.readv(fd, iov, cnt);
}

/*
 * readv()/writev() and their offset and socket forms. @offset < 0: the file
 * position. @sock: a socket call with MSG_* @flags. Returns ZIO_IO_LIBC
 * when nothing in the vector is for the module, or the call cannot be split.
 */
static ssize_t vector_io(bool write, bool sock, int fd, const struct iovec *iov,
			 int cnt, off_t offset, int flags)
{
	int saved = errno, i, j;
	enum zio_split kind;
	size_t done = 0;

	if (!vector_takes(write, iov, cnt))
		return ZIO_IO_LIBC;
	if (cnt == 1)
		return module_io(write, fd, (uintptr_t)iov[0].iov_base, iov[0].iov_len, pos_of(offset),
				 sock ? socket_flags(flags) : 0);

	/* An offset is for files, which are not split. */
	kind = offset < 0 ? split_kind(fd) : ZIO_SPLIT_NO;
	switch (kind) {
	case ZIO_SPLIT_STREAM:
		/* A piece at a time cannot peek at what comes later. */
		if (flags & MSG_PEEK)
			return ZIO_IO_LIBC;
		break;
	case ZIO_SPLIT_PIPE:
		if (!write)
			return ZIO_IO_LIBC;
		break;
	default:
		return ZIO_IO_LIBC;
	}

	for (i = 0; i < cnt; i = j) {
		size_t want = 0;
		ssize_t ret;

		if (module_takes(write, iov[i].iov_base, iov[i].iov_len)) {
			j = i + 1;
			want = iov[i].iov_len;
			ret = module_io(write, fd, (uintptr_t)iov[i].iov_base, want,
					ZIO_IO_FILE_POS, sock ? socket_flags(flags) : 0);
			if (ret == ZIO_IO_LIBC)
				ret = libc_piece(write, sock, fd, &iov[i], 1, flags);
		} else {
			for (j = i; j < cnt && !module_takes(write, iov[j].iov_base, iov[j].iov_len); j++)
				want += iov[j].iov_len;
			ret = libc_piece(write, sock, fd, &iov[i], j - i, flags);
		}
		if (ret < 0 && done) {
			/* The bytes moved are the answer, as a short call's. */
			errno = saved;
			return done;
		}
		if (ret < 0)
			return ret;
		done += ret;
		if ((size_t)ret < want)
			break;
		/*
		 * A stream read returns what has come: later pieces don't
		 * wait, also those of a readv(), which go on as recvmsg().
		 */
		if (!write && kind == ZIO_SPLIT_STREAM && !(flags & MSG_WAITALL)) {
			flags |= MSG_DONTWAIT;
			sock = true;
		}
	}
	return done;
}

/* The single-buffer calls. */

ssize_t zio_write(int fd, const void *buf, size_t n)
{
	if (unlikely(module_takes(true, buf, n))) {
		ssize_t ret = module_io(true, fd, (uintptr_t)buf, n, ZIO_IO_FILE_POS, 0);

		if (ret != ZIO_IO_LIBC)
			return ret;
	}
	return zio_next.write(fd, buf, n);
}

ssize_t zio_read(int fd, void *buf, size_t n)
{
	if (unlikely(module_takes(false, buf, n))) {
		ssize_t ret = module_io(false, fd, (uintptr_t)buf, n, ZIO_IO_FILE_POS, 0);

		if (ret != ZIO_IO_LIBC)
			return ret;
	}
	return zio_next.read(fd, buf, n);
}

ssize_t zio_pwrite(int fd, const void *buf, size_t n, off_t offset)
{
	/* A negative offset is EINVAL, from libc. */
	if (unlikely(module_takes(true, buf, n)) && offset >= 0) {
		ssize_t ret = module_io(true, fd, (uintptr_t)buf, n, offset, 0);

		if (ret != ZIO_IO_LIBC)
			return ret;
	}
	return zio_next.pwrite(fd, buf, n, offset);
}

ssize_t zio_pread(int fd, void *buf, size_t n, off_t offset)
{
	if (unlikely(module_takes(false, buf, n)) && offset >= 0) {
		ssize_t ret = module_io(false, fd, (uintptr_t)buf, n, offset, 0);

		if (ret != ZIO_IO_LIBC)
			return ret;
	}
	return zio_next.pread(fd, buf, n, offset);
}

ssize_t zio_send(int fd, const void *buf, size_t n, int flags)
{
	if (unlikely(module_takes(true, buf, n))) {
		ssize_t ret = module_io(true, fd, (uintptr_t)buf, n, ZIO_IO_FILE_POS,
					socket_flags(flags));

		if (ret != ZIO_IO_LIBC)
			return ret;
	}
	return zio_next.send(fd, buf, n, flags);
}

ssize_t zio_recv(int fd, void *buf, size_t n, int flags)
{
	if (unlikely(module_takes(false, buf, n))) {
		ssize_t ret = module_io(false, fd, (uintptr_t)buf, n, ZIO_IO_FILE_POS,
					socket_flags(flags));

		if (ret != ZIO_IO_LIBC)
			return ret;
	}
	return zio_next.recv(fd, buf, n, flags);
}

ssize_t zio_sendto(int fd, const void *buf, size_t n, int flags,
			  const struct sockaddr *to, socklen_t tolen)
{
	/* The module has no destination address to give. */
	if (unlikely(module_takes(true, buf, n)) && !to) {
		ssize_t ret = module_io(true, fd, (uintptr_t)buf, n, ZIO_IO_FILE_POS,
					socket_flags(flags));

		if (ret != ZIO_IO_LIBC)
			return ret;
	}
	return zio_next.sendto(fd, buf, n, flags, to, tolen);
}

ssize_t zio_recvfrom(int fd, void *buf, size_t n, int flags,
			    struct sockaddr *from, socklen_t *fromlen)
{
	if (unlikely(module_takes(false, buf, n)) && !from) {
		ssize_t ret = module_io(false, fd, (uintptr_t)buf, n, ZIO_IO_FILE_POS,
					socket_flags(flags));

		if (ret != ZIO_IO_LIBC)
			return ret;
	}
	return zio_next.recvfrom(fd, buf, n, flags, from, fromlen);
}

/* The vector calls. */

ssize_t zio_writev(int fd, const struct iovec *iov, int cnt)
{
	ssize_t ret = vector_io(true, false, fd, iov, cnt, -1, 0);

	return ret != ZIO_IO_LIBC ? ret : zio_next.writev(fd, iov, cnt);
}

ssize_t zio_readv(int fd, const struct iovec *iov, int cnt)
{
	ssize_t ret = vector_io(false, false, fd, iov, cnt, -1, 0);

	return ret != ZIO_IO_LIBC ? ret : zio_next.readv(fd, iov, cnt);
}

ssize_t zio_pwritev(int fd, const struct iovec *iov, int cnt, off_t offset)
{
	ssize_t ret = offset < 0 ? ZIO_IO_LIBC : vector_io(true, false, fd, iov, cnt, offset, 0);

	return ret != ZIO_IO_LIBC ? ret : zio_next.pwritev(fd, iov, cnt, offset);
}

ssize_t zio_preadv(int fd, const struct iovec *iov, int cnt, off_t offset)
{
	ssize_t ret = offset < 0 ? ZIO_IO_LIBC : vector_io(false, false, fd, iov, cnt, offset, 0);

	return ret != ZIO_IO_LIBC ? ret : zio_next.preadv(fd, iov, cnt, offset);
}

/* Only plain messages: no address, no ancillary data. */
static bool plain_msg(const struct msghdr *msg)
{
	return !msg->msg_name && !msg->msg_controllen;
}

ssize_t zio_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	ssize_t ret = ZIO_IO_LIBC;

	if (plain_msg(msg))
		ret = vector_io(true, true, fd, msg->msg_iov, msg->msg_iovlen, -1, flags);
	return ret != ZIO_IO_LIBC ? ret : zio_next.sendmsg(fd, msg, flags);
}

ssize_t zio_recvmsg(int fd, struct msghdr *msg, int flags)
{
	ssize_t ret = ZIO_IO_LIBC;

	/*
	 * Stream sockets only: the module cannot say that a datagram was
	 * truncated (msg_flags), and vector_io() does not check the socket
	 * type of a single buffer.
	 */
	if (plain_msg(msg) && vector_takes(false, msg->msg_iov, msg->msg_iovlen) &&
	    split_kind(fd) == ZIO_SPLIT_STREAM)
		ret = vector_io(false, true, fd, msg->msg_iov, msg->msg_iovlen, -1, flags);
	if (ret == ZIO_IO_LIBC)
		return zio_next.recvmsg(fd, msg, flags);
	if (ret >= 0)
		msg->msg_flags = 0;
	return ret;
}
