// SPDX-License-Identifier: GPL-2.0
/*
 * Spaces: the memory of each process that maps an open of /dev/zio. A
 * space is found or created at mmap() and at fork (vma.c), held by each of
 * its VMAs and by each ioctl at work on it, and freed with its slots when
 * the last reference goes.
 */
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include <linux/zio.h>

#include "compat.h"
#include "file.h"
#include "netlink.h"
#include "reclaim.h"
#include "records.h"
#include "slot.h"
#include "space.h"
#include "stats.h"

/* Called with zfile->lock held. */
static struct zio_space *zio_space_create(struct zio_file *zfile,
					  struct mm_struct *mm)
{
	struct mem_cgroup *memcg;
	struct zio_space *space;

	/*
	 * The caller's: at mmap it owns @mm; at fork it is the parent, and
	 * the child is in no cgroup of its own yet (cgroup_post_fork() comes
	 * after the mm is copied), so its mm would give the root cgroup. The
	 * struct is charged there too (reclaim.c).
	 */
	memcg = get_mem_cgroup_from_mm(current->mm);
	space = zio_reclaim_space_alloc(memcg);
	if (!space) {
		mem_cgroup_put(memcg);
		return ERR_PTR(-ENOMEM);
	}

	kref_init(&space->ref);
	space->zfile = zfile;
	space->mm = mm;
	space->memcg = memcg;
	mutex_init(&space->lock);
	xa_init_flags(&space->slots, XA_FLAGS_ACCOUNT);
	zio_records_init(space);
	spin_lock_init(&space->pool_lock);
	zio_frags_init(&space->frags);
	zio_reclaim_add(space);
	list_add(&space->file_node, &zfile->spaces);

	zio_spaces_add(space);
	zio_notify_space(space, ZIO_CMD_SPACE_NEW);
	return space;
}

/**
 * zio_space_find() - the space of a process in an open, if it has one
 * @zfile: the open
 * @mm: the process
 * @create: create the space if there is none
 *
 * Return: the space with a reference, NULL, or an ERR_PTR().
 */
struct zio_space *zio_space_find(struct zio_file *zfile, struct mm_struct *mm,
				 bool create)
{
	struct zio_space *space;

	mutex_lock(&zfile->lock);
	list_for_each_entry(space, &zfile->spaces, file_node) {
		if (space->mm == mm && kref_get_unless_zero(&space->ref))
			goto out_unlock;
	}
	space = create ? zio_space_create(zfile, mm) : NULL;
out_unlock:
	mutex_unlock(&zfile->lock);
	return space;
}

/* Called with zfile->lock held, which it drops. */
static void zio_space_release(struct kref *ref)
{
	struct zio_space *space = container_of(ref, struct zio_space, ref);
	unsigned long index, n = 0;
	bool mapped = false;
	void *entry;

	list_del(&space->file_node);
	mutex_unlock(&space->zfile->lock);

	zio_spaces_del(space);

	/* The space's own VMAs are gone: nothing maps its slots any more. */
	xa_for_each(&space->slots, index, entry) {
		zio_slot_release(entry, &mapped);
		if (!(++n % 64))
			cond_resched();
	}
	xa_destroy(&space->slots);
	zio_reclaim_del(space);
	zio_pool_shrink(space, ULONG_MAX);
	zio_frags_drain(space);
	/* The mm outlives its spaces: check_mm() finds the RSS balanced. */
	zio_mm_add_rss(space->mm, -atomic_long_read(&space->nr_slots));
	zio_notify_space(space, ZIO_CMD_SPACE_DEL);
	zio_records_destroy(space);
	mem_cgroup_put(space->memcg);
	zio_reclaim_space_free(space);
}

/**
 * zio_space_put() - drop a reference to a space
 * @space: the space; the last reference frees its slots
 */
void zio_space_put(struct zio_space *space)
{
	kref_put_mutex(&space->ref, zio_space_release, &space->zfile->lock);
}
