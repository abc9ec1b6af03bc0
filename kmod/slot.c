// SPDX-License-Identifier: GPL-2.0
/*
 * Pages, pending copies and the slots that hold them.
 *
 * A slot counts as one of its page's shares (page->private); zio holds one
 * page reference for all the shares of a page. Shares change under the page
 * lock only, which is what makes the lock a barrier against faults
 * installing the page.
 *
 * While zio holds a page, page->mapping points to the address_space of its
 * open, as if the page were in its page cache (it is not): the core mm
 * then treats it as a file page it must not hand out, and in particular a
 * TCP peer's zerocopy receive (can_map_frag()) copies the bytes of such a
 * page instead of mapping it into the peer. zio clears page->mapping when
 * its last share goes, before it puts its reference.
 */
#include <linux/delay.h>
#include <linux/highmem.h>
#include <linux/memcontrol.h>
#include <linux/mm_inline.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "compat.h"
#include "file.h"
#include "params.h"
#include "records.h"
#include "slot.h"
#include "space.h"
#include "stats.h"
#include "trace.h"

/**
 * zio_space_zap() - remove the PTEs of a range of slots
 * @space: the space
 * @first: the first slot
 * @last: the last slot
 *
 * Reaches every mapping of the open at those offsets: the space's own, and
 * those of fork relatives, which merely fault again.
 */
void zio_space_zap(struct zio_space *space, pgoff_t first, pgoff_t last)
{
	unmap_mapping_range(space->zfile->inode->i_mapping,
			    (loff_t)first << PAGE_SHIFT,
			    (loff_t)(last - first + 1) << PAGE_SHIFT, 0);
}

/**
 * zio_space_zap_released() - zap slots whose pages zio released
 * @space: the space
 * @first: the first slot
 * @last: the last slot
 * @mapped: whether a released page was still mapped (zio_slot_release())
 *
 * A page that is no longer mapped may still be in a TLB: MADV_DONTNEED and
 * munmap clear PTEs first and flush later, with a TLB flush pending on the
 * mm meanwhile. A zap of ours that overlaps theirs forces that flush before
 * it returns, so the zap is skipped only when no page was mapped and no
 * flush is pending.
 */
void zio_space_zap_released(struct zio_space *space, pgoff_t first,
			    pgoff_t last, bool mapped)
{
	/* Order the mapcount reads before the pending flush count. */
	smp_mb();
	if (mapped || mm_tlb_flush_pending(space->mm))
		zio_space_zap(space, first, last);
}

/*
 * The pool: pages a space let go of, kept for its next allocations. A page
 * allocated under init_on_alloc is zeroed first, which costs more than
 * most of what zio does with it; a read's fresh pages are written whole
 * before any slot takes them, so they need no zeros.
 *
 * A page enters the pool only with its last share gone and no reference
 * but zio's: nothing maps it (a PTE holds a reference, dropped only after
 * the TLB flush), pins it, or sends it, and no slot or pending copy can
 * reach it. It holds bytes of the space's own slots, or of a fork
 * relative's from before the fork. Whoever takes it writes it whole, or
 * zeroes it (__GFP_ZERO), before a slot holds it.
 */
static struct page *zio_pool_take(struct zio_space *space)
{
	struct page *page = NULL;

	if (!READ_ONCE(space->nr_pool))
		return NULL;
	spin_lock(&space->pool_lock);
	if (space->nr_pool) {
		page = space->pool[space->nr_pool - 1];
		WRITE_ONCE(space->nr_pool, space->nr_pool - 1);
		atomic64_dec(&zio_nr_pooled);
	}
	spin_unlock(&space->pool_lock);
	/* Memory failure may have struck it in the pool. */
	if (page && PageHWPoison(page)) {
		put_page(page);
		return NULL;
	}
	return page;
}

/*
 * Keep pages zio let go of, and put the others: nothing is kept while the
 * pages zio holds and keeps reach max_pages, nor past ZIO_POOL_PAGES, and
 * a poisoned page, or one somebody else still holds, is not kept. One
 * lock for the lot. @pages is scratch: its order is lost.
 */
static void zio_pool_keep_pages(struct zio_space *space, struct page **pages,
				unsigned int n)
{
	unsigned int i, kept = 0, freed = 0;
	s64 room = 0;

	if (!n)
		return;
	if (space)
		room = READ_ONCE(zio_max_pages) - atomic64_read(&zio_nr_pages) -
		       atomic64_read(&zio_nr_pooled);
	if (room > 0) {
		spin_lock(&space->pool_lock);
		room = min_t(s64, room, ZIO_POOL_PAGES - space->nr_pool);
		for (i = 0; i < n; i++) {
			struct page *page = pages[i];

			if (kept < room && page_ref_count(page) == 1 &&
			    !PageHWPoison(page))
				space->pool[space->nr_pool + kept++] = page;
			else
				pages[freed++] = page;
		}
		WRITE_ONCE(space->nr_pool, space->nr_pool + kept);
		/* In the lock: a take of these pages must not count first. */
		atomic64_add(kept, &zio_nr_pooled);
		spin_unlock(&space->pool_lock);
	} else {
		freed = n;
	}
	for (i = 0; i < freed; i++)
		put_page(pages[i]);
}

