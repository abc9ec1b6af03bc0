// SPDX-License-Identifier: GPL-2.0
/*
 * I/O between zio buffers and file descriptors, straight from and into the
 * pages of the slots.
 *
 * ZIO_IOC_WRITE hands the file a bvec iterator over the pages that hold the
 * buffer: pending copies are done in the kernel, no fault is taken, and
 * untouched destination pages are never mapped. TCP gets pages by
 * reference: the buffer's own, or the space's send frags that their bytes
 * are copied into. ZIO_IOC_READ receives into
 * fresh pages and then, under the space lock, puts the whole pages it
 * filled into their slots (as a copy would) and copies partial pages into
 * place. The space lock is never held while the file blocks.
 */
#include <linux/bvec.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/net.h>
#include <linux/pagemap.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <net/sock.h>

#include "compat.h"
#include "frag.h"
#include "io.h"
#include "params.h"
#include "range.h"
#include "slot.h"
#include "space.h"
#include "stats.h"
#include "trace.h"

#define ZIO_SEND_FLAGS	(MSG_DONTWAIT | MSG_NOSIGNAL | MSG_MORE | MSG_EOR | \
			 MSG_OOB | MSG_CONFIRM | MSG_DONTROUTE)
#define ZIO_RECV_FLAGS	(MSG_DONTWAIT | MSG_PEEK | MSG_WAITALL | MSG_TRUNC | \
			 MSG_OOB)

struct zio_io_ctx {
	struct zio_io args;
	struct file *file;
	struct socket *sock;
	struct zio_space *space;
	struct zio_extents map;
	struct bio_vec *bvec;
	unsigned int nr_pages;
	/*
	 * ZIO_IOC_READ: pages for the slots of the partial pages, see
	 * zio_io_install(): [0] for a first page the buffer covers in part,
	 * [1] for the page a short read may end in.
	 */
	struct page *spare[2];
	bool first_partial;
	/* the space's unmap_seq when the buffer was translated */
	unsigned long unmap_seq;
};

/* Check the arguments, take the file and the space, size the bvec. */
static int zio_io_start(struct file *zfile, const struct zio_io *in,
			unsigned long vm_flags, unsigned int msg_mask,
			struct zio_io_ctx *io)
{
	struct zio_io *args = &io->args;
	unsigned long first, last;
	int ret;

	zio_extents_init(&io->map);
	*args = *in;
	if (memchr_inv(args->reserved, 0, sizeof(args->reserved)))
		return -EINVAL;
	if (args->addr + args->len < args->addr || args->len > MAX_RW_COUNT)
		return -EOVERFLOW;
	if (args->fd > INT_MAX)
		return -EBADF;

	io->file = fget(args->fd);
	if (!io->file)
		return -EBADF;
	if (args->msg_flags) {
		io->sock = sock_from_file(io->file);
		if (!io->sock)
			return -ENOTSOCK;
		if (args->msg_flags & ~((u64)msg_mask | ZIO_IO_SOCKET))
			return -EINVAL;
		if (args->offset != ZIO_IO_FILE_POS)
			return -ESPIPE;
		args->msg_flags &= ~ZIO_IO_SOCKET;
	}
	if (!args->len)
		return 0;

	if (mmap_read_lock_killable(current->mm))
		return -EINTR;
	ret = zio_map_range(zfile, args->addr, args->len, vm_flags, &io->map,
			    &io->space);
	if (!ret) {
		kref_get(&io->space->ref);
		io->unmap_seq = READ_ONCE(io->space->unmap_seq);
	} else {
		io->space = NULL;
	}
	mmap_read_unlock(current->mm);
	if (ret)
		return ret;

