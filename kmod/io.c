// SPDX-License-Identifier: GPL-2.0
/*
 * I/O between zio buffers and file descriptors, straight from and into the
 * pages of the slots.
 *
 * ZIO_IOC_WRITE hands the file a bvec iterator over the pages that hold the
 * buffer's bytes: for a pending copy, the parts of its source pages, so
 * that the copy is never done; no fault is taken, and untouched
 * destination pages are never mapped. TCP gets pages by reference: the
 * buffer's own, or the space's send frags that their bytes are copied
 * into. ZIO_IOC_READ receives into
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
#include <net/tcp.h>

#include "compat.h"
#include "frag.h"
#include "io.h"
#include "params.h"
#include "range.h"
#include "records.h"
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
	/*
	 * ZIO_IOC_READ: a page per page it reads into, which may be fewer
	 * than the buffer's (zio_io_size_recv()). ZIO_IOC_WRITE: the
	 * segments that hold its bytes, up to two per page (@nr_segs), and
	 * whether TCP may have each by reference (@lend, enum zio_io_lend);
	 * @nr_pending of its pages are pending copies.
	 */
	struct bio_vec *bvec;
	unsigned int nr_pages;
	unsigned int nr_segs;
	unsigned int nr_pending;
	u8 *lend;
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

/* Check the arguments, take the file and the space. */
static int zio_io_start(struct file *zfile, const struct zio_io *in,
			unsigned long vm_flags, unsigned int msg_mask,
			struct zio_io_ctx *io)
{
	struct zio_io *args = &io->args;
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
	return ret;
}