/**
 * zio_pool_shrink() - free some of the pages a space keeps
 * @space: the space
 * @nr: free at most this many (ULONG_MAX: all, for a space on its way out)
 *
 * Return: the pages freed.
 */
unsigned long zio_pool_shrink(struct zio_space *space, unsigned long nr)
{
	struct page *batch[16];
	unsigned long n = 0;
	unsigned int i, k;

	while (n < nr) {
		spin_lock(&space->pool_lock);
		k = min_t(unsigned long, nr - n,
			  min_t(unsigned int, space->nr_pool, ARRAY_SIZE(batch)));
		for (i = 0; i < k; i++)
			batch[i] = space->pool[space->nr_pool - 1 - i];
		WRITE_ONCE(space->nr_pool, space->nr_pool - k);
		atomic64_sub(k, &zio_nr_pooled);
		spin_unlock(&space->pool_lock);
		if (!k)
			break;
		for (i = 0; i < k; i++)
			put_page(batch[i]);
		n += k;
	}
	return n;
}

/**
 * zio_page_alloc() - allocate a page for a slot, charged to the space's memcg
 * @space: the space the page is for
 * @gfp: GFP_HIGHUSER, plus __GFP_ZERO when the page is not filled at once
 *
 * Return: the page with one share and zio's reference, or NULL.
 */
struct page *zio_page_alloc(struct zio_space *space, gfp_t gfp)
{
	struct mem_cgroup *old;
	struct page *page;

	if (atomic64_inc_return(&zio_nr_pages) > READ_ONCE(zio_max_pages)) {
		atomic64_dec(&zio_nr_pages);
		return NULL;
	}
	page = zio_pool_take(space);
	if (page) {
		if (gfp & __GFP_ZERO)
			clear_highpage(page);
		zio_space_count(space, ZIO_EV_PAGES_RECYCLED, 1);
	} else {
		old = set_active_memcg(space->memcg);
		page = alloc_page(gfp | __GFP_ACCOUNT);
		set_active_memcg(old);
	}
	if (!page) {
		atomic64_dec(&zio_nr_pages);
		return NULL;
	}

	set_page_private(page, 1);
	page->mapping = space->zfile->inode->i_mapping;
	return page;
}

/**
 * zio_pages_at_limit() - does zio hold as many pages as max_pages allows?
 *
 * Return: true when a failed allocation may be the module-wide limit's
 * doing rather than the memory cgroup's or the system's.
 */
bool zio_pages_at_limit(void)
{
	return atomic64_read(&zio_nr_pages) >= READ_ONCE(zio_max_pages);
}

/* zio lets go of a page: from now on it is anybody's. */
static void zio_page_forget(struct page *page)
{
	set_page_private(page, 0);
	page->mapping = NULL;
	atomic64_dec(&zio_nr_pages);
}

/**
 * zio_page_free_new() - free a page from zio_page_alloc() no slot has seen
 * @space: the space it was allocated for: its pool may keep it
 * @page: the page
 */
void zio_page_free_new(struct zio_space *space, struct page *page)
{
	zio_page_forget(page);
	zio_pool_keep_pages(space, &page, 1);
}

/*
 * Drop one share of a locked page. Return: true if it was the last one:
 * the caller puts or pools zio's reference, once the page is unlocked.
 */
static bool zio_page_drop_share_locked(struct page *page)
{
	set_page_private(page, page_private(page) - 1);
	if (zio_page_shares(page))
		return false;
	zio_page_forget(page);
	return true;
}

/**
 * zio_page_unshare() - drop a share
 * @page: the page
 */
void zio_page_unshare(struct page *page)
{
	bool last;

	lock_page(page);
	last = zio_page_drop_share_locked(page);
	unlock_page(page);
	if (last)
		put_page(page);
}

/**
 * zio_page_exclusive() - may the page be written in place?
 * @page: the page, locked
 *
 * A page that one slot holds is written in place even when something
 * outside zio holds references to it: an O_DIRECT read in flight, a pin
 * or a vmsplice'd pipe buffer keeps reading and writing the page the
 * program sees, as with an exclusive anonymous page. Copying it instead
 * would leave the holder with an orphan. The exception is a page zio
 * itself lent to a socket (ZIO_PAGE_LENT): send() promised a copy.
 *
 * Return: true if exactly one slot holds the page and zio never lent it.
 */
bool zio_page_exclusive(struct page *page)
{
	return zio_page_shares(page) == 1 && !(page_private(page) & ZIO_PAGE_LENT);
}

