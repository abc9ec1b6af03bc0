// SPDX-License-Identifier: GPL-2.0
/*
 * Send frags: where a TCP send copies the bytes of pages the program may
 * write again, so that TCP can take them by reference.
 *
 * TCP copies what it is given into page frags of its own, and each time
 * the frag it was filling is still in flight, allocates another, which the
 * page allocator zeroes first under init_on_alloc: a reply of 256 KiB
 * takes eight fresh 32 KiB frags. A space keeps a ring of frags instead.
 * A send takes bytes of the current frag, one reference per segment, and
 * copies into them; when the current frag is used up, the next one whose
 * only reference is the ring's is used again from its start. Nobody else
 * can reach such a frag: every socket, and whoever a socket passed it on
 * to, has let go of it, each after its last read of it. When every frag
 * is in flight, the ring lets go of one (its holders free it) and
 * allocates a new one. Frags count as pooled pages (zio_nr_pooled), and
 * each reuse as pages recycled.
 *
 * A frag's bytes beyond what a send took are never handed out; they hold
 * the space's own earlier sends, or what the allocator left.
 */
#include <linux/gfp.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/uio.h>

#include "frag.h"
#include "params.h"
#include "space.h"
#include "stats.h"

/**
 * zio_frags_init() - a space's send frags, none yet
 * @frags: the frags
 */
void zio_frags_init(struct zio_frags *frags)
{
	mutex_init(&frags->lock);
	frags->cur = 0;
	frags->offset = 0;
	frags->nr_pages = 0;
}

static unsigned int zio_frag_pages(struct page *page)
{
	return 1U << compound_order(page);
}

/* zio lets go of a frag from zio_frag_alloc(): whoever still holds it frees it. */
static void zio_frag_release(struct page *page)
{
	atomic64_sub(zio_frag_pages(page), &zio_nr_pooled);
	put_page(page);
}

/* Put @page in ring entry @i, or take it out (NULL). Under frags->lock. */
static void zio_frag_set(struct zio_frags *frags, unsigned int i,
			 struct page *page)
{
	struct page *old = frags->page[i];

	if (old) {
		WRITE_ONCE(frags->nr_pages, frags->nr_pages - zio_frag_pages(old));
		zio_frag_release(old);
	}
	frags->page[i] = page;
	if (page)
		WRITE_ONCE(frags->nr_pages, frags->nr_pages + zio_frag_pages(page));
}

/*
 * A new frag, counted in zio_nr_pooled, or NULL. A compound page if one is
 * to be had at once, else a single page; never at the price of the OOM
 * killer: the send then copies as it would without frags.
 */
static struct page *zio_frag_alloc(struct zio_space *space)
{
	gfp_t gfp = GFP_KERNEL | __GFP_ACCOUNT | __GFP_NOWARN | __GFP_NORETRY;
	unsigned int order = ZIO_FRAG_ORDER;
	struct page *page = NULL;
	struct mem_cgroup *old;

	old = set_active_memcg(space->memcg);
	for (;;) {
		if (atomic64_add_return(1 << order, &zio_nr_pooled) +
		    atomic64_read(&zio_nr_pages) <= READ_ONCE(zio_max_pages)) {
			page = alloc_pages(order ? gfp | __GFP_COMP : gfp, order);
			if (page)
				break;
		}
		atomic64_sub(1 << order, &zio_nr_pooled);
		if (!order)
			break;
		order = 0;
	}
	set_active_memcg(old);
	return page;
}

/*
 * Move to a frag with room that nobody else holds, the next first.
 * Under frags->lock. False when there is none: the caller then brings a
 * new one (zio_frag_install()).
 */
static bool zio_frag_next(struct zio_space *space)
{
	struct zio_frags *frags = &space->frags;
	unsigned int n, i;

	for (n = 1; n <= ZIO_NR_FRAGS; n++) {
		i = (frags->cur + n) % ZIO_NR_FRAGS;
		/* Only the ring's reference: every holder is done with it. */
		if (frags->page[i] && page_ref_count(frags->page[i]) == 1) {
			zio_space_count(space, ZIO_EV_PAGES_RECYCLED,
					zio_frag_pages(frags->page[i]));
			frags->cur = i;
			frags->offset = 0;
			return true;
		}
	}
	return false;
}

/*
 * Make new frag @page the current one: in an empty entry, or in place of
 * the next one, still in flight. Under frags->lock.
 */
