// SPDX-License-Identifier: GPL-2.0
/*
 * The copy and discard ioctls.
 *
 * A copy works one destination page at a time, backward when the ranges
 * overlap with dst > src and forward otherwise, so that every source page
 * is read before the copy overwrites it (memmove). A whole destination page
 * whose source starts at the same offset in its page takes a share of the
 * source page; one whose source straddles two pages becomes a pending copy
 * of them; a partial page is copied by the kernel. The pages a pending copy
 * reads are shared, so nobody writes them in place until it is done.
 *
 * Forward runs of shares go in batches (zio_copy_share_batch()): one walk
 * of the source slots takes the shares, one walk of the destination slots
 * stores them. Everything the copy replaced is released batch by batch,
 * and the copy zaps the destination once, at the end, before it returns.
 * A source page mapped writable is zapped before its share is taken,
 * never after: GUP could otherwise take a reference through the writable
 * PTE after the check for references, and a store could reach the page
 * that the destination now shares.
 */
#include <linux/highmem.h>
#include <linux/mm_inline.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "copy.h"
#include "file.h"
#include "params.h"
#include "range.h"
#include "records.h"
#include "slot.h"
#include "space.h"
#include "stats.h"
#include "trace.h"

#define ZIO_COPY_BATCH		64

struct zio_copy_ctx {
	struct zio_space *space;
	unsigned long dst_addr, src_addr, len;
	u64 deferred, copied;
	/* destination pages deferred, for the copy record */
	u64 rec_pages;
	pgoff_t rec_first, rec_last;
	unsigned int nr_old;
	bool dzap, dmapped;
	pgoff_t dzap_first, dzap_last;
	/* the destination chunk zio_copy_store() last split, plus one */
	pgoff_t split_chunk;
	u8 *bounce;
	/*
	 * Not zeroed, written before they are read: the translations of both
	 * ranges (zio_extents_init()), what the copy replaced, released batch
	 * by batch before the zap, and the batch's shares.
	 */
	struct zio_extents dst, src;
	void *old[2 * ZIO_COPY_BATCH];
	struct page *batch[ZIO_COPY_BATCH];
};

/*
 * Translate both ranges, take a reference to their space and lock it; on
 * failure, c->space is left NULL.
 */
static int zio_copy_map_and_lock(struct file *file, struct zio_copy_ctx *c)
{
	unsigned int tries;
	int ret;

	for (tries = 0; ; tries++) {
		struct zio_space *space = NULL;

		if (mmap_read_lock_killable(current->mm))
			return -EINTR;
		ret = zio_map_range(file, c->dst_addr, c->len, VM_WRITE, &c->dst,
				    &space);
		/* Both ranges are often in one VMA. */
		c->src.vma = c->dst.vma;
		if (!ret)
			ret = zio_map_range(file, c->src_addr, c->len, VM_READ,
					    &c->src, &space);
		if (ret) {
			mmap_read_unlock(current->mm);
			return ret;
		}
		kref_get(&space->ref);
		ret = zio_space_lock_translated(space, tries);
		if (!ret) {
			c->space = space;
			return 0;
		}
		zio_space_put(space);
		if (ret != -EAGAIN)
			return ret;
		zio_extents_free(&c->dst);
		zio_extents_free(&c->src);
		zio_extents_init(&c->dst);
		zio_extents_init(&c->src);
	}
}

static void zio_note_range(bool *any, pgoff_t *first, pgoff_t *last,
			   pgoff_t pgoff)
{
	if (!*any) {
		*any = true;
		*first = pgoff;
		*last = pgoff;
		return;
	}
	*first = min(*first, pgoff);
	*last = max(*last, pgoff);
}

/* Put @entry into slot @dpg; keep what it replaces for zio_copy_release(). */
static int zio_copy_store(struct zio_copy_ctx *c, pgoff_t dpg, void *entry)
{
	pgoff_t chunk = dpg / ZIO_RUN_PAGES + 1;
	void *old;

	/*
	 * Under the space lock only this copy can put a run into the chunk
	 * again, and only over the whole chunk: never over the page stored
	 * here, nor over one a batch stored (which splits first anyway).
	 */
	if (c->split_chunk != chunk) {
		zio_slot_split_run(c->space, dpg);
		c->split_chunk = chunk;
	}
	if (entry)
		old = xa_store(&c->space->slots, dpg, entry, GFP_KERNEL);
	else
		old = xa_erase(&c->space->slots, dpg);
	if (xa_is_err(old))
		return xa_err(old);
	zio_space_note_slots(c->space, !!entry - !!old);
	c->old[c->nr_old++] = old;
	zio_note_range(&c->dzap, &c->dzap_first, &c->dzap_last, dpg);
	return 0;
}