/**
 * zio_page_unmap_writable() - remove the writable mappings of a locked page
 * @space: the space
 * @pgoff: the slot holding @page
 * @page: the page, locked, in its slot
 *
 * Writable PTEs are installed under the page lock, after
 * zio_page_mkwrite() set ZIO_PAGE_WRITABLE: once the slot is zapped with
 * the lock held, the page has none and gets none until it is unlocked.
 * A page that is neither mapped nor marked writable needs no zap.
 * Taking references after this (sharing the page, or copying it) sees
 * every reference GUP took through a writable PTE, and no store of the
 * program can land in the page behind the caller's back.
 */
void zio_page_unmap_writable(struct zio_space *space, pgoff_t pgoff,
			     struct page *page)
{
	if (!(page_private(page) & ZIO_PAGE_WRITABLE))
		return;
	zio_space_zap(space, pgoff, pgoff);
	set_page_private(page, page_private(page) & ~ZIO_PAGE_WRITABLE);
}

/**
 * zio_pending_create() - a deferred copy of a page from two source pages
 * @src0: the page the copy starts in, or NULL for zeros
 * @src1: the page it continues in, or NULL for zeros
 * @offset: where in @src0 the copy starts
 *
 * Takes over the caller's shares of @src0 and @src1.
 *
 * Return: the pending copy with the slot's reference, or NULL.
 */
struct zio_pending *zio_pending_create(struct page *src0, struct page *src1,
				       unsigned int offset)
{
	struct zio_pending *pending;

	pending = kmalloc(sizeof(*pending), GFP_KERNEL_ACCOUNT);
	if (!pending)
		return NULL;
	kref_init(&pending->ref);
	pending->src[0] = src0;
	pending->src[1] = src1;
	pending->offset = offset;
	pending->flags = 0;
	atomic64_inc(&zio_nr_pending);
	return pending;
}

static void zio_pending_release(struct kref *ref)
{
	struct zio_pending *pending = container_of(ref, struct zio_pending, ref);

	if (pending->src[0])
		zio_page_unshare(pending->src[0]);
	if (pending->src[1])
		zio_page_unshare(pending->src[1]);
	atomic64_dec(&zio_nr_pending);
	kfree(pending);
}

/**
 * zio_pending_put() - drop a reference to a pending copy
 * @pending: the pending copy
 *
 * Might sleep: the last reference drops the shares of the source pages.
 */
void zio_pending_put(struct zio_pending *pending)
{
	kref_put(&pending->ref, zio_pending_release);
}

static void zio_copy_from_page(void *to, struct page *page, unsigned int offset,
			       unsigned int len)
{
	void *from;

	if (!page) {
		memset(to, 0, len);
		return;
	}
	from = kmap_local_page(page);
	memcpy(to, from + offset, len);
	kunmap_local(from);
}

/**
 * zio_pending_charge() - is the copy record still to be charged for a page?
 * @pending: the pending copy of the page, held
 *
 * A pending page is charged to its copy record once, when its bytes are
 * first used: materialized, or sent by ZIO_IOC_WRITE from its source pages.
 *
 * Return: true the first time only.
 */
bool zio_pending_charge(struct zio_pending *pending)
{
	return !test_and_set_bit(ZIO_PENDING_CHARGED, &pending->flags);
}

/**
 * zio_pending_fill() - perform a deferred copy
 * @pending: the pending copy; its source pages are shared, so stable
 * @dst: a page no one else sees yet
 */
void zio_pending_fill(struct zio_pending *pending, struct page *dst)
{
	unsigned int head = PAGE_SIZE - pending->offset;
	void *to = kmap_local_page(dst);

	zio_copy_from_page(to, pending->src[0], pending->offset, head);
	if (pending->offset)
		zio_copy_from_page(to + head, pending->src[1], 0, pending->offset);
	kunmap_local(to);
}

/* Runs have a cache of their own: 520 bytes would take 1 KiB of kmalloc. */
static struct kmem_cache *zio_run_cache;

/**
 * zio_runs_init() - create the cache of runs
 *
 * Return: 0 or -ENOMEM.
 */
int zio_runs_init(void)
{
	zio_run_cache = KMEM_CACHE(zio_run, SLAB_ACCOUNT);
	return zio_run_cache ? 0 : -ENOMEM;
}

/**
 * zio_runs_exit() - destroy the cache of runs, which no space holds now
 */
void zio_runs_exit(void)
{
	kmem_cache_destroy(zio_run_cache);
}

static void zio_run_free(struct zio_run *run)
{
	kmem_cache_free(zio_run_cache, run);
}

/**
 * zio_run_create() - a run of pages for ZIO_RUN_PAGES aligned slots
 * @pages: ZIO_RUN_PAGES pages, none NULL; the run takes over the caller's
 *	share of each
 *
 * Return: the run, with the reference of the entry that will hold it, or
 * NULL.
 */
struct zio_run *zio_run_create(struct page **pages)
{
	struct zio_run *run;