static void zio_frag_install(struct zio_frags *frags, struct page *page)
{
	unsigned int n, i = 0;

	for (n = 1; n <= ZIO_NR_FRAGS; n++) {
		i = (frags->cur + n) % ZIO_NR_FRAGS;
		if (!frags->page[i])
			break;
	}
	if (n > ZIO_NR_FRAGS)
		i = (frags->cur + 1) % ZIO_NR_FRAGS;
	zio_frag_set(frags, i, page);
	frags->cur = i;
	frags->offset = 0;
}

/**
 * zio_frags_copy() - copy what @from holds into the space's send frags
 * @space: the space
 * @from: a kernel iterator (bvec) over the bytes
 * @seg: filled in with the segments of frags that hold the bytes, each
 *	with a reference for the caller (zio_frags_put())
 * @max_segs: room in @seg
 *
 * Return: the segments filled, all of @from copied; -ENOMEM when a frag
 * could not be had, -EFAULT when @from did not give its bytes, with no
 * reference taken either way.
 */
int zio_frags_copy(struct zio_space *space, struct iov_iter *from,
		   struct bio_vec *seg, unsigned int max_segs)
{
	struct zio_frags *frags = &space->frags;
	size_t left = iov_iter_count(from);
	struct page *fresh = NULL;
	unsigned int nr = 0, i;

	mutex_lock(&frags->lock);
	while (left) {
		struct page *page = frags->page[frags->cur];
		unsigned int size = page ? page_size(page) : 0, n;

		if (frags->offset >= size) {
			if (nr == max_segs)
				break;
			if (fresh) {
				zio_frag_install(frags, fresh);
				fresh = NULL;
				continue;
			}
			if (zio_frag_next(space))
				continue;
			/* Allocation may reclaim: not under the lock. */
			mutex_unlock(&frags->lock);
			fresh = zio_frag_alloc(space);
			mutex_lock(&frags->lock);
			if (!fresh)
				break;
			continue;
		}
		n = min_t(size_t, left, size - frags->offset);
		get_page(page);
		seg[nr++] = (struct bio_vec){
			.bv_page = page, .bv_offset = frags->offset, .bv_len = n,
		};
		frags->offset += n;
		left -= n;
	}
	mutex_unlock(&frags->lock);
	if (fresh)
		zio_frag_release(fresh);
	if (left) {
		zio_frags_put(seg, nr);
		return -ENOMEM;
	}

	/* Out of the lock: the bytes taken are this send's alone. */
	for (i = 0; i < nr; i++) {
		void *to = page_address(seg[i].bv_page) + seg[i].bv_offset;

		if (copy_from_iter(to, seg[i].bv_len, from) != seg[i].bv_len) {
			zio_frags_put(seg, nr);
			return -EFAULT;
		}
	}
	return nr;
}

/**
 * zio_frags_put() - drop the references zio_frags_copy() gave
 * @seg: the segments
 * @nr_segs: how many
 */
void zio_frags_put(struct bio_vec *seg, unsigned int nr_segs)
{
	unsigned int i;

	for (i = 0; i < nr_segs; i++)
		put_page(seg[i].bv_page);
}

/**
 * zio_frags_shrink() - free frags of a space that nobody else holds
 * @space: the space
 * @nr: free at most this many pages
 *
 * Frags in flight stay: the sockets holding them would only free them
 * later. Gives up at once if a send is taking bytes of the frags.
 *
 * Return: the pages freed.
 */
unsigned long zio_frags_shrink(struct zio_space *space, unsigned long nr)
{
	struct zio_frags *frags = &space->frags;
	unsigned long n = 0;
	unsigned int i;

	if (!mutex_trylock(&frags->lock))
		return 0;
	for (i = 0; i < ZIO_NR_FRAGS && n < nr; i++) {
		struct page *page = frags->page[i];

		/* Under the lock nobody takes a reference: see zio_frag_next(). */
		if (page && page_ref_count(page) == 1) {
			n += zio_frag_pages(page);
			zio_frag_set(frags, i, NULL);
		}
	}
	mutex_unlock(&frags->lock);
	return n;
}

/**
 * zio_frags_drain() - the ring lets go of a space's frags
 * @space: the space, on its way out
 */
void zio_frags_drain(struct zio_space *space)
{
	unsigned int i;

	for (i = 0; i < ZIO_NR_FRAGS; i++)
		zio_frag_set(&space->frags, i, NULL);
}
