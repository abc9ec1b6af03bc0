/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copy records (records.c): a ring per space of the copies that deferred
 * pages, and what became of those pages.
 */
#ifndef _ZIO_RECORDS_H
#define _ZIO_RECORDS_H

#include <linux/types.h>

#include <linux/zio.h>

struct zio_space;

/**
 * struct zio_record_slot - a copy record and the slots it deferred
 * @rec: what ZIO_IOC_STATS returns
 * @first: the lowest destination slot deferred
 * @last: the highest; @first > @last once discarded
 */
struct zio_record_slot {
	struct zio_record rec;
	pgoff_t first;
	pgoff_t last;
};

void zio_records_init(struct zio_space *space);
void zio_records_destroy(struct zio_space *space);
void zio_records_add(struct zio_space *space, u64 tag, u64 dst, u64 len,
		     u64 pages, pgoff_t first, pgoff_t last);
void zio_records_forget(struct zio_space *space, pgoff_t first, pgoff_t last);
void zio_records_note_materialized(struct zio_space *space, pgoff_t pgoff);
int zio_records_get(struct zio_space *space, struct zio_stats *st);

#endif /* _ZIO_RECORDS_H */