/* Size the bvec for the pages of the (non-empty) range the I/O moves. */
static int zio_io_alloc_bvec(struct zio_io_ctx *io, unsigned int segs_per_page)
{
	unsigned long first = io->args.addr >> PAGE_SHIFT;
	unsigned long last = (io->args.addr + io->args.len - 1) >> PAGE_SHIFT;

	io->nr_pages = last - first + 1;
	io->bvec = kvcalloc(segs_per_page * io->nr_pages, sizeof(*io->bvec),
			    GFP_KERNEL_ACCOUNT);
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

static bool zio_sock_is_tcp(struct socket *sock)
{
	return sock && sock->sk && sock->type == SOCK_STREAM &&
	       sock->sk->sk_protocol == IPPROTO_TCP;
}

/*
 * TCP sends pages themselves: the receiver's socket, or the retransmit
 * queue, then holds them until the bytes are consumed, and send() promised
 * the program that its buffer is free again. So a page goes by reference
 * only when no PTE maps it writable (ZIO_PAGE_WRITABLE clear), and it is
 * marked ZIO_PAGE_LENT under the same page lock: zio never writes a lent
 * page in place again (zio_page_exclusive()), and the program's next write
 * to it copies it. The peer cannot map the page either: its page->mapping
 * makes a zerocopy receive copy the bytes. What goes by reference is what
 * zio deferred and what ZIO_IOC_READ received, untouched since: shared
 * pages, and for a pending copy, the parts of its source pages it would
 * copy.
 *
 * A page the program maps writable (it wrote it, and is likely to write
 * it again: a reused buffer, which by reference would cost a copy-on-write
 * fault per page), or an empty slot, is copied into the space's send
 * frags (frag.c) instead, which TCP takes by reference: that is the copy
 * TCP would have made, without the frags it allocates and zeroes send
 * after send.
 */
static bool zio_io_tcp(struct zio_io_ctx *io, struct socket *sock)
{
	return zio_sock_is_tcp(sock) &&
	       !(io->args.msg_flags & (MSG_OOB | ZIO_SEND_PAGES_IGNORES));
}

/**
 * zio_io_lend_page() - may TCP have @page itself? If so, it is marked lent
 * @page: the page
 * @own_refs: references the caller holds beyond the shares and mappings
 *
 * A page is lent for the first time only when nobody zio cannot see holds
 * it (an O_DIRECT read in flight, a pin): from then on, everyone who takes
 * a reference to it only reads it, and so it may be shared with more
 * slots while sockets hold it (zio_page_shareable()).
 *
 * Return: true if the page is lent.
 */
static bool zio_io_lend_page(struct page *page, int own_refs)
{
	unsigned long private;
	bool lend;

	/*
	 * Zeros and pages mapped writable were left out when collected
	 * (zio_io_add_seg()). A page whose last share went since is nobody's:
	 * a stale PTE may still write it, and nothing keeps a peer from
	 * mapping it. Its bytes are copied.
	 */
	lock_page(page);
	private = page_private(page);
	lend = !(private & ZIO_PAGE_WRITABLE) && zio_page_shares(page) &&
	       (private & ZIO_PAGE_LENT || !zio_page_foreign_refs(page, own_refs));
	if (lend)
		set_page_private(page, private | ZIO_PAGE_LENT);
	unlock_page(page);
	return lend;
}

/*
 * Whether TCP may have a segment of a write by reference: decided when a
 * part of the send takes the segment (zio_io_part()), so that pages a
 * short send never reached are not marked lent. Until then, the
 * references the write holds to the page beyond its shares and mappings.
 */
enum zio_io_lend {
	ZIO_IO_LEND_OWN_0,	/* a pending copy's source page */
	ZIO_IO_LEND_OWN_1,	/* a slot's page, held by the write */
	ZIO_IO_LEND_NO,		/* copied: zeros, or not lendable */
	ZIO_IO_LEND_YES,	/* lent */
};

/* Is segment @i of a write lent? Decided at the first question. */
static bool zio_io_seg_lent(struct zio_io_ctx *io, unsigned int i)
{
	u8 *lend = &io->lend[i];

	if (*lend <= ZIO_IO_LEND_OWN_1)
		*lend = zio_io_lend_page(io->bvec[i].bv_page, *lend) ?
			ZIO_IO_LEND_YES : ZIO_IO_LEND_NO;
	return *lend == ZIO_IO_LEND_YES;
}

/*
 * Append @len bytes of @page at @offset to the segments of a write; to
 * the last segment when they continue it.
 */
static void zio_io_add_seg(struct zio_io_ctx *io, struct page *page,
			   unsigned int offset, unsigned int len,
			   enum zio_io_lend lend)
{
	struct bio_vec *last = io->nr_segs ? &io->bvec[io->nr_segs - 1] : NULL;

	if (!len)
		return;
	if (last && last->bv_page == page &&
	    last->bv_offset + last->bv_len == offset) {
		last->bv_len += len;
		return;
	}
	/* An unlocked look first: copying is always right. */
	if (READ_ONCE(page->private) & ZIO_PAGE_WRITABLE)
		lend = ZIO_IO_LEND_NO;
	io->lend[io->nr_segs] = lend;
	io->bvec[io->nr_segs++] = (struct bio_vec){
		.bv_page = page, .bv_offset = offset, .bv_len = len,
	};
}

/*
 * The segments of the bytes [@offset, @offset + @len) of a page of the
 * buffer, whose slot holds @entry: the page, the parts of a pending
 * copy's source pages the copy would take (which its shares keep from
 * being written in place), or zeros.
 */
static void zio_io_add_page(struct zio_io_ctx *io, void *entry,
			    unsigned int offset, unsigned int len)
{
	struct zio_pending *pending;
	unsigned int head, from;

	if (!entry) {
		zio_io_add_seg(io, ZERO_PAGE(0), offset, len, ZIO_IO_LEND_NO);
		return;
	}
	if (!zio_entry_is_pending(entry)) {
		zio_io_add_seg(io, entry, offset, len, ZIO_IO_LEND_OWN_1);
		return;
	}
	pending = zio_entry_pending(entry);
	io->nr_pending++;
	/* The first @head bytes of the page come from src[0]. */
	head = PAGE_SIZE - pending->offset;
	if (offset < head)
		zio_io_add_seg(io, pending->src[0] ?: ZERO_PAGE(0),
			       pending->offset + offset, min(len, head - offset),
			       pending->src[0] ? ZIO_IO_LEND_OWN_0 : ZIO_IO_LEND_NO);
	if (offset + len > head) {
		from = max(offset, head) - head;
		zio_io_add_seg(io, pending->src[1] ?: ZERO_PAGE(0), from,
			       offset + len - head - from,
			       pending->src[1] ? ZIO_IO_LEND_OWN_0 : ZIO_IO_LEND_NO);
	}
}

/* Move the cursor (@seg, @off) of the write's segments on by @n bytes. */
static void zio_io_seg_advance(struct zio_io_ctx *io, unsigned int *seg,
			       unsigned int *off, size_t n)
{
	while (n) {
		unsigned int step = min_t(size_t, n, io->bvec[*seg].bv_len - *off);

		n -= step;
		*off += step;
		if (*off == io->bvec[*seg].bv_len) {
			(*seg)++;
			*off = 0;
		}
	}
}

/* The segments of one part of a send to TCP (zio_io_part()), at most. */
#define ZIO_IO_PART_SEGS	512

/*
 * One part of a send to TCP, from the cursor (@seg, @off) on: the segments
 * TCP may have by reference as they are (zio_io_seg_lent()), the others
 * copied into send frags, at most @budget bytes of them; a nonblocking
 * send that comes back short would have copied the rest in vain. Fills
 * @out (@max_out), each segment with a reference
 * (zio_frags_put()), sets *@size to the bytes of the part and moves the
 * cursor past them. Returns the segments filled, or -ENOMEM when a frag
 * could not be had, with nothing filled and the cursor where it was.
 */
static int zio_io_part(struct zio_io_ctx *io, unsigned int *seg,
		       unsigned int *off, size_t budget, struct bio_vec *out,
		       unsigned int max_out, size_t *size)
{
	unsigned int i = *seg, o = *off, nr = 0;
	struct iov_iter from;
	size_t run, bytes;
	int ret;

	*size = 0;
	while (i < io->nr_segs && nr < max_out) {
		struct bio_vec *s = &io->bvec[i];
		unsigned int j;

		if (zio_io_seg_lent(io, i)) {
			get_page(s->bv_page);
			out[nr++] = (struct bio_vec){
				.bv_page = s->bv_page,
				.bv_offset = s->bv_offset + o,
				.bv_len = s->bv_len - o,
			};
			*size += s->bv_len - o;
			i++;
			o = 0;
			continue;
		}
		/* Frags are a page at least: a frag a page, and a partial one. */
		budget = min_t(size_t, budget,
			       (max_out - nr - 1) * PAGE_SIZE);
		if (!budget)
			break;
		/* The run of segments to copy, as much as the budget allows. */
		bytes = s->bv_len - o;
		for (j = i + 1; j < io->nr_segs && bytes < budget &&
		     !zio_io_seg_lent(io, j); j++)
			bytes += io->bvec[j].bv_len;
		run = min(bytes, budget);
		iov_iter_bvec(&from, ITER_SOURCE, s, j - i, bytes + o);
		iov_iter_advance(&from, o);
		iov_iter_truncate(&from, run);
		ret = zio_frags_copy(io->space, &from, out + nr,
				     max_out - nr);
		if (ret < 0) {
			zio_frags_put(out, nr);
			*size = 0;
			return ret;
		}
		nr += ret;
		budget -= run;
		*size += run;
		zio_io_seg_advance(io, &i, &o, run);
	}
	*seg = i;
	*off = o;
	return nr;
}

/*
 * Send the write's segments to TCP, a part at a time (zio_io_part()).
 * Where no frag can be had, the rest goes as the socket copies it. A
 * blocking send waits for room up to the socket's send timeout for each
 * part. Returns what send() would.
 */
static ssize_t zio_io_send_tcp(struct zio_io_ctx *io, struct socket *sock)
{
	unsigned int seg = 0, off = 0, max_out;
	int flags = zio_io_sock_flags(io);
	size_t left = io->args.len, done = 0, size;
	struct iov_iter iter;
	struct bio_vec *out;
	ssize_t sent = 0;
	bool no_frag;
	int nr;

	/* Room for the whole write in one part, unless frags are single pages. */
	max_out = min(io->nr_segs + io->nr_pages + 2, ZIO_IO_PART_SEGS);
	out = kmalloc_array(max_out, sizeof(*out), GFP_KERNEL_ACCOUNT);
	no_frag = !out;
	while (left && !no_frag) {
		int room = sk_stream_wspace(sock->sk);

		nr = zio_io_part(io, &seg, &off, max(room, SZ_64K), out,
				 max_out, &size);
		if (nr < 0) {
			no_frag = true;
			break;
		}
		/* The end of record is the last part's. */
		sent = zio_sock_send_pages(sock, out, nr, size,
					   left > size ? flags & ~MSG_EOR : flags);
		zio_frags_put(out, nr);
		if (sent <= 0)
			break;
		done += sent;
		left -= sent;
		if (sent < size)
			break;
		/* A later part that fails says nothing of the bytes sent. */
		flags |= MSG_NOSIGNAL;
	}
	kfree(out);

	if (no_frag) {
		/* The rest as the socket copies it. */
		iov_iter_bvec(&iter, ITER_SOURCE, io->bvec + seg,
			      io->nr_segs - seg, left + off);
		iov_iter_advance(&iter, off);
		sent = zio_io_sock_transfer(sock, &iter, flags, true);
		if (sent > 0)
			done += sent;
	}
	return done ? done : sent;
}

/*
 * The pending pages of the first @sent bytes were used: their copy records
 * are charged for them as for materialized pages, though none was copied.
 * A deferred copy pays off for the pages nobody reads, and the library's
 * policy judges a call site's copies by that.
 */
static void zio_io_charge_pending(struct zio_io_ctx *io, void **held,
				  size_t sent)
{
	unsigned int i, offset, len;
	unsigned long addr;

	for (i = 0; i < io->nr_pages; i++) {
		zio_io_page_part(io, i, &addr, &offset, &len);
		if (addr - io->args.addr >= sent)
			break;
		if (held[i] && zio_entry_is_pending(held[i]) &&
		    zio_pending_charge(zio_entry_pending(held[i])))
			zio_records_note_materialized(io->space,
						      zio_map_pgoff(&io->map, addr));
	}
}

/* Load and hold the entry of each page's slot, an extent at a time. */
static void zio_io_load_slots(struct zio_io_ctx *io, void **held)
{
	unsigned long first = io->args.addr >> PAGE_SHIFT;
	unsigned int i;

	for (i = 0; i < io->map.nr; i++) {
		const struct zio_extent *ext = &io->map.ext[i];
		unsigned long start = ext->start >> PAGE_SHIFT;

		zio_slot_load_range(io->space, ext->pgoff,
				    ((ext->end - 1) >> PAGE_SHIFT) - start + 1,
				    held + (start - first));
	}
}

/**
 * zio_ioctl_write() - ZIO_IOC_WRITE: write a zio buffer to a file descriptor
 * @zfile: the open the buffer's mappings belong to
 * @args: the argument, copied in
 *
 * Pending copies are not done: their source pages hold the bytes. Each
 * slot's entry is held until the write is done, so that the pages stay
 * what they were when they were collected: a page by its reference, a
 * pending copy's source pages by the shares it holds, even when the
 * slot changes meanwhile.
 *
 * Return: bytes written, or a negative errno, as write() or send().
 */
long zio_ioctl_write(struct file *zfile, const struct zio_io *args)
{
	struct zio_io_ctx io = {};
	struct socket *sock;
	struct iov_iter iter;
	void **held;
	unsigned int i;
	ssize_t ret;

	ret = zio_io_start(zfile, args, VM_READ, ZIO_SEND_FLAGS, &io);
	if (ret || !io.args.len)
		goto out_end;
	/* A pending copy's page is two segments at most. */
	ret = zio_io_alloc_bvec(&io, 2);
	if (ret)
		goto out_end;
	/* The slots' entries, then how to send each segment (io.lend). */
	held = kvmalloc(io.nr_pages * sizeof(*held) + io.nr_pages * 2,
			GFP_KERNEL_ACCOUNT);
	if (!held) {
		ret = -ENOMEM;
		goto out_end;
	}
	io.lend = (u8 *)(held + io.nr_pages);

	zio_io_load_slots(&io, held);
	for (i = 0; i < io.nr_pages; i++) {
		unsigned long addr;
		unsigned int offset, len;

		zio_io_page_part(&io, i, &addr, &offset, &len);
		zio_io_add_page(&io, held[i], offset, len);
	}

	sock = sock_from_file(io.file);
	if (zio_io_tcp(&io, sock)) {
		ret = zio_io_send_tcp(&io, sock);
	} else {
		iov_iter_bvec(&iter, ITER_SOURCE, io.bvec, io.nr_segs,
			      io.args.len);
		ret = zio_io_transfer(&io, &iter, true);
	}
	trace_zio_io(io.space, true, io.args.fd, io.args.addr, io.args.len, ret);
	if (ret > 0) {
		zio_space_count(io.space, ZIO_EV_IO_WRITTEN, ret);
		if (io.nr_pending)
			zio_io_charge_pending(&io, held, ret);
	}

	for (i = 0; i < io.nr_pages; i++)
		zio_entry_put(held[i]);
	kvfree(held);
out_end:
	zio_io_end(&io);
	return ret;
}

/* Whole pages zio_io_install() puts into their slots in one walk, at most. */
#define ZIO_IO_RUN_PAGES	32

/*
 * How many pages from page @i on, a whole page each, of the first @done
 * bytes of a read, lie in one extent: at most ZIO_IO_RUN_PAGES, and none
 * at or past the debug limit on installed pages.
 */
static unsigned int zio_io_whole_run(struct zio_io_ctx *io, unsigned int i,
				     size_t done)
{
	unsigned long addr = (io->args.addr & PAGE_MASK) + i * PAGE_SIZE;
	unsigned long end = min(zio_map_extent(&io->map, addr)->end,
				io->args.addr + done);
	unsigned int n = 0, limit = ZIO_DEBUG_KNOB(io_install_pages);

	while (n < ZIO_IO_RUN_PAGES && addr + PAGE_SIZE <= end &&
	       !(limit && i + n == limit)) {
		addr += PAGE_SIZE;
		n++;
	}
	return n;
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
	void *swap[ZIO_IO_RUN_PAGES];
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
	while (i < io->nr_pages) {
		struct page *fresh = io->bvec[i].bv_page, *page;
		unsigned long addr;
		unsigned int offset, len, want, n, k;
		pgoff_t pgoff;
		void *kaddr, *from;

		zio_io_page_part(io, i, &addr, &offset, &len);
		if (addr - io->args.addr >= done)
			break;
		if (unlikely(ZIO_DEBUG_KNOB(io_install_pages) &&
			     i == ZIO_DEBUG_KNOB(io_install_pages)))
			break;
		len = min_t(size_t, len, done - (addr - io->args.addr));
		pgoff = zio_map_pgoff(&io->map, addr);

		if (len == PAGE_SIZE) {
			want = zio_io_whole_run(io, i, done);
			for (k = 0; k < want; k++)
				swap[k] = io->bvec[i + k].bv_page;
			n = zio_slot_swap_run(space, pgoff, want, swap);
			for (k = 0; k < n; k++)
				io->bvec[i + k].bv_page = NULL;	/* the slot has it */
			zio_slot_recycle_entries(space, swap, n, &mapped);
			if (n) {
				first = min(first, pgoff);
				last = max(last, pgoff + n - 1);
				placed += n * PAGE_SIZE;
			}
			if (!n || n < want)
				break;
			i += n;
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
		i++;
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

/* What a TCP read takes when its socket holds no bytes yet. */
#define ZIO_IO_RECV_CHUNK	SZ_64K

/*
 * A read gets a fresh page for every page of its buffer before it knows
 * how much will come, and frees those nothing filled. TCP gives what its
 * socket holds and waits only while it holds nothing: size a TCP read by
 * the bytes queued, or ZIO_IO_RECV_CHUNK when there are none, rounded up
 * to the buffer's next page boundary, and never below SO_RCVLOWAT. Bytes
 * that come meanwhile wait for the next read, as after any short read;
 * MSG_WAITALL keeps the whole buffer. The count is read without the
 * socket lock, as poll() does: it is a hint.
 */
static void zio_io_size_recv(struct zio_io_ctx *io)
{
	struct socket *sock = io->sock ?: sock_from_file(io->file);
	struct zio_io *args = &io->args;
	const struct tcp_sock *tp;
	u64 want, end;
	int queued;

	if (!zio_sock_is_tcp(sock) || (args->msg_flags & (MSG_WAITALL | MSG_OOB)))
		return;
	tp = tcp_sk(sock->sk);
	/* Repair mode's MSG_PEEK may read the send queue. */
	if (tp->repair)
		return;
	queued = READ_ONCE(tp->rcv_nxt) - READ_ONCE(tp->copied_seq);
	want = max_t(s64, max(queued, READ_ONCE(sock->sk->sk_rcvlowat)),
		     ZIO_IO_RECV_CHUNK);
	if (want >= args->len)
		return;
	end = round_up(args->addr + want, PAGE_SIZE);
	if (end - args->addr >= args->len)
		return;
	args->len = end - args->addr;
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
	zio_io_size_recv(&io);
	ret = zio_io_alloc_bvec(&io, 1);
	if (ret)
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
	trace_zio_io(io.space, false, io.args.fd, io.args.addr, args->len, ret);
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