/* Destination pages [@dpg, @dpg + @n) were deferred. */
static void zio_copy_note_deferred_run(struct zio_copy_ctx *c, pgoff_t dpg,
				       unsigned int n)
{
	if (!n)
		return;
	c->deferred += (u64)n << PAGE_SHIFT;
	if (!c->rec_pages) {
		c->rec_first = dpg;
		c->rec_last = dpg + n - 1;
	}
	c->rec_pages += n;
	c->rec_first = min(c->rec_first, dpg);
	c->rec_last = max(c->rec_last, dpg + n - 1);
}

static void zio_copy_note_deferred(struct zio_copy_ctx *c, pgoff_t dpg)
{
	zio_copy_note_deferred_run(c, dpg, 1);
}

/*
 * Release what the copy replaced so far: see zio_slot_release(). The zap
 * waits for the end of the copy, except in the debug mode that skips the
 * barrier, which zaps first.
 */
static void zio_copy_release(struct zio_copy_ctx *c)
{
	if (ZIO_DEBUG_KNOB(skip_barrier)) {
		if (c->dzap)
			zio_space_zap(c->space, c->dzap_first, c->dzap_last);
		c->dzap = false;
	}
	zio_slot_recycle_entries(c->space, c->old, c->nr_old, &c->dmapped);
	c->nr_old = 0;
}

static void zio_copy_zap(struct zio_copy_ctx *c)
{
	zio_copy_release(c);
	if (c->dzap)
		zio_space_zap_released(c->space, c->dzap_first, c->dzap_last,
				       c->dmapped);
}

/*
 * May a locked source page take a share here, under the xa_lock, where
 * it cannot be zapped? Yes if no PTE can map it writable: none ever did
 * since its last zap, or it is mapped nowhere now (writable PTEs are
 * installed under the page lock, which is ours) and no TLB flush of the
 * process is pending, which a zap would have to wait for.
 */
static bool zio_copy_unmapped_locked(struct zio_copy_ctx *c, struct page *page)
{
	if (!(page_private(page) & ZIO_PAGE_WRITABLE))
		return true;
	if (page_mapped(page))
		return false;
	/* Order the mapcount read before the pending flush count. */
	smp_mb();
	if (mm_tlb_flush_pending(c->space->mm))
		return false;
	set_page_private(page, page_private(page) & ~ZIO_PAGE_WRITABLE);
	return true;
}

/*
 * Put one run into the aligned destination chunk at @dpg: a reference the
 * caller took, or a new run of its shares. What the chunk held (a run, or
 * up to ZIO_RUN_PAGES entries) is kept for zio_copy_release(); the store
 * frees the xarray node that held single entries.
 */
static int zio_copy_store_run(struct zio_copy_ctx *c, pgoff_t dpg,
			      pgoff_t spg, struct zio_run *run)
{
	XA_STATE_ORDER(xas, &c->space->slots, dpg, ZIO_RUN_ORDER);
	long slots;
	void *old;

	do {
		XA_STATE(scan, &c->space->slots, dpg);
		unsigned int nr = 0;

		slots = ZIO_RUN_PAGES;
		xas_lock(&xas);
		old = xas_load(&xas);
		if (zio_entry_is_run(old)) {
			/* A run fills the chunk: no walk of its slots. */
			c->old[c->nr_old + nr++] = old;
			slots = 0;
		} else {
			xas_for_each(&scan, old, dpg + ZIO_RUN_PAGES - 1) {
				c->old[c->nr_old + nr++] = old;
				slots -= zio_entry_slots(old);
			}
		}
		xas_store(&xas, zio_run_entry(run));
		if (!xas_error(&xas))
			c->nr_old += nr;
		xas_unlock(&xas);
	} while (xas_nomem(&xas, GFP_KERNEL));
	if (xas_error(&xas)) {
		bool unused = false;

		zio_run_put(c->space, run, &unused);
		return xas_error(&xas);
	}
	zio_space_note_slots(c->space, slots);
	zio_space_count(c->space, ZIO_EV_COPY_RUNS, 1);
	zio_copy_note_deferred_run(c, dpg, ZIO_RUN_PAGES);
	zio_note_range(&c->dzap, &c->dzap_first, &c->dzap_last, dpg);
	zio_note_range(&c->dzap, &c->dzap_first, &c->dzap_last,
		       dpg + ZIO_RUN_PAGES - 1);
	trace_zio_share(c->space, dpg, spg, ZIO_RUN_PAGES);
	return ZIO_RUN_PAGES;
}

