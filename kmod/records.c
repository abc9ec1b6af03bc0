// SPDX-License-Identifier: GPL-2.0
/*
 * Copy records.
 *
 * Every copy that defers pages leaves a record, in a ring of max_records
 * per space: the oldest is overwritten first. A fault that copies a
 * deferred page after all (on write, or at first touch of a pending copy)
 * charges it to the newest record whose destination slots hold the page:
 * this is what tells the library which call sites gain nothing from zio.
 */
#include <linux/ktime.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>

#include "params.h"
#include "records.h"
#include "space.h"

/**
 * zio_records_init() - set up the copy records of a new space
 * @space: the space
 */
void zio_records_init(struct zio_space *space)
{
	spin_lock_init(&space->records_lock);
}

/**
 * zio_records_destroy() - free the copy records of a dying space
 * @space: the space; no fault can reach it any more
 */
void zio_records_destroy(struct zio_space *space)
{
	kvfree(space->records);
}

/* The @i-th newest record; @i < nr_records. Under records_lock. */
static struct zio_record_slot *zio_record_nth(struct zio_space *space,
					      unsigned int i)
{
	unsigned int pos = space->records_next + space->records_size - 1 - i;

	return &space->records[pos % space->records_size];
}

/**
 * zio_records_add() - record a copy that deferred pages
 * @space: the space, locked
 * @tag: the caller's tag
 * @dst: destination address
 * @len: length of the copy
 * @pages: destination pages deferred
 * @first: the lowest destination slot deferred
 * @last: the highest
 */
void zio_records_add(struct zio_space *space, u64 tag, u64 dst, u64 len,
		     u64 pages, pgoff_t first, pgoff_t last)
{
	struct zio_record_slot *slot;

	if (!space->records) {
		unsigned int size = READ_ONCE(zio_max_records);
		struct zio_record_slot *ring;

		if (!size)
			return;
		ring = kvcalloc(size, sizeof(*ring), GFP_KERNEL_ACCOUNT);
		if (!ring)
			return;
		spin_lock(&space->records_lock);
		space->records = ring;
		space->records_size = size;
		spin_unlock(&space->records_lock);
	}

	spin_lock(&space->records_lock);
	slot = &space->records[space->records_next];
	slot->rec.tag = tag;
	slot->rec.dst = dst;
	slot->rec.len = len;
	slot->rec.time_ns = ktime_get_ns();
	slot->rec.pages_deferred = pages;
	slot->rec.pages_materialized = 0;
	slot->first = first;
	slot->last = last;
	space->records_next = (space->records_next + 1) % space->records_size;
	if (space->nr_records < space->records_size)
		space->nr_records++;
	spin_unlock(&space->records_lock);
}

/**
 * zio_records_forget() - stop charging a range of slots to records
 * @space: the space, locked
 * @first: the first slot, discarded
 * @last: the last slot
 */
void zio_records_forget(struct zio_space *space, pgoff_t first, pgoff_t last)
{
	unsigned int i;

	spin_lock(&space->records_lock);
	for (i = 0; i < space->nr_records; i++) {
		struct zio_record_slot *slot = zio_record_nth(space, i);

		if (slot->first >= first && slot->last <= last) {
			slot->first = 1;
			slot->last = 0;
		}
	}
	spin_unlock(&space->records_lock);
}

/**
 * zio_records_note_materialized() - a deferred page was used after all
 * @space: the space
 * @pgoff: the slot of the page, charged to the newest record holding it
 */
void zio_records_note_materialized(struct zio_space *space, pgoff_t pgoff)
{
	unsigned int i;

	spin_lock(&space->records_lock);
	for (i = 0; i < space->nr_records; i++) {
		struct zio_record_slot *slot = zio_record_nth(space, i);

		if (slot->first <= pgoff && pgoff <= slot->last) {
			slot->rec.pages_materialized++;
			break;
		}
	}
	spin_unlock(&space->records_lock);
}

/**
 * zio_records_get() - copy out the newest records, for ZIO_IOC_STATS
 * @space: the space
 * @st: records and records_cap say where to and how many; records_total
 *	and records_count are set
 *
 * Return: 0, -ENOMEM or -EFAULT.
 */
int zio_records_get(struct zio_space *space, struct zio_stats *st)
{
	struct zio_record __user *urec = u64_to_user_ptr(st->records);
	struct zio_record *buf;
	unsigned int i, n;
	int ret = 0;

	spin_lock(&space->records_lock);
	st->records_total = space->nr_records;
	spin_unlock(&space->records_lock);
	n = min_t(u64, st->records_cap, st->records_total);
	if (!n || !st->records)
		return 0;

	buf = kvmalloc_array(n, sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	spin_lock(&space->records_lock);
	n = min(n, space->nr_records);
	for (i = 0; i < n; i++)
		buf[i] = zio_record_nth(space, i)->rec;
	spin_unlock(&space->records_lock);

	/* User memory only once no zio lock is held. */
	if (copy_to_user(urec, buf, n * sizeof(*buf)))
		ret = -EFAULT;
	else
		st->records_count = n;
	kvfree(buf);
	return ret;
}