	run = kmem_cache_alloc(zio_run_cache, GFP_KERNEL);
	if (!run)
		return NULL;
	refcount_set(&run->refs, 1);
	memcpy(run->pages, pages, sizeof(run->pages));
	return run;
}

/**
 * zio_run_put() - drop a reference to a run
 * @space: the space whose pool may keep the pages, or NULL
 * @run: the run
 * @mapped: see zio_slot_recycle()
 *
 * Might sleep: the last reference drops the shares of its pages.
 */
void zio_run_put(struct zio_space *space, struct zio_run *run, bool *mapped)
{
	if (!refcount_dec_and_test(&run->refs))
		return;
	/* A run holds pages only: this recurses once at most. */
	zio_slot_recycle_entries(space, (void **)run->pages, ZIO_RUN_PAGES,
				 mapped);
	zio_run_free(run);
}

/* Count one more share of a page: for a slot of a run being split. */
static void zio_page_share(struct page *page)
{
	lock_page(page);
	zio_page_take_share_locked(page);
	unlock_page(page);
}

/**
 * zio_slot_split_run() - replace a run by one entry per slot
 * @space: the space
 * @pgoff: a slot; nothing is done unless a run fills it
 *
 * When the run's entry is its only holder, its slots take over its
 * shares, and it is freed. Else each page gets a share of its own for
 * its slot, taken before the swap, and the run loses the reference its
 * entry held; its pages keep a share throughout, so none can be written
 * in place meanwhile. When somebody else split or replaced the run
 * first, the shares go back.
 *
 * References to a run are taken under the xa_lock only, from its entry:
 * under that lock, two references are its entry's and the splitter's.
 *
 * Context: might sleep. It cannot fail: the one xarray node it needs is
 * allocated with __GFP_NOFAIL, as a caller such as a discard has no way
 * to give up.
 */
void zio_slot_split_run(struct zio_space *space, pgoff_t pgoff)
{
	pgoff_t first = round_down(pgoff, ZIO_RUN_PAGES);
	XA_STATE(xas, &space->slots, first);
	bool shared = false, split = false, unused = false;
	struct zio_run *run;
	unsigned int i;
	void *entry;

	if (!zio_entry_is_run(xa_load(&space->slots, first)))
		return;
	xas_lock(&xas);
	entry = xas_load(&xas);
	if (!zio_entry_is_run(entry)) {
		xas_unlock(&xas);
		return;
	}
	run = zio_entry_run(entry);
	refcount_inc(&run->refs);	/* the splitter's */
	xas_unlock(&xas);

	xas_split_alloc(&xas, entry, ZIO_RUN_ORDER,
			GFP_KERNEL_ACCOUNT | __GFP_NOFAIL);
	for (;;) {
		xas_reset(&xas);
		xas_lock(&xas);
		if (xas_load(&xas) != entry)
			break;
		if (shared || refcount_read(&run->refs) == 2) {
			xas_split(&xas, entry, ZIO_RUN_ORDER);
			xas_set(&xas, first);
			for (i = 0; i < ZIO_RUN_PAGES; i++) {
				xas_store(&xas, run->pages[i]);
				xas_next(&xas);
			}
			split = true;
			break;
		}
		/* Other holders: shares of our own, out of the lock. */
		xas_unlock(&xas);
		for (i = 0; i < ZIO_RUN_PAGES; i++)
			zio_page_share(run->pages[i]);
		shared = true;
	}
	xas_unlock(&xas);
	/* Frees the node xas_split() did not take. */
	xas_nomem(&xas, GFP_KERNEL);

	if (!split) {
		for (i = 0; shared && i < ZIO_RUN_PAGES; i++)
			zio_page_unshare(run->pages[i]);
		zio_run_put(space, run, &unused);
		return;
	}
	trace_zio_split(space, first);
	if (!shared) {
		/* The slots have the run's shares; nobody else has the run. */
		zio_run_free(run);
		return;
	}
	zio_run_put(space, run, &unused);	/* the entry's */
	zio_run_put(space, run, &unused);	/* the splitter's */
}

/**
 * zio_slot_split_range() - split the runs that fill slots of a range
 * @space: the space
 * @first: the first slot
 * @last: the last slot
 *
 * Context: might sleep.
 */
void zio_slot_split_range(struct zio_space *space, pgoff_t first, pgoff_t last)
{
	pgoff_t pgoff;

	for (pgoff = round_down(first, ZIO_RUN_PAGES); pgoff <= last;
	     pgoff += ZIO_RUN_PAGES) {
		zio_slot_split_run(space, pgoff);
		if (pgoff + ZIO_RUN_PAGES < pgoff)
			break;
	}
}

/**
 * zio_slot_release() - drop what a slot held, once it is out of the xarray
 * @entry: the old entry: a page, a pending copy, a run, or NULL
 * @mapped: set to true when the page is still mapped and must be zapped
 *
 * Taking the page lock is the barrier of the race rule: a fault that found
 * this page in its slot has installed its PTE when the lock is ours, so the
 * check for mappings sees it and the caller's zap, after this, removes it.
 */
