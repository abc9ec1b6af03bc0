/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Spaces (space.c): the memory of one process in one open.
 *
 * Objects:
 *
 *   struct zio_file   one open of /dev/zio (file.h); owns a private inode
 *                     whose address_space every mapping of the open joins.
 *   struct zio_space  the memory of one process (mm) in one open: page
 *                     slots indexed by file page offset. A process that
 *                     forks gets a second space for the child (vma.c).
 *   slot              an entry of space->slots: a struct page, or a
 *                     struct zio_pending (a deferred copy), or nothing
 *                     (reads as zeros); see slot.h.
 *
 * Lock order, outermost first:
 *
 *   mmap_lock (or, on 6.12, the VMA lock)
 *     zio_file.lock          the spaces of one open
 *       zio_space.lock       slot changes by ioctls, fork and munmap
 *         page lock          one at a time, never two
 *           i_mmap_rwsem     in unmap_mapping_range()
 *             PTL
 *   zio_spaces_lock (stats.c)  the list of all spaces: taken under
 *                     zio_file.lock when a space is created; the netlink
 *                     walk takes xa_lock and records_lock under it; memory
 *                     reclaim (reclaim.c) only trylocks it, and a space's
 *                     frags.lock, and takes pool_lock under them
 *   The xa_lock of a space's slots, its records_lock, its pool_lock and
 *   its frags.lock are leaves; a page may be trylocked under xa_lock.
 *
 * Fault handlers take no zio mutex. They change a slot only with
 * xa_cmpxchg(), or by splitting a run (zio_slot_split_run()), which puts
 * the run's own pages back in its slots; and they install a page only
 * while holding the lock of a page they have just checked against its
 * slot. Whoever else changes a slot, or raises a page's shares, locks and
 * unlocks the page afterwards and only then zaps its mappings: a fault
 * that saw the old state has then finished installing its PTE, and the
 * zap removes it. A split needs no zap: nothing maps a run's slots, and
 * the run keeps a share of each page, so none is written in place. No zio
 * mutex is held while user memory is touched.
 */
#ifndef _ZIO_SPACE_H
#define _ZIO_SPACE_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/xarray.h>

#include "frag.h"
#include "stats.h"

/* Free pages a space keeps for its next allocations (slot.c). */
#define ZIO_POOL_PAGES		256

struct mem_cgroup;
struct zio_file;
struct zio_record_slot;

/**
 * struct zio_space - the memory of one process in one open
 * @ref: one per VMA, plus one per ioctl in progress
 * @id: unique while the module is loaded, increasing in order of creation:
 *	names the space in netlink messages and tracepoints
 * @zfile: the open this space belongs to
 * @file_node: entry in @zfile's spaces
 * @global_node: entry in the list of every space, for statistics
 * @mm: the process's mm; only compared, and read for its owner's pid
 *	under RCU (zio_space_owner()): the space dies with the mm's last
 *	VMA of it, so the mm outlives the space
 * @memcg: the memory cgroup pages are charged to
 * @lock: serializes slot changes by ioctls, fork and munmap
 * @slots: page offset -> struct page *, or a tagged struct zio_pending *
 * @broken: fork could not record this space's snapshot: faults get SIGBUS,
 *	ioctls -EIO
 * @unmap_seq: bumped, under @lock, whenever munmap discards slots: an
 *	ioctl that translated its range before it took @lock checks it
 *	then (zio_space_lock_translated(), and a read that blocked)
 * @nr_slots: slots that hold something, counted in the process's RSS
 * @events: counters, enum zio_event
 * @records_lock: protects the records
 * @records: a ring of copy records, allocated at the first one
 * @records_size: entries in the ring
 * @nr_records: records in the ring; the newest is at @records_next - 1
 * @records_next: where the next record goes
 * @pool_lock: protects the free pages
 * @nr_pool: pages in @pool
 * @frags: the frags sends to TCP copy into (frag.c)
 * @pool: free pages kept for the space's next allocations (slot.c), a
 *	stack: the last one kept is the first one taken
 */
struct zio_space {
	struct kref ref;
	u64 id;
	struct zio_file *zfile;
	struct list_head file_node;
	struct list_head global_node;
	struct list_head reclaim_node;	/* on zio_reclaim_lru (reclaim.c) */
	struct mm_struct *mm;
	struct mem_cgroup *memcg;
	struct mutex lock;		/* serializes slot changes */
	struct xarray slots;
	bool broken;
	unsigned long unmap_seq;
	atomic_long_t nr_slots;
	atomic64_t events[ZIO_NR_EVENTS];
	spinlock_t records_lock;	/* protects the records */
	struct zio_record_slot *records;
	unsigned int records_size;
	unsigned int nr_records;
	unsigned int records_next;
	spinlock_t pool_lock;		/* protects the pool */
	unsigned int nr_pool;
	struct zio_frags frags;
	struct page *pool[ZIO_POOL_PAGES];
};

struct zio_space *zio_space_find(struct zio_file *zfile, struct mm_struct *mm,
				 bool create);
void zio_space_put(struct zio_space *space);

#endif /* _ZIO_SPACE_H */