	first = args->addr >> PAGE_SHIFT;
	last = (args->addr + args->len - 1) >> PAGE_SHIFT;
	io->nr_pages = last - first + 1;
	io->bvec = kvmalloc_array(io->nr_pages, sizeof(*io->bvec),
				  GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	return io->bvec ? 0 : -ENOMEM;
}

static void zio_io_end(struct zio_io_ctx *io)
{
	kvfree(io->bvec);
	if (io->space)
		zio_space_put(io->space);
	zio_extents_free(&io->map);
	if (io->file)
		fput(io->file);
}

/* The part of page @i of the buffer that the buffer covers. */
static void zio_io_page_part(struct zio_io_ctx *io, unsigned int i,
			     unsigned long *addr, unsigned int *offset,
			     unsigned int *len)
{
	unsigned long start = (io->args.addr & PAGE_MASK) + i * PAGE_SIZE;
	unsigned long end = min(start + PAGE_SIZE, io->args.addr + io->args.len);

	*addr = max_t(unsigned long, start, io->args.addr);
	*offset = offset_in_page(*addr);
	*len = end - *addr;
}

/* The socket flags of the call: its msg_flags, and O_NONBLOCK's. */
static int zio_io_sock_flags(struct zio_io_ctx *io)
{
	int flags = io->args.msg_flags;

	if (io->file->f_flags & O_NONBLOCK)
		flags |= MSG_DONTWAIT;
	return flags;
}

/* sendmsg() or recvmsg() of @iter, which then says how far it got. */
static ssize_t zio_io_sock_transfer(struct socket *sock, struct iov_iter *iter,
				    int flags, bool write)
{
	struct msghdr msg = { .msg_flags = flags };
	ssize_t ret;

	msg.msg_iter = *iter;
	if (write)
		ret = sock_sendmsg(sock, &msg);
	else
		ret = sock_recvmsg(sock, &msg, flags);
	*iter = msg.msg_iter;
	return ret;
}

/*
 * Move @iter through the file or socket as write()/read(), send()/recv()
 * or pwrite()/pread() would.
 */
static ssize_t zio_io_transfer(struct zio_io_ctx *io, struct iov_iter *iter,
			       bool write)
{
	struct file *file = io->file;
	loff_t pos = 0, *ppos = NULL;
	bool pos_locked = false;
	ssize_t ret;

	if (io->sock)
		return zio_io_sock_transfer(io->sock, iter, zio_io_sock_flags(io),
					    write);

	if (io->args.offset == ZIO_IO_FILE_POS) {
		if (file->f_mode & FMODE_ATOMIC_POS) {
			mutex_lock(&file->f_pos_lock);
			pos_locked = true;
		}
		if (!(file->f_mode & FMODE_STREAM)) {
			pos = file->f_pos;
			ppos = &pos;
		}
	} else {
		if (io->args.offset > LLONG_MAX)
			return -EINVAL;
		if (!(file->f_mode & (write ? FMODE_PWRITE : FMODE_PREAD)))
			return -ESPIPE;
		pos = io->args.offset;
		ppos = &pos;
	}

	if (write) {
		if (!(file->f_mode & FMODE_WRITE)) {
			ret = -EBADF;
		} else {
			zio_file_start_write(file);
			ret = vfs_iter_write(file, iter, ppos, 0);
			zio_file_end_write(file);
		}
	} else {
		ret = vfs_iter_read(file, iter, ppos, 0);
	}

	if (io->args.offset == ZIO_IO_FILE_POS && ppos && ret >= 0)
		file->f_pos = pos;
	if (pos_locked)
		mutex_unlock(&file->f_pos_lock);
	return ret;
}

/*
 * TCP sends the pages themselves: the receiver's socket, or the retransmit
 * queue, then holds them until the bytes are consumed, and send() promised
 * the program that its buffer is free again. So a page goes by reference
 * only when no PTE maps it writable (ZIO_PAGE_WRITABLE clear), and it is
 * marked ZIO_PAGE_LENT under the same page lock: zio never writes a lent
 * page in place again (zio_page_exclusive()), and the program's next write
 * to it copies it. The peer cannot map the page either: its page->mapping
 * makes a zerocopy receive copy the bytes. What goes by reference is what
 * zio deferred (shared and pending-copy pages) and what ZIO_IOC_READ
 * received, untouched since.
 *
 * A buffer with pages the program maps writable (it wrote them, and is
 * likely to write them again: a reused buffer, which by reference would
 * cost a copy-on-write fault per page), or with empty slots, is copied
 * into the space's send frags (frag.c) instead, which TCP takes by
 * reference: that is the copy TCP would have made, without the frags it
 * allocates and zeroes send after send.
 */
static bool zio_io_tcp(struct zio_io_ctx *io, struct socket *sock)
{
	return sock && sock->sk && sock->type == SOCK_STREAM &&
	       sock->sk->sk_protocol == IPPROTO_TCP &&
	       !(io->args.msg_flags & (MSG_OOB | ZIO_SEND_PAGES_IGNORES));
}

/* May TCP have the buffer's pages themselves? If so, they are marked lent. */
static bool zio_io_lend(struct zio_io_ctx *io)
{
	unsigned int i;

	/* An unlocked look first: copying is always right. */
	for (i = 0; i < io->nr_pages; i++) {
		struct page *page = io->bvec[i].bv_page;

		if (is_zero_page(page) || READ_ONCE(page->private) & ZIO_PAGE_WRITABLE)
			return false;
	}
	/* A page lent before a writable one stops the send stays lent. */
	for (i = 0; i < io->nr_pages; i++) {
		struct page *page = io->bvec[i].bv_page;
		bool writable;

		/*
		 * A page whose last share went since it was collected is
		 * nobody's: a stale PTE may still write it, and nothing
		 * keeps a peer from mapping it. Such a send copies.
		 */
		lock_page(page);
		writable = page_private(page) & ZIO_PAGE_WRITABLE ||
			   !zio_page_shares(page);
		if (!writable)
			set_page_private(page, page_private(page) | ZIO_PAGE_LENT);
		unlock_page(page);
		if (writable)
			return false;
	}
	return true;
}

static ssize_t zio_io_send_pages(struct zio_io_ctx *io, struct socket *sock)
{
	return zio_sock_send_pages(sock, io->bvec, io->nr_pages, io->args.len,
				   zio_io_sock_flags(io));
}

/*
 * How much of the @left bytes to copy into frags for one part of a send:
 * what the socket has room for (more would be copied in vain when a
 * nonblocking send comes back short, and again at the next try), at
 * least 64 KiB.
 */
static size_t zio_io_frag_part(struct socket *sock, size_t left)
{
	int room = sk_stream_wspace(sock->sk);

	return min_t(size_t, left, max(room, SZ_64K));
}

/*
 * Send the buffer's bytes to TCP from the space's send frags, a part at a
 * time; *@ret is what send() would return. False when no frag could be
 * had for the first part: nothing was sent. Where a frag is missing for a
 * later part, the rest is copied by the socket. A blocking send waits for
 * room up to the socket's send timeout for each part.
 */
static bool zio_io_send_frags(struct zio_io_ctx *io, struct socket *sock,
			      ssize_t *ret)
{
	/* A frag of a single page where no compound one could be had. */
	unsigned int max_segs = io->nr_pages + 2;
	int flags = zio_io_sock_flags(io);
	size_t left = io->args.len, done = 0;
	struct iov_iter iter, part;
	struct bio_vec *seg;
	ssize_t sent = 0;
	int nr;

	seg = kvmalloc_array(max_segs, sizeof(*seg), GFP_KERNEL_ACCOUNT);
	if (!seg)
		return false;
	iov_iter_bvec(&iter, ITER_SOURCE, io->bvec, io->nr_pages, io->args.len);
	while (left) {
		size_t size = zio_io_frag_part(sock, left);

		part = iter;
		iov_iter_truncate(&part, size);
		nr = zio_frags_copy(io->space, &part, seg, max_segs);
		if (nr < 0) {
			if (!done)
				break;
			/* Bytes went already: the rest as the socket copies it. */
			sent = zio_io_sock_transfer(sock, &iter, flags | MSG_NOSIGNAL,
						    true);
			done += max_t(ssize_t, sent, 0);
			break;
		}
		iov_iter_advance(&iter, size);
		/* The end of record is the last part's. */
		sent = zio_sock_send_pages(sock, seg, nr, size,
					   left > size ? flags & ~MSG_EOR : flags);
		zio_frags_put(seg, nr);
		if (sent <= 0)
			break;
		done += sent;
		left -= sent;
		if (sent < size)
			break;
		/* A later part that fails says nothing of the bytes sent. */
		flags |= MSG_NOSIGNAL;
	}
	kvfree(seg);
	if (!done && nr < 0)
		return false;
	*ret = done ? done : sent;
	return true;
}

/**
 * zio_ioctl_write() - ZIO_IOC_WRITE: write a zio buffer to a file descriptor
 * @zfile: the open the buffer's mappings belong to
 * @args: the argument, copied in
 *
 * Return: bytes written, or a negative errno, as write() or send().
 */
long zio_ioctl_write(struct file *zfile, const struct zio_io *args)
{
	struct zio_io_ctx io = {};
	struct socket *sock;
	struct iov_iter iter;
	unsigned int i, n = 0;
	ssize_t ret;
	bool tcp;

	ret = zio_io_start(zfile, args, VM_READ, ZIO_SEND_FLAGS, &io);
	if (ret || !io.args.len)
		goto out_end;

	for (i = 0; i < io.nr_pages; i++, n++) {
		unsigned long addr;
		unsigned int offset, len;
		struct page *page;

		zio_io_page_part(&io, i, &addr, &offset, &len);
		ret = zio_slot_get_page(io.space, zio_map_pgoff(&io.map, addr),
					&page);
		if (ret)
			goto out_put_pages;
		if (!page) {
			/* An empty slot reads as zeros. */
			page = ZERO_PAGE(0);
			get_page(page);
		}
		io.bvec[i].bv_page = page;
		io.bvec[i].bv_offset = offset;
		io.bvec[i].bv_len = len;
	}

	sock = sock_from_file(io.file);
	tcp = zio_io_tcp(&io, sock);
	if (tcp && zio_io_lend(&io)) {
		ret = zio_io_send_pages(&io, sock);
	} else if (!tcp || !zio_io_send_frags(&io, sock, &ret)) {
		/* Not TCP, or no frag to be had: the file copies. */
		iov_iter_bvec(&iter, ITER_SOURCE, io.bvec, io.nr_pages,
			      io.args.len);
		ret = zio_io_transfer(&io, &iter, true);
	}
	trace_zio_io(io.space, true, io.args.fd, io.args.addr, io.args.len, ret);
	if (ret > 0)
		zio_space_count(io.space, ZIO_EV_IO_WRITTEN, ret);

out_put_pages:
	for (i = 0; i < n; i++)
		put_page(io.bvec[i].bv_page);
out_end:
	zio_io_end(&io);
	return ret;
}

/*
 * Put what a read brought into the buffer: whole pages into their slots,
 * the bytes of partial pages into the pages the slots hold. The data is
 * out of the file by now: what a partial page's slot needs comes from the
 * spares allocated before the read. Returns the bytes put in place, from
 * the start; less than @done only when the xarray could not allocate a
 * node, and then the fresh pages from there on are still in io->bvec.
 */
static size_t zio_io_install(struct zio_io_ctx *io, size_t done)
{
	struct zio_space *space = io->space;
	pgoff_t first = ULONG_MAX, last = 0;
	size_t placed = 0;
	bool mapped = false;
	unsigned int i;

	mutex_lock(&space->lock);
	/*
	 * munmap discarded slots while the read blocked: they may belong to
	 * nobody now. Hand the bytes over through the mapping instead, which
	 * fails as read() into an unmapped buffer does.
	 */
	if (space->unmap_seq != io->unmap_seq)
		i = io->nr_pages;
	else
		i = 0;
	for (; i < io->nr_pages; i++) {
		struct page *fresh = io->bvec[i].bv_page, *page;
		unsigned long addr;
		unsigned int offset, len;
		pgoff_t pgoff;
		void *old, *kaddr, *from;

		zio_io_page_part(io, i, &addr, &offset, &len);
		if (addr - io->args.addr >= done)
			break;
		if (unlikely(ZIO_DEBUG_KNOB(io_install_pages) &&
			     i == ZIO_DEBUG_KNOB(io_install_pages)))
			break;
		len = min_t(size_t, len, done - (addr - io->args.addr));
		pgoff = zio_map_pgoff(&io->map, addr);

		if (len == PAGE_SIZE) {
			old = xa_store(&space->slots, pgoff, fresh, GFP_KERNEL);
			if (xa_is_err(old))
				break;
			zio_space_note_slots(space, !old);
			io->bvec[i].bv_page = NULL;	/* the slot has it */
			zio_slot_recycle(space, old, &mapped);
			first = min(first, pgoff);
			last = max(last, pgoff);
			placed += len;
			continue;
		}
		if (zio_slot_get_exclusive_spare(space, pgoff, &page,
						 &io->spare[i || !io->first_partial]))
			break;
		kaddr = kmap_local_page(page);
		from = kmap_local_page(fresh);
		memcpy(kaddr + offset, from + offset, len);
		kunmap_local(from);
		kunmap_local(kaddr);
		flush_dcache_page(page);
		put_page(page);
		placed += len;
	}
	if (first <= last)
		zio_space_zap_released(space, first, last, mapped);
	mutex_unlock(&space->lock);
	return placed;
}

/*
 * The bytes [@placed, @done) of a read that zio_io_install() could not put
 * in place: copied into the buffer as read() would, through the mapping.
 * The bytes have left the file already, so this is the last chance to
 * hand them over. Returns the bytes copied.
 */
static size_t zio_io_copy_out(struct zio_io_ctx *io, size_t placed, size_t done)
{
	size_t copied = 0;
	unsigned int i;

	for (i = 0; i < io->nr_pages; i++) {
		unsigned long addr;
		unsigned int offset, len;
		size_t at, left;
		void *from;

		zio_io_page_part(io, i, &addr, &offset, &len);
		at = addr - io->args.addr;
		if (at < placed)
			continue;
		if (at >= done)
			break;
		len = min_t(size_t, len, done - at);
		from = kmap_local_page(io->bvec[i].bv_page);
		left = copy_to_user((void __user *)addr, from + offset, len);
		kunmap_local(from);
		copied += len - left;
		if (left)
			break;
	}
	return copied;
}

/**
 * zio_ioctl_read() - ZIO_IOC_READ: read from a file descriptor into a buffer
 * @zfile: the open the buffer's mappings belong to
 * @args: the argument, copied in
 *
 * Return: bytes read, or a negative errno, as read() or recv().
 */
long zio_ioctl_read(struct file *zfile, const struct zio_io *args)
{
	struct zio_io_ctx io = {};
	struct iov_iter iter;
	size_t got, placed;
	unsigned int i;
	ssize_t ret;

	ret = zio_io_start(zfile, args, VM_WRITE, ZIO_RECV_FLAGS, &io);
	if (ret || !io.args.len)
		goto out_end;

	/*
	 * Only a partial first page and the page a short read ends in can
	 * need a page for their slot after the read: allocate those now,
	 * while failing loses nothing.
	 */
	io.first_partial = offset_in_page(io.args.addr) || io.args.len < PAGE_SIZE;
	for (i = !io.first_partial; i < 2; i++) {
		if (i == 1 && io.nr_pages == 1 && io.first_partial)
			break;
		io.spare[i] = zio_page_alloc(io.space, GFP_HIGHUSER);
		if (!io.spare[i]) {
			ret = -ENOMEM;
			goto out_free_pages;
		}
	}

	for (i = 0; i < io.nr_pages; i++) {
		unsigned long addr;
		unsigned int offset, len;

		io.bvec[i].bv_page = zio_page_alloc(io.space, GFP_HIGHUSER);
		if (!io.bvec[i].bv_page) {
			ret = -ENOMEM;
			goto out_free_pages;
		}
		zio_io_page_part(&io, i, &addr, &offset, &len);
		io.bvec[i].bv_offset = offset;
		io.bvec[i].bv_len = len;
	}

	iov_iter_bvec(&iter, ITER_DEST, io.bvec, io.nr_pages, io.args.len);
	ret = zio_io_transfer(&io, &iter, false);
	trace_zio_io(io.space, false, io.args.fd, io.args.addr, io.args.len, ret);
	/*
	 * What the file wrote is how far the iterator went, not what it
	 * returned: MSG_TRUNC returns a datagram's whole length, and TCP's
	 * discards the data and writes nothing at all.
	 */
	got = io.args.len - iov_iter_count(&iter);
	if (ret > 0 && got) {
		placed = zio_io_install(&io, got);
		zio_space_count(io.space, ZIO_EV_IO_READ, placed);
		if (placed < got) {
			placed += zio_io_copy_out(&io, placed, got);
			if (placed < got)
				ret = placed ? placed : -EFAULT;
		}
	}

out_free_pages:
	for (i = 0; i < io.nr_pages; i++)
		if (io.bvec[i].bv_page)
			zio_page_free_new(io.space, io.bvec[i].bv_page);
	for (i = 0; i < 2; i++)
		if (io.spare[i])
			zio_page_free_new(io.space, io.spare[i]);
out_end:
	zio_io_end(&io);
	return ret;
}