void zio_slot_release(void *entry, bool *mapped)
{
	zio_slot_recycle(NULL, entry, mapped);
}

/*
 * Drop a page's share, once it is out of its slot. Return: true if it was
 * the last one: then nobody may reach the page but the caller, who owns
 * zio's reference.
 */
static bool zio_slot_drop_page(struct page *page, bool *mapped)
{
	bool last;

	lock_page(page);
	last = zio_page_drop_share_locked(page);
	/* zio's own reference alone: no PTE maps the page. */
	if (!*mapped && page_ref_count(page) > 1 && page_mapped(page))
		*mapped = true;
	unlock_page(page);
	return last;
}

/**
 * zio_slot_recycle() - zio_slot_release(), keeping the page in a pool
 * @space: the space whose pool may keep the page, or NULL
 * @entry: the old entry: a page, a pending copy, a run, or NULL
 * @mapped: set to true when the page is still mapped and must be zapped
 */
void zio_slot_recycle(struct zio_space *space, void *entry, bool *mapped)
{
	zio_slot_recycle_entries(space, &entry, 1, mapped);
}

/**
 * zio_slot_recycle_entries() - zio_slot_recycle() for many entries
 * @space: the space whose pool may keep the pages, or NULL
 * @entries: the old entries; scratch, overwritten
 * @n: how many
 * @mapped: set to true when a page is still mapped and must be zapped
 *
 * The pages whose last share goes enter the pool together.
 */
void zio_slot_recycle_entries(struct zio_space *space, void **entries,
			      unsigned int n, bool *mapped)
{
	unsigned int i, last = 0;

	for (i = 0; i < n; i++) {
		void *entry = entries[i];

		if (!entry)
			continue;
		if (zio_entry_is_pending(entry))
			zio_pending_put(zio_entry_pending(entry));
		else if (zio_entry_is_run(entry))
			zio_run_put(space, zio_entry_run(entry), mapped);
		else if (zio_slot_drop_page(entry, mapped))
			entries[last++] = entry;
	}
	zio_pool_keep_pages(space, (struct page **)entries, last);
}

/**
 * zio_slot_load() - a slot's entry, held
 * @space: the space
 * @pgoff: the slot; a run that fills it is split first
 *
 * Context: might sleep.
 *
 * Return: the page, with a reference, or the tagged pending copy, with a
 * reference, or NULL for an empty slot. Drop it with zio_entry_put().
 */
void *zio_slot_load(struct zio_space *space, pgoff_t pgoff)
{
	void *entry;

	for (;;) {
		xa_lock(&space->slots);
		entry = xa_load(&space->slots, pgoff);
		if (!zio_entry_is_run(entry))
			break;
		xa_unlock(&space->slots);
		zio_slot_split_run(space, pgoff);
	}
	zio_entry_get(entry);
	xa_unlock(&space->slots);
	return entry;
}

/* Slots loaded under one hold of the xa_lock, at most. */
#define ZIO_LOAD_BATCH		64

/**
 * zio_slot_load_range() - the entries of consecutive slots, for reading
 * @space: the space
 * @first: the first slot
 * @nr: how many
 * @entries: filled with each slot's entry, held as zio_slot_load() holds
 *	it; a slot of a run gives its page, held, and the run stays whole:
 *	the page may be read, not written, and is not the slot's alone
 *
 * Context: takes the xa_lock; might sleep when @nr is above ZIO_LOAD_BATCH.
 */
void zio_slot_load_range(struct zio_space *space, pgoff_t first,
			 unsigned long nr, void **entries)
{
	XA_STATE(xas, &space->slots, first);
	unsigned long i;

	might_sleep_if(nr > ZIO_LOAD_BATCH);
	xas_lock(&xas);
	for (i = 0; i < nr; i++) {
		void *entry;

		if (i % ZIO_LOAD_BATCH) {
			entry = xas_next(&xas);
		} else {
			if (i) {
				xas_unlock(&xas);
				cond_resched();
				xas_lock(&xas);
			}
			xas_set(&xas, first + i);
			entry = xas_load(&xas);
		}
		if (entry && zio_entry_is_run(entry))
			entry = zio_entry_run(entry)->pages[(first + i) %
							   ZIO_RUN_PAGES];
		zio_entry_get(entry);
		entries[i] = entry;
	}
	xas_unlock(&xas);
}

/**
 * zio_slot_swap_run() - put entries into consecutive slots, in one walk
 * @space: the space, locked
 * @first: the first slot
 * @nr: how many slots, all under one hold of the xa_lock
 * @entries: the new entries, each with the share or reference its slot
 *	takes; the first ones stored come back as what their slots held, for
 *	zio_slot_recycle_entries()
 *
 * Context: might sleep.
 *
 * Return: how many slots, from the first, took their entries: fewer than
 * @nr only when the xarray could not allocate a node.
 */