/*
 * The fast path of zio_copy_share(): share up to @n source slots from @spg
 * into destination slots from @dpg, both contiguous. Stops at the first
 * source page it cannot take at once (pending, locked, foreign references,
 * mapped writable: then *@need_zap is set).
 *
 * Whole aligned chunks (@n is ZIO_RUN_PAGES, @dpg and @spg aligned) go as
 * runs: a source run gets one reference more, and a source of single
 * pages, all present and taken, becomes a new run. Else the runs of both
 * ranges are split first.
 *
 * Return: the pages done, or a negative errno.
 */
static int zio_copy_share_batch(struct zio_copy_ctx *c, pgoff_t dpg,
				pgoff_t spg, unsigned int n, bool *need_zap)
{
	XA_STATE(xas, &c->space->slots, spg);
	/* Runs are multi-index entries: without them, one entry a page. */
	bool whole = IS_ENABLED(CONFIG_XARRAY_MULTI) && n == ZIO_RUN_PAGES &&
		     !(dpg % ZIO_RUN_PAGES) && !(spg % ZIO_RUN_PAGES) &&
		     !ZIO_DEBUG_KNOB(no_runs);
	struct zio_run *run = NULL;
	bool holes = false;
	unsigned int i, got;
	long slots = 0;
	void *entry;

	/* A run is made of one batch, and c->old holds what one replaced. */
	BUILD_BUG_ON(ZIO_COPY_BATCH != ZIO_RUN_PAGES);
	if (!whole) {
		zio_slot_split_range(c->space, spg, spg + n - 1);
		zio_slot_split_range(c->space, dpg, dpg + n - 1);
	}
	/*
	 * Under xa_lock no slot changes, so a page locked here is in its
	 * slot: taking the share under that lock is the barrier of the rule.
	 * A run's pages need no lock: they are never mapped writable.
	 */
	xas_lock(&xas);
	entry = xas_load(&xas);
	if (entry && zio_entry_is_run(entry)) {
		run = zio_entry_run(entry);
		refcount_inc(&run->refs);
		xas_unlock(&xas);
		return zio_copy_store_run(c, dpg, spg, run);
	}
	for (i = 0; i < n; i++) {
		struct page *page;

		if (i)
			entry = xas_next(&xas);
		page = entry;
		if (entry && (zio_entry_is_pending(entry) || !trylock_page(page)))
			break;
		if (entry) {
			if (!zio_copy_unmapped_locked(c, page)) {
				unlock_page(page);
				*need_zap = true;
				break;
			}
			if (!zio_page_shareable(page, 0)) {
				unlock_page(page);
				break;
			}
			zio_page_take_share_locked(page);
			unlock_page(page);
		} else {
			holes = true;	/* a run has none */
		}
		c->batch[i] = page;
	}
	xas_unlock(&xas);
	got = i;

	if (whole && got == n && !holes) {
		run = zio_run_create(c->batch);
		if (run)
			return zio_copy_store_run(c, dpg, spg, run);
	}
	if (whole)
		zio_slot_split_run(c->space, dpg);

	xas_set(&xas, dpg);
	i = 0;
	do {
		xas_lock(&xas);
		while (i < got) {
			void *old = xas_store(&xas, c->batch[i]);

			if (xas_error(&xas))
				break;
			slots += !!c->batch[i] - !!old;
			c->old[c->nr_old++] = old;
			if (++i < got)
				xas_next(&xas);
		}
		xas_unlock(&xas);
	} while (xas_nomem(&xas, GFP_KERNEL));
	zio_space_note_slots(c->space, slots);
	zio_copy_note_deferred_run(c, dpg, i);

	if (got)
		zio_note_range(&c->dzap, &c->dzap_first, &c->dzap_last, dpg);
	if (i)
		zio_note_range(&c->dzap, &c->dzap_first, &c->dzap_last, dpg + i - 1);
	trace_zio_share(c->space, dpg, spg, i);
	if (i == got)
		return got;

	/* Out of memory: give back the shares not stored. */
	while (got > i) {
		bool unused = false;

		zio_slot_release(c->batch[--got], &unused);
	}
	return i ? i : -ENOMEM;
}

