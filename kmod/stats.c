// SPDX-License-Identifier: GPL-2.0
/*
 * Copy records and the statistics ioctl.
 *
 * Every copy that defers pages leaves a record. Records are kept per space,
 * at most max_records of them, the oldest evicted first. A maple tree maps
 * destination page offsets to the newest record that deferred them, so that
 * a fault copying such a page (on write, or at first touch of a pending
 * copy) can be charged to the copy: this is what tells the library which
 * call sites gain nothing from zio. Faults read the tree under RCU; records
 * are freed after a grace period.
 */
#include <linux/ktime.h>
#include <linux/maple_tree.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "zio.h"

struct zio_record_entry {
	struct list_head node;
	struct rcu_head rcu;
	struct zio_record rec;
	atomic64_t materialized;
	pgoff_t first, last;
};

/**
 * zio_records_init() - set up the copy records of a new space
 * @space: the space
 */
void zio_records_init(struct zio_space *space)
{
	INIT_LIST_HEAD(&space->records);
	mt_init_flags(&space->record_ranges, MT_FLAGS_USE_RCU);
}

/* Remove what is left of @r's ranges from the tree; newer records stay. */
static void zio_record_unlink(struct zio_space *space, struct zio_record_entry *r)
{
	for (;;) {
		MA_STATE(mas, &space->record_ranges, r->first, r->first);
		unsigned long first = 0, last = 0;
		void *entry;
		bool found = false;

		rcu_read_lock();
		mas_for_each(&mas, entry, r->last) {
			if (entry == r) {
				first = mas.index;
				last = mas.last;
				found = true;
				break;
			}
		}
		rcu_read_unlock();
		if (!found ||
		    mtree_store_range(&space->record_ranges, first, last, NULL,
				      GFP_KERNEL))
			return;
	}
}

/**
 * zio_records_destroy() - free the copy records of a dying space
 * @space: the space; no fault can reach it any more
 */
void zio_records_destroy(struct zio_space *space)
{
	struct zio_record_entry *r, *tmp;

	mtree_destroy(&space->record_ranges);
	list_for_each_entry_safe(r, tmp, &space->records, node)
		kfree(r);
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
	unsigned int max = READ_ONCE(zio_max_records);
	struct zio_record_entry *r;

	if (!max)
		return;
	r = kzalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
	if (!r)
		return;
	r->rec.tag = tag;
	r->rec.dst = dst;
	r->rec.len = len;
	r->rec.time_ns = ktime_get_ns();
	r->rec.pages_deferred = pages;
	r->first = first;
	r->last = last;
	/* Without its range the record still counts, unattributed. */
	mtree_store_range(&space->record_ranges, first, last, r, GFP_KERNEL);
	list_add_tail(&r->node, &space->records);
	space->nr_records++;

	while (space->nr_records > max) {
		r = list_first_entry(&space->records, struct zio_record_entry, node);
		zio_record_unlink(space, r);
		list_del(&r->node);
		space->nr_records--;
		kfree_rcu(r, rcu);
	}
}

/**
 * zio_records_forget() - stop attributing a range of slots to records
 * @space: the space, locked
 * @first: the first slot
 * @last: the last slot
 */
void zio_records_forget(struct zio_space *space, pgoff_t first, pgoff_t last)
{
	if (!space->nr_records)
		return;
	mtree_store_range(&space->record_ranges, first, last, NULL, GFP_KERNEL);
}

/**
 * zio_records_note_materialized() - a deferred page was copied after all
 * @space: the space
 * @pgoff: the slot of the page
 */
void zio_records_note_materialized(struct zio_space *space, pgoff_t pgoff)
{
	struct zio_record_entry *r;

	rcu_read_lock();
	r = mtree_load(&space->record_ranges, pgoff);
	if (r)
		atomic64_inc(&r->materialized);
	rcu_read_unlock();
}

/* Copy out up to @cap records, newest first. */
static int zio_records_get(struct zio_space *space, struct zio_stats *st)
{
	struct zio_record __user *urec = u64_to_user_ptr(st->records);
	struct zio_record_entry *r;
	struct zio_record *buf;
	u64 n = 0, cap;

	mutex_lock(&space->lock);
	st->records_total = space->nr_records;
	cap = min_t(u64, st->records_cap, space->nr_records);
	mutex_unlock(&space->lock);
	if (!cap || !st->records)
		return 0;

	buf = kvmalloc_array(cap, sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	mutex_lock(&space->lock);
	list_for_each_entry_reverse(r, &space->records, node) {
		if (n == cap)
			break;
		buf[n] = r->rec;
		buf[n].pages_materialized = atomic64_read(&r->materialized);
		n++;
	}
	mutex_unlock(&space->lock);

	/* User memory only once no zio lock is held. */
	if (copy_to_user(urec, buf, n * sizeof(*buf))) {
		kvfree(buf);
		return -EFAULT;
	}
	kvfree(buf);
	st->records_count = n;
	return 0;
}

/**
 * zio_ioctl_stats() - ZIO_IOC_STATS: counters and copy records
 * @file: an open of /dev/zio
 * @uarg: struct zio_stats in user memory
 *
 * Return: 0 or a negative errno.
 */
long zio_ioctl_stats(struct file *file, struct zio_stats __user *uarg)
{
	struct zio_space *space;
	struct zio_stats st;
	int ret = 0;

	if (copy_from_user(&st, uarg, sizeof(st)))
		return -EFAULT;
	if ((st.flags & ~ZIO_STATS_GLOBAL) ||
	    memchr_inv(st.reserved, 0, sizeof(st.reserved)))
		return -EINVAL;

	st.records_count = 0;
	st.records_total = 0;
	memset(&st.counters, 0, sizeof(st.counters));
	if (st.flags & ZIO_STATS_GLOBAL) {
		zio_global_counters(&st.counters);
	} else {
		space = zio_space_find(file->private_data, current->mm, false);
		if (space) {
			zio_space_counters(space, &st.counters);
			ret = zio_records_get(space, &st);
			zio_space_put(space);
		}
	}
	if (ret)
		return ret;
	if (copy_to_user(uarg, &st, sizeof(st)))
		return -EFAULT;
	return 0;
}
