/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pages, pending copies and the slots that hold them (slot.c), the lowest
 * layer: it calls only the counters, the copy records and the tracepoints.
 *
 * A page may sit in several slots, of one or several spaces; page->private
 * counts them (its "shares"), and zio holds one page reference while a page
 * has any share. A pending copy holds a share of each of its (at most two)
 * source pages.
 * A page with more than one share is never written in place: writes copy
 * it first. A page with references zio cannot account for (O_DIRECT, a
 * pin, a pipe) is never shared, but written in place, as an exclusive
 * anonymous page is. The top bit of page->private, ZIO_PAGE_WRITABLE, says
 * that zio_page_mkwrite() let a PTE map the page writable since the page
 * was last zapped: whoever shares or copies such a page zaps it first
 * (zio_page_unmap_writable()). The next bit, ZIO_PAGE_LENT, says that zio
 * sent the page by reference: a socket may still read it, so it is never
 * written in place again. zio lends a page only while the bit WRITABLE is
 * clear and, the first time, nobody it cannot account for holds the page;
 * so every reference taken to a lent page since is a reader's, and a lent
 * page is shared whatever its references (zio_page_shareable()). Shares
 * and bits change under the page lock only.
 * While zio holds a page, page->mapping is the open's address_space, so
 * that nobody outside zio maps it (a TCP zerocopy receive copies instead).
 *
 * A run (struct zio_run) holds one share of each page of ZIO_RUN_PAGES
 * aligned slots and fills them all with one multi-index entry; its pages
 * are never written, and nothing maps them through it.
 */
#ifndef _ZIO_SLOT_H
#define _ZIO_SLOT_H

#include <linux/bits.h>
#include <linux/kref.h>
#include <linux/mm.h>
#include <linux/refcount.h>
#include <linux/types.h>
#include <linux/xarray.h>

#include "compat.h"

struct zio_space;

#define ZIO_PAGE_WRITABLE	BIT(BITS_PER_LONG - 1)
#define ZIO_PAGE_LENT		BIT(BITS_PER_LONG - 2)

/* The slots (and pending copies) holding @page. */
static inline unsigned long zio_page_shares(struct page *page)
{
	return page_private(page) & ~(ZIO_PAGE_WRITABLE | ZIO_PAGE_LENT);
}

/**
 * struct zio_pending - a destination page waiting for a deferred copy
 * @ref: one per slot holding it, plus one per fault materializing it
 * @src: the source pages, each with a share taken; NULL reads as zeros
 * @offset: the destination page starts @offset bytes into @src[0] and
 *	goes on at the start of @src[1]
 * @flags: ZIO_PENDING_CHARGED once its copy record was charged for it
 *	(zio_pending_charge())
 */
struct zio_pending {
	struct kref ref;
	unsigned int offset;
	struct page *src[2];
	unsigned long flags;
};

#define ZIO_PENDING_CHARGED	0

#define ZIO_PENDING_TAG		1

static inline bool zio_entry_is_pending(void *entry)
{
	return xa_pointer_tag(entry) == ZIO_PENDING_TAG;
}

/* The slots of one run: one xarray node's worth, aligned. */
#define ZIO_RUN_ORDER		XA_CHUNK_SHIFT
#define ZIO_RUN_PAGES		XA_CHUNK_SIZE

/**
 * struct zio_run - the pages of ZIO_RUN_PAGES aligned slots, held as one
 * @refs: one per multi-index entry holding it, plus one per splitter
 * @pages: each with a share taken for the run; none is NULL
 *
 * A copy of whole aligned chunks stores one entry per chunk, of a new run
 * or of the source's (a reference more): that costs nothing per page. Who
 * needs one slot of a run by itself splits it (zio_slot_split_run()) into
 * per-page entries, each with its own share. Runs are made only under the
 * space lock, so a holder of that lock that split a range finds no run in
 * it afterwards; they are split by anyone.
 */
struct zio_run {
	refcount_t refs;
	struct page *pages[ZIO_RUN_PAGES];
};

#define ZIO_RUN_TAG		3

static inline bool zio_entry_is_run(void *entry)
{
	return xa_pointer_tag(entry) == ZIO_RUN_TAG;
}

static inline struct zio_run *zio_entry_run(void *entry)
{
	return xa_untag_pointer(entry);
}

static inline void *zio_run_entry(struct zio_run *run)
{
	return xa_tag_pointer(run, ZIO_RUN_TAG);
}

/* How many slots @entry fills: a run fills ZIO_RUN_PAGES. */
static inline unsigned int zio_entry_slots(void *entry)
{
	if (!entry)
		return 0;
	return zio_entry_is_run(entry) ? ZIO_RUN_PAGES : 1;
}

static inline struct zio_pending *zio_entry_pending(void *entry)
{
	return xa_untag_pointer(entry);
}

static inline void *zio_pending_entry(struct zio_pending *pending)
{
	return xa_tag_pointer(pending, ZIO_PENDING_TAG);
}

/**
 * zio_page_take_share_locked() - count one more share of a locked page
 * @page: the page, locked, with at least one share already and no writable
 *	mapping (ZIO_PAGE_WRITABLE clear, see zio_page_unmap_writable())
 *
 * A page with more than one share never gets a writable PTE.
 */