/*
 * How many whole destination pages from @d0 (slot @dpg) on can go in one
 * batch: the source at the same page offset, both sides in one extent. A
 * batch ends where a destination chunk does, so that the next one can be
 * a whole chunk, a run.
 */
static unsigned int zio_copy_batch_len(struct zio_copy_ctx *c, unsigned long d0,
				       pgoff_t dpg)
{
	unsigned long s0 = c->src_addr + (d0 - c->dst_addr), end;
	unsigned long dend = c->dst_addr + c->len;

	dend = min(dend, zio_map_extent(&c->dst, d0)->end);
	dend = min(dend, d0 + (zio_map_extent(&c->src, s0)->end - s0));
	end = d0 + (ZIO_COPY_BATCH - dpg % ZIO_COPY_BATCH) * PAGE_SIZE;
	end = min(end, dend);
	return (end - d0) >> PAGE_SHIFT;
}

/* A whole destination page, with its source at the same page offset. */
static int zio_copy_share(struct zio_copy_ctx *c, pgoff_t dpg, pgoff_t spg)
{
	bool fallback = false, unused = false;
	struct page *page;
	int ret;

	ret = zio_slot_take_share(c->space, spg, &page, &fallback);
	if (ret)
		return ret;
	ret = zio_copy_store(c, dpg, page);
	if (ret) {
		if (page)
			zio_slot_release(page, &unused);
		return ret;
	}
	trace_zio_share(c->space, dpg, spg, 1);
	if (fallback)
		c->copied += PAGE_SIZE;
	else
		zio_copy_note_deferred(c, dpg);
	return 0;
}

/* A whole destination page whose source straddles two pages. */
static int zio_copy_defer(struct zio_copy_ctx *c, pgoff_t dpg, pgoff_t spg0,
			  pgoff_t spg1, unsigned int offset)
{
	struct zio_pending *pending = NULL;
	bool fallback = false, unused = false;
	struct page *src0, *src1;
	int ret;

	ret = zio_slot_take_share(c->space, spg0, &src0, &fallback);
	if (ret)
		return ret;
	ret = zio_slot_take_share(c->space, spg1, &src1, &fallback);
	if (ret)
		goto out_release_src0;

	if (src0 || src1) {
		ret = -ENOMEM;
		pending = zio_pending_create(src0, src1, offset);
		if (!pending)
			goto out_release_src1;
	}
	ret = zio_copy_store(c, dpg, pending ? zio_pending_entry(pending) : NULL);
	if (ret) {
		if (pending)
			zio_pending_put(pending);	/* drops both shares */
		return ret;
	}
	zio_copy_note_deferred(c, dpg);
	return 0;

out_release_src1:
	zio_slot_release(src1, &unused);
out_release_src0:
	zio_slot_release(src0, &unused);
	return ret;
}

/* Part of a destination page: copy the bytes, through a bounce buffer. */
static int zio_copy_bytes(struct zio_copy_ctx *c, unsigned long d0,
			  unsigned long d1)
{
	unsigned long s0 = c->src_addr + (d0 - c->dst_addr), len = d1 - d0, done;
	struct page *page;
	void *kaddr;
	int ret;

	if (!c->bounce) {
		c->bounce = kmalloc(PAGE_SIZE, GFP_KERNEL);
		if (!c->bounce)
			return -ENOMEM;
	}
	for (done = 0; done < len; ) {
		unsigned long s = s0 + done;
		unsigned long n = min(len - done, PAGE_SIZE - offset_in_page(s));

		ret = zio_slot_get_page(c->space, zio_map_pgoff(&c->src, s), &page);
		if (ret)
			return ret;
		if (page) {
			kaddr = kmap_local_page(page);
			memcpy(c->bounce + done, kaddr + offset_in_page(s), n);
			kunmap_local(kaddr);
			put_page(page);
		} else {
			memset(c->bounce + done, 0, n);
		}
		done += n;
	}

	ret = zio_slot_get_exclusive(c->space, zio_map_pgoff(&c->dst, d0), &page);
	if (ret)
		return ret;
	kaddr = kmap_local_page(page);
	memcpy(kaddr + offset_in_page(d0), c->bounce, len);
	kunmap_local(kaddr);
	flush_dcache_page(page);
	put_page(page);
	c->copied += len;
	return 0;
}