unsigned int zio_slot_swap_run(struct zio_space *space, pgoff_t first,
			       unsigned int nr, void **entries)
{
	XA_STATE(xas, &space->slots, first);
	unsigned int i = 0;
	long slots = 0;

	zio_slot_split_range(space, first, first + nr - 1);
	do {
		xas_lock(&xas);
		while (i < nr) {
			void *old = xas_store(&xas, entries[i]);

			if (xas_error(&xas))
				break;
			slots += !!entries[i] - !!old;
			entries[i++] = old;
			xas_next(&xas);
		}
		xas_unlock(&xas);
	} while (xas_nomem(&xas, GFP_KERNEL));
	zio_space_note_slots(space, slots);
	return i;
}

/*
 * A new page for a slot: the caller's spare if it has one (see
 * zio_slot_get_exclusive_spare()), else a new allocation.
 */
static struct page *zio_page_get(struct zio_space *space, gfp_t gfp,
				 struct page **spare)
{
	struct page *page;

	if (!spare || !*spare)
		return zio_page_alloc(space, gfp);
	page = *spare;
	*spare = NULL;
	if (gfp & __GFP_ZERO)
		clear_highpage(page);
	return page;
}

/* A page from zio_page_get() that no slot took: back to the spare, if any. */
static void zio_page_put_back(struct zio_space *space, struct page *page,
			      struct page **spare)
{
	if (spare && !*spare)
		*spare = page;
	else
		zio_page_free_new(space, page);
}

/* Give an empty slot a zeroed page; 0 also when somebody else filled it. */
static int zio_slot_fill(struct zio_space *space, pgoff_t pgoff,
			 struct page **spare)
{
	struct page *page;
	void *old;

	page = zio_page_get(space, GFP_HIGHUSER | __GFP_ZERO, spare);
	if (!page)
		return -ENOMEM;
	old = xa_cmpxchg(&space->slots, pgoff, NULL, page, GFP_KERNEL);
	if (old) {
		zio_page_put_back(space, page, spare);
		return xa_is_err(old) ? xa_err(old) : 0;
	}
	zio_space_note_slots(space, 1);
	return 0;
}

/*
 * Replace a pending copy by its page. The caller holds a reference to
 * @pending, so it cannot be freed and reused at the same address while the
 * copy runs; 0 also when the slot changed meanwhile.
 */
static int zio_slot_materialize(struct zio_space *space, pgoff_t pgoff,
				struct zio_pending *pending, struct page **spare)
{
	struct page *page;
	void *old;

	page = zio_page_get(space, GFP_HIGHUSER, spare);
	if (!page)
		return -ENOMEM;
	zio_pending_fill(pending, page);
	old = xa_cmpxchg(&space->slots, pgoff, zio_pending_entry(pending), page,
			 GFP_KERNEL);
	if (old != zio_pending_entry(pending)) {
		zio_page_put_back(space, page, spare);
		return xa_is_err(old) ? xa_err(old) : 0;
	}
	zio_pending_put(pending);	/* the slot's reference */
	zio_space_count(space, ZIO_EV_PAGES_MATERIALIZED, 1);
	trace_zio_materialize(space, pgoff);
	if (zio_pending_charge(pending))
		zio_records_note_materialized(space, pgoff);
	return 0;
}

static int __zio_slot_lock_page(struct zio_space *space, pgoff_t pgoff,
				struct page **pagep, struct page **spare)
{
	for (;;) {
		void *entry = zio_slot_load(space, pgoff);
		struct page *page = entry;
		int ret = 0;

		if (!entry) {
			ret = zio_slot_fill(space, pgoff, spare);
		} else if (zio_entry_is_pending(entry)) {
			ret = zio_slot_materialize(space, pgoff,
						   zio_entry_pending(entry), spare);
			zio_pending_put(zio_entry_pending(entry));
		} else {
			lock_page(page);
			if (xa_load(&space->slots, pgoff) == page) {
				*pagep = page;
				return 0;
			}
			unlock_page(page);
			put_page(page);
		}
		if (ret)
			return ret;
	}
}

/**
 * zio_slot_lock_page() - the page of a slot, filled or materialized if need be
 * @space: the space
 * @pgoff: the slot
 * @pagep: set to the page, locked, with a reference, still in its slot
 *
 * Return: 0 or a negative errno (-ENOMEM).
 */
int zio_slot_lock_page(struct zio_space *space, pgoff_t pgoff,
		       struct page **pagep)
{
	return __zio_slot_lock_page(space, pgoff, pagep, NULL);
}

/**
 * zio_slot_get_page() - the page of a slot, for reading in the kernel
 * @space: the space
 * @pgoff: the slot
 * @pagep: set to the page with a reference, or NULL when the slot is empty
 *
 * Return: 0 or -ENOMEM.
 */