static inline void zio_page_take_share_locked(struct page *page)
{
	set_page_private(page, page_private(page) + 1);
}

/**
 * zio_page_foreign_refs() - does somebody zio cannot see hold the page?
 * @page: the page, locked
 * @own_refs: references the caller holds beyond the shares and mappings
 *
 * O_DIRECT, vmsplice, pins and in-flight sends hold plain references. A
 * page with such a holder is not shared, unless zio lent it
 * (zio_page_shareable()): the holder may still write it, and the other
 * slot would see that. Nobody outside zio maps zio's pages
 * (see page->mapping above), so the mappings counted are zio's own.
 *
 * Return: true if the page has references beyond its shares, its mappings
 * and @own_refs.
 */
static inline bool zio_page_foreign_refs(struct page *page, int own_refs)
{
	return page_ref_count(page) >
		!!zio_page_shares(page) + zio_page_mapcount(page) + own_refs;
}

/**
 * zio_page_shareable() - may another slot share the page?
 * @page: the page, locked
 * @own_refs: references the caller holds beyond the shares and mappings
 *
 * Not when somebody zio cannot see holds it (zio_page_foreign_refs()),
 * unless zio lent it: nobody but zio held it when it was first lent, and
 * nothing maps it writable since, so whoever took a reference since only
 * reads it: the sockets it was sent to, and readers through read-only
 * PTEs (see ZIO_PAGE_LENT above).
 *
 * Return: true if a share of the page may be taken.
 */
static inline bool zio_page_shareable(struct page *page, int own_refs)
{
	return !zio_page_foreign_refs(page, own_refs) ||
	       page_private(page) & ZIO_PAGE_LENT;
}

void zio_space_zap(struct zio_space *space, pgoff_t first, pgoff_t last);
void zio_space_zap_released(struct zio_space *space, pgoff_t first,
			    pgoff_t last, bool mapped);
struct page *zio_page_alloc(struct zio_space *space, gfp_t gfp);
void zio_page_free_new(struct zio_space *space, struct page *page);
unsigned long zio_pool_shrink(struct zio_space *space, unsigned long nr);
void zio_page_unshare(struct page *page);
bool zio_pages_at_limit(void);
bool zio_page_exclusive(struct page *page);
void zio_page_unmap_writable(struct zio_space *space, pgoff_t pgoff,
			     struct page *page);
struct zio_pending *zio_pending_create(struct page *src0, struct page *src1,
				       unsigned int offset);
void zio_pending_put(struct zio_pending *pending);
void zio_pending_fill(struct zio_pending *pending, struct page *dst);
bool zio_pending_charge(struct zio_pending *pending);
int zio_runs_init(void);
void zio_runs_exit(void);
struct zio_run *zio_run_create(struct page **pages);
void zio_run_put(struct zio_space *space, struct zio_run *run, bool *mapped);
void zio_slot_split_run(struct zio_space *space, pgoff_t pgoff);
void zio_slot_split_range(struct zio_space *space, pgoff_t first,
			  pgoff_t last);
void zio_slot_release(void *entry, bool *mapped);
void zio_slot_recycle(struct zio_space *space, void *entry, bool *mapped);
void zio_slot_recycle_entries(struct zio_space *space, void **entries,
			      unsigned int n, bool *mapped);
void *zio_slot_load(struct zio_space *space, pgoff_t pgoff);
void zio_slot_load_range(struct zio_space *space, pgoff_t first,
			 unsigned long nr, void **entries);
unsigned int zio_slot_swap_run(struct zio_space *space, pgoff_t first,
			       unsigned int nr, void **entries);
int zio_slot_get_page(struct zio_space *space, pgoff_t pgoff,
		      struct page **pagep);
int zio_slot_lock_page(struct zio_space *space, pgoff_t pgoff,
		       struct page **pagep);
int zio_slot_get_exclusive(struct zio_space *space, pgoff_t pgoff,
			   struct page **pagep);
int zio_slot_get_exclusive_spare(struct zio_space *space, pgoff_t pgoff,
				 struct page **pagep, struct page **spare);
int zio_slot_cow(struct zio_space *space, pgoff_t pgoff, struct page *page,
		 struct page **newp);
int zio_slot_take_share(struct zio_space *space, pgoff_t pgoff,
			struct page **pagep, bool *fallback);
void *zio_slot_snapshot(struct zio_space *child, struct zio_space *parent,
			pgoff_t pgoff);
void zio_slot_discard(struct zio_space *space, pgoff_t first, pgoff_t last);

/**
 * zio_entry_get() - take the reference zio_slot_load() gives a held entry
 * @entry: a page, a tagged pending copy, or NULL
 */
static inline void zio_entry_get(void *entry)
{
	if (entry && zio_entry_is_pending(entry))
		kref_get(&zio_entry_pending(entry)->ref);
	else if (entry)
		get_page(entry);
}

/**
 * zio_entry_put() - drop the reference zio_slot_load() took
 * @entry: the entry, or NULL
 *
 * Might sleep: it may be the last reference to a pending copy.
 */
static inline void zio_entry_put(void *entry)
{
	if (entry && zio_entry_is_pending(entry))
		zio_pending_put(zio_entry_pending(entry));
	else if (entry)
		put_page(entry);
}

#endif /* _ZIO_SLOT_H */
