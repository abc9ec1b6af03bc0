/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Send frags (frag.c): pages a space copies the bytes of a send into, for
 * a socket to take by reference, and takes again once the socket lets go.
 */
#ifndef _ZIO_FRAG_H
#define _ZIO_FRAG_H

#include <linux/bvec.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/sizes.h>
#include <linux/types.h>

struct iov_iter;
struct zio_space;

/*
 * 32 KiB frags, as TCP's own (SKB_FRAG_PAGE_ORDER), at most 512 a space:
 * 16 MiB, what four TCP sockets may have in flight by default (tcp_wmem).
 * A pipelining server has that much out to a few clients at once; idle
 * frags go back under memory pressure (reclaim.c).
 */
#define ZIO_FRAG_ORDER		get_order(SZ_32K)
#define ZIO_NR_FRAGS		512

/**
 * struct zio_frags - a space's send frags
 * @lock: serializes taking bytes of the frags
 * @page: a ring of frags (compound pages, or single pages where no
 *	compound page could be had), each with one reference of the ring's
 * @cur: the frag bytes are taken from
 * @offset: the first byte of @page[@cur] not taken yet
 * @nr_pages: pages of the frags in the ring
 */
struct zio_frags {
	struct mutex lock;	/* never held while allocating */
	struct page *page[ZIO_NR_FRAGS];
	unsigned int cur;
	unsigned int offset;
	unsigned int nr_pages;
};

void zio_frags_init(struct zio_frags *frags);
void zio_frags_drain(struct zio_space *space);
unsigned long zio_frags_shrink(struct zio_space *space, unsigned long nr);
int zio_frags_copy(struct zio_space *space, struct iov_iter *from,
		   struct bio_vec *seg, unsigned int max_segs);
void zio_frags_put(struct bio_vec *seg, unsigned int nr_segs);

#endif /* _ZIO_FRAG_H */