int zio_slot_get_page(struct zio_space *space, pgoff_t pgoff,
		      struct page **pagep)
{
	for (;;) {
		void *entry = zio_slot_load(space, pgoff);
		int ret;

		if (!entry || !zio_entry_is_pending(entry)) {
			*pagep = entry;
			return 0;
		}
		ret = zio_slot_materialize(space, pgoff, zio_entry_pending(entry),
					   NULL);
		zio_pending_put(zio_entry_pending(entry));
		if (ret)
			return ret;
	}
}

static int __zio_slot_cow(struct zio_space *space, pgoff_t pgoff,
			  struct page *page, struct page **newp,
			  struct page **spare);

/**
 * zio_slot_cow() - replace a slot's page by a private copy
 * @space: the space
 * @pgoff: the slot
 * @page: its page, locked and checked against the slot; unlocked on return
 * @newp: set to the copy, with a reference for the caller
 *
 * Return: 0, -EAGAIN when the slot changed meanwhile, or -ENOMEM.
 */
int zio_slot_cow(struct zio_space *space, pgoff_t pgoff, struct page *page,
		 struct page **newp)
{
	return __zio_slot_cow(space, pgoff, page, newp, NULL);
}

static int __zio_slot_cow(struct zio_space *space, pgoff_t pgoff,
			  struct page *page, struct page **newp,
			  struct page **spare)
{
	struct page *copy;
	bool last;
	void *old;

	copy = zio_page_get(space, GFP_HIGHUSER, spare);
	if (!copy) {
		unlock_page(page);
		return -ENOMEM;
	}
	/*
	 * Zap first, with the page locked: a store through a writable PTE
	 * after the copy would land in the page the slot is about to let go.
	 * Faults wait for the lock and then find the copy in the slot.
	 */
	if (page_mapped(page) || page_private(page) & ZIO_PAGE_WRITABLE)
		zio_space_zap(space, pgoff, pgoff);
	set_page_private(page, page_private(page) & ~ZIO_PAGE_WRITABLE);
	copy_highpage(copy, page);
	old = xa_cmpxchg(&space->slots, pgoff, page, copy, GFP_KERNEL);
	if (old != page) {
		unlock_page(page);
		zio_page_put_back(space, copy, spare);
		return xa_is_err(old) ? xa_err(old) : -EAGAIN;
	}
	get_page(copy);
	last = zio_page_drop_share_locked(page);
	unlock_page(page);
	if (last)
		put_page(page);		/* zio's reference */

	zio_space_count(space, ZIO_EV_PAGES_COW, 1);
	trace_zio_cow(space, pgoff);
	zio_records_note_materialized(space, pgoff);
	*newp = copy;
	return 0;
}

/**
 * zio_slot_get_exclusive_spare() - zio_slot_get_exclusive() with a spare page
 * @space: the space, locked
 * @pgoff: the slot
 * @pagep: set to a page only this slot holds, with a reference
 * @spare: NULL, or a page from zio_page_alloc() that the first page the
 *	slot needs (filled, materialized or copied) is made of, instead of a
 *	new allocation; set to NULL when used, else still the caller's
 *
 * A caller that must not fail for lack of memory at this point (a read
 * that has taken the data out of its file) allocates the spare before.
 *
 * Return: 0 or -ENOMEM.
 */
int zio_slot_get_exclusive_spare(struct zio_space *space, pgoff_t pgoff,
				 struct page **pagep, struct page **spare)
{
	for (;;) {
		struct page *page;
		int ret;

		ret = __zio_slot_lock_page(space, pgoff, &page, spare);
		if (ret)
			return ret;
		if (zio_page_exclusive(page)) {
			unlock_page(page);
			*pagep = page;
			return 0;
		}
		ret = __zio_slot_cow(space, pgoff, page, pagep, spare);
		put_page(page);
		if (ret != -EAGAIN)
			return ret;
	}
}

/**
 * zio_slot_get_exclusive() - the page of a slot, for writing in the kernel
 * @space: the space, locked
 * @pgoff: the slot
 * @pagep: set to a page only this slot holds, with a reference
 *
 * Return: 0 or -ENOMEM.
 */
int zio_slot_get_exclusive(struct zio_space *space, pgoff_t pgoff,
			   struct page **pagep)
{
	return zio_slot_get_exclusive_spare(space, pgoff, pagep, NULL);
}

/**
 * zio_slot_take_share() - a share of a slot's page, for another slot
 * @space: the space, locked
 * @pgoff: the source slot
 * @pagep: set to the page, with the new share, or NULL when the slot is
 *	empty (zeros)
 * @fallback: set to true when the page could not be shared
 *	(zio_page_shareable()): *@pagep is then a private copy of it
 *
 * Return: 0 or -ENOMEM.
 */