/* One destination page, or the part of it in the range: [d0, d1). */
static int zio_copy_page(struct zio_copy_ctx *c, unsigned long d0,
			 unsigned long d1)
{
	unsigned long s0 = c->src_addr + (d0 - c->dst_addr);
	pgoff_t dpg;

	if (d1 - d0 < PAGE_SIZE)
		return zio_copy_bytes(c, d0, d1);

	dpg = zio_map_pgoff(&c->dst, d0);
	if (!offset_in_page(s0))
		return zio_copy_share(c, dpg, zio_map_pgoff(&c->src, s0));
	return zio_copy_defer(c, dpg, zio_map_pgoff(&c->src, s0),
			      zio_map_pgoff(&c->src, (s0 & PAGE_MASK) + PAGE_SIZE),
			      offset_in_page(s0));
}

/* Copy in memmove order; stop early on a signal or an error. */
static int zio_copy_run(struct zio_copy_ctx *c)
{
	unsigned long first = c->dst_addr & PAGE_MASK;
	unsigned long last = (c->dst_addr + c->len - 1) & PAGE_MASK;
	unsigned long end = c->dst_addr + c->len, page, next_check;
	bool forward = c->dst_addr <= c->src_addr ||
		       c->dst_addr >= c->src_addr + c->len;
	bool aligned = !offset_in_page(c->src_addr - c->dst_addr);
	int ret = 0, done;

	page = forward ? first : last;
	next_check = ZIO_COPY_BATCH;
	for (;;) {
		unsigned long d0 = max(page, c->dst_addr);
		unsigned long d1 = min(page + PAGE_SIZE, end);
		unsigned int n = 1;

		if (c->nr_old >= ZIO_COPY_BATCH)
			zio_copy_release(c);
		done = 0;
		if (forward && aligned && d1 - d0 == PAGE_SIZE) {
			unsigned long s0 = c->src_addr + (d0 - c->dst_addr);
			pgoff_t dpg = zio_map_pgoff(&c->dst, d0);
			pgoff_t spg = zio_map_pgoff(&c->src, s0);
			bool need_zap = false;

			n = zio_copy_batch_len(c, d0, dpg);
			done = zio_copy_share_batch(c, dpg, spg, n, &need_zap);
			if (!done && need_zap) {
				/* Source pages mapped writable: once for the run. */
				zio_space_zap(c->space, spg, spg + n - 1);
				done = zio_copy_share_batch(c, dpg, spg, n,
							    &need_zap);
			}
			if (done < 0) {
				ret = done;
				break;
			}
		}
		if (!done) {
			ret = zio_copy_page(c, d0, d1);
			if (ret)
				break;
			done = 1;
		}
		if (forward ? page + done * PAGE_SIZE > last : page == first)
			break;
		page = forward ? page + done * PAGE_SIZE : page - PAGE_SIZE;
		if (!--next_check || done > 1) {
			next_check = ZIO_COPY_BATCH;
			if (signal_pending(current))
				break;
			cond_resched();
		}
	}
	zio_copy_zap(c);
	return ret;
}

/*
 * A context, from the open's spare if it has one: a context is larger than
 * the rest of a copy of runs needs, and allocating it, zeroed under
 * init_on_alloc, and freeing it cost a seventh of such a copy. The spare
 * stays charged to the memory cgroup of whoever allocated it.
 */
static struct zio_copy_ctx *zio_copy_ctx_get(struct zio_file *zfile)
{
	struct zio_copy_ctx *c = xchg(&zfile->copy_ctx, NULL);

	return c ? c : kmalloc(sizeof(*c), GFP_KERNEL_ACCOUNT);
}

/* Keep @c as the open's spare, unless another copy left one first. */
static void zio_copy_ctx_put(struct zio_file *zfile, struct zio_copy_ctx *c)
{
	if (cmpxchg(&zfile->copy_ctx, NULL, c))
		kfree(c);
}

/**
 * zio_ioctl_copy() - ZIO_IOC_COPY: record a copy between zio mappings
 * @file: the open the mappings belong to
 * @args: the argument, copied in; its output fields are filled in
 *
 * Return: 0 when anything was copied (maybe short, see the uapi), or a
 * negative errno when nothing was.
 */
long zio_ioctl_copy(struct file *file, struct zio_copy *args)
{
	struct zio_copy_ctx *c;
	int ret;

	if (args->flags || args->reserved)
		return -EINVAL;
	if (args->dst + args->len < args->dst || args->src + args->len < args->src)
		return -EOVERFLOW;
	if (!READ_ONCE(zio_enabled))
		return -EOPNOTSUPP;

	args->bytes_deferred = 0;
	args->bytes_copied = 0;
	if (!args->len)
		return 0;

	c = zio_copy_ctx_get(file->private_data);
	if (!c)
		return -ENOMEM;
	memset(c, 0, offsetof(struct zio_copy_ctx, dst));
	c->dst_addr = args->dst;
	c->src_addr = args->src;
	c->len = args->len;
	zio_extents_init(&c->dst);
	zio_extents_init(&c->src);

	ret = zio_copy_map_and_lock(file, c);
	if (ret)
		goto out_free_ctx;
	ret = zio_copy_run(c);
	if (c->rec_pages)
		zio_records_add(c->space, args->tag, args->dst, args->len,
				c->rec_pages, c->rec_first, c->rec_last);
	mutex_unlock(&c->space->lock);

	if (c->deferred || c->copied) {
		ret = 0;
		zio_space_count(c->space, ZIO_EV_COPIES, 1);
		zio_space_count(c->space, ZIO_EV_BYTES_DEFERRED, c->deferred);
		zio_space_count(c->space, ZIO_EV_BYTES_COPIED, c->copied);
	} else if (!ret) {
		ret = -EINTR;
	}
	args->bytes_deferred = c->deferred;
	args->bytes_copied = c->copied;
	trace_zio_copy(c->space, args->dst, args->src, args->len, c->deferred,
		       c->copied, ret);
	zio_space_put(c->space);
out_free_ctx:
	zio_extents_free(&c->dst);
	zio_extents_free(&c->src);
	kfree(c->bounce);
	zio_copy_ctx_put(file->private_data, c);
	return ret;
}

/**
 * zio_copy_ctx_free() - free the copy context an open keeps
 * @zfile: the open, on its release
 */
void zio_copy_ctx_free(struct zio_file *zfile)
{
	kfree(zfile->copy_ctx);
}

/**
 * zio_ioctl_discard() - ZIO_IOC_DISCARD: empty the slots of a range
 * @file: the open the mapping belongs to
 * @args: the argument, copied in
 *
 * Return: 0 or a negative errno.
 */
long zio_ioctl_discard(struct file *file, const struct zio_range *args)
{
	struct zio_space *space = NULL;
	struct zio_extents map;
	unsigned int i, tries;
	int ret;

	if (args->flags || args->reserved)
		return -EINVAL;
	if (offset_in_page(args->addr) || offset_in_page(args->len))
		return -EINVAL;
	if (args->addr + args->len < args->addr)
		return -EOVERFLOW;
	if (!args->len)
		return 0;

	/*
	 * On the stack: a discard gives memory back, under pressure too.
	 * Only a range over more than ZIO_INLINE_EXTENTS mappings allocates.
	 */
	zio_extents_init(&map);
	for (tries = 0; ; tries++) {
		space = NULL;
		if (mmap_read_lock_killable(current->mm)) {
			ret = -EINTR;
			goto out_free_map;
		}
		ret = zio_map_range(file, args->addr, args->len, VM_WRITE, &map,
				    &space);
		if (ret) {
			mmap_read_unlock(current->mm);
			goto out_free_map;
		}
		kref_get(&space->ref);
		ret = zio_space_lock_translated(space, tries);
		if (ret != -EAGAIN)
			break;
		zio_space_put(space);
		zio_extents_free(&map);
		zio_extents_init(&map);
	}
	if (ret)
		goto out_put_space;

	for (i = 0; i < map.nr; i++) {
		struct zio_extent *ext = &map.ext[i];

		zio_slot_discard(space, ext->pgoff, ext->pgoff +
				 ((ext->end - ext->start) >> PAGE_SHIFT) - 1);
	}
	mutex_unlock(&space->lock);
out_put_space:
	zio_space_put(space);
out_free_map:
	zio_extents_free(&map);
	return ret;
}