int zio_slot_take_share(struct zio_space *space, pgoff_t pgoff,
			struct page **pagep, bool *fallback)
{
	for (;;) {
		struct page *page, *copy;
		int ret;

		ret = zio_slot_get_page(space, pgoff, &page);
		if (ret || !page) {
			*pagep = NULL;
			return ret;
		}
		lock_page(page);
		if (xa_load(&space->slots, pgoff) != page) {
			unlock_page(page);
			put_page(page);
			continue;
		}
		zio_page_unmap_writable(space, pgoff, page);
		if (zio_page_shareable(page, 1)) {
			zio_page_take_share_locked(page);
			unlock_page(page);
			put_page(page);
			*pagep = page;
			return 0;
		}
		copy = zio_page_alloc(space, GFP_HIGHUSER);
		if (copy)
			copy_highpage(copy, page);
		unlock_page(page);
		put_page(page);
		if (!copy)
			return -ENOMEM;
		zio_space_count(space, ZIO_EV_PAGES_FALLBACK, 1);
		*fallback = true;
		*pagep = copy;
		return 0;
	}
}

/**
 * zio_slot_snapshot() - what a fork child's slot gets of a parent's slot
 * @child: the child's space
 * @parent: the parent's space, locked; the caller zapped its slots, and
 *	nothing maps them again until the fork is done (the parent's
 *	mmap_lock and its zio VMAs are locked for writing)
 * @pgoff: the slot
 *
 * The entry is taken with a reference under the xa_lock, and a page is
 * checked against its slot once locked, as wherever the space lock is
 * not what keeps the slot as it is.
 *
 * A page with references zio cannot account for (an O_DIRECT read in
 * flight, a pin) stays the parent's alone, unless zio lent it
 * (zio_page_shareable()): the child gets a copy of it, as fork copies a
 * pinned anonymous page, so the holder keeps writing the page the parent
 * sees.
 *
 * Return: the child's entry (a share of the page or pending copy, or a
 * private copy), NULL for an empty slot, or ERR_PTR(-ENOMEM).
 */
void *zio_slot_snapshot(struct zio_space *child, struct zio_space *parent,
			pgoff_t pgoff)
{
	struct page *page, *copy;
	void *entry;

	for (;;) {
		entry = zio_slot_load(parent, pgoff);
		if (!entry || zio_entry_is_pending(entry))
			return entry;	/* the child's slot takes the reference */
		page = entry;
		lock_page(page);
		if (xa_load(&parent->slots, pgoff) == page)
			break;
		unlock_page(page);
		put_page(page);
	}
	/* Zapped, and no fault of the parent can map it again yet. */
	set_page_private(page, page_private(page) & ~ZIO_PAGE_WRITABLE);
	/* A poisoned page is not read: the child shares its SIGBUS. */
	if (zio_page_shareable(page, 1) || PageHWPoison(page)) {
		zio_page_take_share_locked(page);
		copy = page;
	} else {
		copy = zio_page_alloc(child, GFP_HIGHUSER);
		if (copy) {
			copy_highpage(copy, page);
			zio_space_count(child, ZIO_EV_PAGES_FALLBACK, 1);
		} else {
			copy = ERR_PTR(-ENOMEM);
		}
	}
	unlock_page(page);
	put_page(page);
	return copy;
}

#define ZIO_DISCARD_BATCH	64

/**
 * zio_slot_discard() - empty a range of slots
 * @space: the space, locked
 * @first: the first slot
 * @last: the last slot
 *
 * Empties the slots a batch at a time under the xa_lock, then releases
 * what they held outside it.
 */
void zio_slot_discard(struct zio_space *space, pgoff_t first, pgoff_t last)
{
	XA_STATE(xas, &space->slots, first);
	void *batch[ZIO_DISCARD_BATCH];
	pgoff_t next = first;
	unsigned int nr;
	unsigned long n = 0;
	bool mapped = false;
	void *entry;

	/* Runs the range fills in part: the rest of them stays. */
	if (first % ZIO_RUN_PAGES)
		zio_slot_split_run(space, first);
	if ((last + 1) % ZIO_RUN_PAGES)
		zio_slot_split_run(space, last);
	do {
		/*
		 * Each batch starts afresh at the index after the last one
		 * emptied: storing NULL may free the node the walk is in,
		 * after which xas_pause() would skip the rest of its parent.
		 */
		nr = 0;
		xas_set(&xas, next);
		xas_lock(&xas);
		xas_for_each(&xas, entry, last) {
			batch[nr++] = entry;
			n += zio_entry_slots(entry);
			next = xas.xa_index + 1;
			/* A run's slots go all at once. */
			xas_store(&xas, NULL);
			if (nr == ZIO_DISCARD_BATCH)
				break;
		}
		xas_unlock(&xas);
		/* No pool: a discard gives the memory back. */
		zio_slot_recycle_entries(NULL, batch, nr, &mapped);
		cond_resched();
	} while (nr == ZIO_DISCARD_BATCH && next && next <= last);

	if (n)
		zio_space_zap_released(space, first, last, mapped);
	zio_space_note_slots(space, -(long)n);
	zio_records_forget(space, first, last);
	zio_space_count(space, ZIO_EV_DISCARDS, n);
	trace_zio_discard(space, first, last, n);
}
