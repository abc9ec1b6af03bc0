// SPDX-License-Identifier: GPL-2.0
/*
 * Files and spaces: the state behind an open of /dev/zio and the memory of
 * each process that maps it.
 *
 * Every open gets an inode of its own from a small pseudo filesystem, the
 * way DRM gives each device file its own address_space: the misc device's
 * inode is shared by every open, and unmapping through it would reach other
 * processes' mappings.
 *
 * A fork copies the VMAs of a zio mapping, not the memory behind them: the
 * child's VMA is opened (zio_vm_open()) before it joins the address_space
 * and before its page tables are copied. zio gives it a space of its own,
 * a snapshot of the parent's slots, and zaps the parent's mappings so that
 * the parent's next write copies the page, and so that no PTE is left for
 * the fork to copy. If memory runs out while the
 * snapshot is taken, the child's space is marked broken and the child gets
 * SIGBUS when it touches it: it never sees wrong data.
 */
#include <linux/fs.h>
#include <linux/memcontrol.h>
#include <linux/mm_inline.h>
#include <linux/mm.h>
#include <linux/mount.h>
#include <linux/pid_namespace.h>
#include <linux/pseudo_fs.h>
#include <linux/rcupdate.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "compat.h"
#include "zio.h"

#define ZIO_FS_MAGIC		0x7a696f21	/* "zio!" */
#define ZIO_MAX_COVERS		16

/* Mounted while any open exists; the mount pins this module. */
static struct vfsmount *zio_fs_mnt;
static int zio_fs_count;

/* Every space, for statistics, in order of creation (of id). */
static LIST_HEAD(zio_spaces);
static DEFINE_MUTEX(zio_spaces_lock);
static u64 zio_spaces_last_id;		/* under zio_spaces_lock */
static atomic64_t zio_events[ZIO_NR_EVENTS];

static int zio_fs_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, ZIO_FS_MAGIC) ? 0 : -ENOMEM;
}

/*
 * zio's pages point to the open's address_space while zio holds them (see
 * slot.c); marking one dirty, as a write fault or an unpin does, only sets
 * its flag: nothing is ever written back.
 */
static const struct address_space_operations zio_aops = {
	.dirty_folio = noop_dirty_folio,
};

static struct file_system_type zio_fs_type = {
	.name = "zio",
	.owner = THIS_MODULE,
	.init_fs_context = zio_fs_init_fs_context,
	.kill_sb = kill_anon_super,
};

/**
 * zio_file_create() - allocate the state of a new open of /dev/zio
 *
 * Return: the new file state, or an ERR_PTR() on failure.
 */
struct zio_file *zio_file_create(void)
{
	struct zio_file *zfile;
	struct inode *inode;
	int ret;

	zfile = kzalloc(sizeof(*zfile), GFP_KERNEL_ACCOUNT);
	if (!zfile)
		return ERR_PTR(-ENOMEM);

	ret = simple_pin_fs(&zio_fs_type, &zio_fs_mnt, &zio_fs_count);
	if (ret)
		goto out_free_zfile;

	inode = alloc_anon_inode(zio_fs_mnt->mnt_sb);
	if (IS_ERR(inode)) {
		ret = PTR_ERR(inode);
		goto out_release_fs;
	}
	inode->i_mapping->a_ops = &zio_aops;
	zfile->inode = inode;
	mutex_init(&zfile->lock);
	INIT_LIST_HEAD(&zfile->spaces);
	return zfile;

out_release_fs:
	simple_release_fs(&zio_fs_mnt, &zio_fs_count);
out_free_zfile:
	kfree(zfile);
	return ERR_PTR(ret);
}

/**
 * zio_file_destroy() - free the state of an open once its file is released
 * @zfile: the file state; its mappings, and so its spaces, are all gone
 */
void zio_file_destroy(struct zio_file *zfile)
{
	WARN_ON_ONCE(!list_empty(&zfile->spaces));
	iput(zfile->inode);
	simple_release_fs(&zio_fs_mnt, &zio_fs_count);
	kfree(zfile);
}

/**
 * zio_space_count() - count an event, in the space and module-wide
 * @space: the space
 * @event: what happened
 * @n: how many times
 */
void zio_space_count(struct zio_space *space, enum zio_event event, u64 n)
{
	atomic64_add(n, &space->events[event]);
	atomic64_add(n, &zio_events[event]);
}

/**
 * zio_space_note_slots() - count slots that were filled or emptied
 * @space: the space
 * @n: slots that hold something now and did not before, or the negative
 *	of those emptied
 *
 * The pages zio holds are not on the LRU and are never swapped; counting
 * a space's slots in its process's RSS shows the OOM killer, and
 * /proc/PID/status (RssShmem), who holds them, mapped or not. A page that
 * several slots share counts once for each, as the copies it stands for
 * would; a mapped page counts in RssFile too.
 */
void zio_space_note_slots(struct zio_space *space, long n)
{
	if (!n)
		return;
	atomic_long_add(n, &space->nr_slots);
	zio_mm_add_rss(space->mm, n);
}

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

/* Called with zfile->lock held. */
static struct zio_space *zio_space_create(struct zio_file *zfile,
					  struct mm_struct *mm)
{
	struct zio_space *space;

	space = kzalloc(sizeof(*space), GFP_KERNEL_ACCOUNT);
	if (!space)
		return ERR_PTR(-ENOMEM);

	kref_init(&space->ref);
	space->zfile = zfile;
	space->mm = mm;
	/*
	 * The caller's: at mmap it owns @mm; at fork it is the parent, and
	 * the child is in no cgroup of its own yet (cgroup_post_fork() comes
	 * after the mm is copied), so its mm would give the root cgroup.
	 */
	space->memcg = get_mem_cgroup_from_mm(current->mm);
	mutex_init(&space->lock);
	xa_init_flags(&space->slots, XA_FLAGS_ACCOUNT);
	zio_records_init(space);
	list_add(&space->file_node, &zfile->spaces);

	mutex_lock(&zio_spaces_lock);
	space->id = ++zio_spaces_last_id;
	list_add_tail(&space->global_node, &zio_spaces);
	mutex_unlock(&zio_spaces_lock);
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

	mutex_lock(&zio_spaces_lock);
	list_del(&space->global_node);
	mutex_unlock(&zio_spaces_lock);

	/* The space's own VMAs are gone: nothing maps its slots any more. */
	xa_for_each(&space->slots, index, entry) {
		zio_slot_release(entry, &mapped);
		if (!(++n % 64))
			cond_resched();
	}
	xa_destroy(&space->slots);
	/* The mm outlives its spaces: check_mm() finds the RSS balanced. */
	zio_mm_add_rss(space->mm, -atomic_long_read(&space->nr_slots));
	zio_notify_space(space, ZIO_CMD_SPACE_DEL);
	zio_records_destroy(space);
	mem_cgroup_put(space->memcg);
	kfree(space);
}

/**
 * zio_space_put() - drop a reference to a space
 * @space: the space; the last reference frees its slots
 */
void zio_space_put(struct zio_space *space)
{
	kref_put_mutex(&space->ref, zio_space_release, &space->zfile->lock);
}

/* Give the child's VMA its own copy of the parent's slots it covers. */
static struct zio_space *zio_space_fork(struct zio_space *parent,
					struct vm_area_struct *vma)
{
	pgoff_t first = vma->vm_pgoff, last = first + vma_pages(vma) - 1;
	struct zio_space *child;
	unsigned long index, n = 0;
	bool mapped = false;
	void *entry, *snap, *old;

	/*
	 * Zap first: no PTE of the parent may be copied to the child, and
	 * no GUP may take a reference through one after the snapshot has
	 * checked for references. The parent's mmap_lock is held for
	 * writing, so its faults wait until the fork is done.
	 */
	zio_space_zap(parent, first, last);
	child = zio_space_find(parent->zfile, vma->vm_mm, true);
	if (IS_ERR(child))
		return NULL;

	/* Nothing but this fork reaches the child's space yet. */
	mutex_lock(&parent->lock);
	if (READ_ONCE(parent->broken))
		WRITE_ONCE(child->broken, true);
	xa_for_each_range(&parent->slots, index, entry, first, last) {
		/* Debug only: fail as if memory had run out. */
		if (unlikely(n && n == READ_ONCE(zio_debug_fork_fail_after)))
			snap = ERR_PTR(-ENOMEM);
		else
			snap = zio_slot_snapshot(child, parent, index);
		if (!snap)
			continue;
		old = IS_ERR(snap) ? XA_ERROR(PTR_ERR(snap)) :
				     xa_store(&child->slots, index, snap, GFP_KERNEL);
		if (xa_is_err(old)) {
			if (!IS_ERR(snap))
				zio_slot_release(snap, &mapped);
			WRITE_ONCE(child->broken, true);
			break;
		}
		/* Two parent VMAs may map the same offset. */
		zio_space_note_slots(child, old ? 0 : 1);
		zio_slot_release(old, &mapped);
		if (!(++n % 64))
			cond_resched();
	}
	mutex_unlock(&parent->lock);
	return child;
}

/* A VMA split, moved by mremap, or copied into a fork child. */
static void zio_vm_open(struct vm_area_struct *vma)
{
	struct zio_space *space = vma->vm_private_data;

	if (!space)
		return;
	if (vma->vm_mm == space->mm) {
		kref_get(&space->ref);
		return;
	}
	vma->vm_private_data = zio_space_fork(space, vma);
}

struct zio_cover {
	pgoff_t first, last;
};

/*
 * Discard the slots of a closing VMA that no other VMA of the space maps.
 * mmap_lock is held (for reading at least), so the VMA tree is stable; the
 * closing VMA has left it or is skipped.
 */
static void zio_space_unmap(struct zio_space *space, struct vm_area_struct *vma)
{
	VMA_ITERATOR(vmi, vma->vm_mm, 0);
	pgoff_t first = vma->vm_pgoff, last = first + vma_pages(vma) - 1;
	struct zio_cover covers[ZIO_MAX_COVERS];
	unsigned int nr = 0, i;
	struct vm_area_struct *other;
	pgoff_t cur, next;

	for_each_vma(vmi, other) {
		pgoff_t ofirst = other->vm_pgoff;
		pgoff_t olast = ofirst + vma_pages(other) - 1;

		if (other == vma || other->vm_ops != &zio_vm_ops ||
		    other->vm_private_data != space ||
		    olast < first || ofirst > last)
			continue;
		if (nr == ZIO_MAX_COVERS)
			return;		/* keep the slots until the space dies */
		covers[nr].first = ofirst;
		covers[nr].last = olast;
		nr++;
	}

	mutex_lock(&space->lock);
	WRITE_ONCE(space->unmap_seq, space->unmap_seq + 1);
	for (cur = first; cur <= last; cur = next) {
		next = last + 1;
		for (i = 0; i < nr; i++) {
			if (covers[i].first <= cur && cur <= covers[i].last) {
				next = covers[i].last + 1;
				break;
			}
			if (covers[i].first > cur && covers[i].first < next)
				next = covers[i].first;
		}
		if (i == nr)
			zio_slot_discard(space, cur, next - 1);
		if (!next)
			break;	/* wrapped: the cover ran to the last offset */
	}
	mutex_unlock(&space->lock);
}

static void zio_vm_close(struct vm_area_struct *vma)
{
	struct zio_space *space = vma->vm_private_data;

	if (!space)
		return;
	/* At exit every VMA goes, and the last one frees the space whole. */
	if (atomic_read(&vma->vm_mm->mm_users))
		zio_space_unmap(space, vma);
	zio_space_put(space);
}

const struct vm_operations_struct zio_vm_ops = {
	.open = zio_vm_open,
	.close = zio_vm_close,
	.fault = zio_fault,
	.page_mkwrite = zio_page_mkwrite,
};

/**
 * zio_mmap() - map slots of the caller's space
 * @file: an open of /dev/zio
 * @vma: the new VMA
 *
 * Return: 0; -EINVAL for a private mapping; -ENOMEM when the mapping would
 * reach beyond space_limit, or for lack of memory.
 */
int zio_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct zio_file *zfile = file->private_data;
	unsigned long pages = vma_pages(vma);
	struct zio_space *space;

	/* The core mm would copy private pages where zio cannot see them. */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_pgoff + pages < vma->vm_pgoff ||
	    vma->vm_pgoff + pages > READ_ONCE(zio_space_limit) >> PAGE_SHIFT) {
		zio_notify_limit(vma);
		return -ENOMEM;
	}

	space = zio_space_find(zfile, vma->vm_mm, true);
	if (IS_ERR(space))
		return PTR_ERR(space);

	/*
	 * Growing in place would escape the limit checked here. VM_MIXEDMAP
	 * lets faults map neighbours with vm_insert_page(); it also makes
	 * fork copy PTEs, but zio_vm_open() has zapped the parent's by then.
	 */
	zio_vm_flags_set(vma, VM_DONTEXPAND | VM_MIXEDMAP);
	vma->vm_ops = &zio_vm_ops;
	vma->vm_private_data = space;
	return 0;
}

static void zio_add_events(atomic64_t *events, struct zio_counters *c)
{
	c->copies += atomic64_read(&events[ZIO_EV_COPIES]);
	c->bytes_deferred += atomic64_read(&events[ZIO_EV_BYTES_DEFERRED]);
	c->bytes_copied += atomic64_read(&events[ZIO_EV_BYTES_COPIED]);
	c->pages_cow += atomic64_read(&events[ZIO_EV_PAGES_COW]);
	c->pages_materialized += atomic64_read(&events[ZIO_EV_PAGES_MATERIALIZED]);
	c->pages_fallback += atomic64_read(&events[ZIO_EV_PAGES_FALLBACK]);
	c->faults += atomic64_read(&events[ZIO_EV_FAULTS]);
	c->discards += atomic64_read(&events[ZIO_EV_DISCARDS]);
	c->io_bytes_written += atomic64_read(&events[ZIO_EV_IO_WRITTEN]);
	c->io_bytes_read += atomic64_read(&events[ZIO_EV_IO_READ]);
}

/* Count the slots: live, shared and pending. */
static void zio_space_count_slots(struct zio_space *space,
				  struct zio_counters *c)
{
	XA_STATE(xas, &space->slots, 0);
	unsigned int n = 0;
	void *entry;

	xas_lock(&xas);
	xas_for_each(&xas, entry, ULONG_MAX) {
		if (zio_entry_is_pending(entry)) {
			c->pages_pending++;
		} else {
			c->pages_live++;
			if (zio_page_shares(entry) > 1)
				c->pages_shared++;
		}
		if (!(++n % 1024)) {
			xas_pause(&xas);
			xas_unlock(&xas);
			cond_resched();
			xas_lock(&xas);
		}
	}
	xas_unlock(&xas);
}

/**
 * zio_space_counters() - a space's counters
 * @space: the space
 * @c: filled in
 */
void zio_space_counters(struct zio_space *space, struct zio_counters *c)
{
	memset(c, 0, sizeof(*c));
	zio_space_count_slots(space, c);
	zio_add_events(space->events, c);
}

/**
 * zio_global_counters() - the module's counters, over every space
 * @c: filled in; pages_live and pages_pending count pages and pending
 *	copies zio holds, each once however many slots share it
 */
void zio_global_counters(struct zio_counters *c)
{
	struct zio_counters slots;
	struct zio_space *space;

	memset(c, 0, sizeof(*c));
	memset(&slots, 0, sizeof(slots));
	mutex_lock(&zio_spaces_lock);
	list_for_each_entry(space, &zio_spaces, global_node)
		zio_space_count_slots(space, &slots);
	mutex_unlock(&zio_spaces_lock);

	c->pages_live = atomic64_read(&zio_nr_pages);
	c->pages_pending = atomic64_read(&zio_nr_pending);
	c->pages_shared = slots.pages_shared;
	zio_add_events(zio_events, c);
}

/**
 * zio_space_owner() - the process a space belongs to
 * @space: a space, alive or on zio_spaces
 * @ns: the pid namespace to give the pid in
 * @pid: set to the thread group id of the mm's owner, or 0 when the mm has
 *	none (yet: a fork child's space is made before its pid exists)
 * @uid: set to the owner's real uid, or INVALID_UID
 */
void zio_space_owner(struct zio_space *space, struct pid_namespace *ns,
		     pid_t *pid, kuid_t *uid)
{
	*pid = 0;
	*uid = INVALID_UID;
#ifdef CONFIG_MEMCG
	{
		struct task_struct *owner;

		/* Tasks are freed after an RCU grace period. */
		rcu_read_lock();
		owner = rcu_dereference(space->mm->owner);
		if (owner) {
			*pid = task_tgid_nr_ns(owner, ns);
			*uid = task_uid(owner);
		}
		rcu_read_unlock();
	}
#endif
}

/**
 * zio_spaces_nr() - how many spaces are alive
 *
 * Return: the number of spaces.
 */
unsigned int zio_spaces_nr(void)
{
	struct zio_space *space;
	unsigned int n = 0;

	mutex_lock(&zio_spaces_lock);
	list_for_each_entry(space, &zio_spaces, global_node)
		n++;
	mutex_unlock(&zio_spaces_lock);
	return n;
}

/**
 * zio_spaces_walk() - report every space created after a cursor
 * @after: skip the spaces whose id is at most this (0: none)
 * @ns: the pid namespace to give pids in
 * @fn: called for each space, in order of id, with zio_spaces_lock held
 *	(it must not sleep for long, nor take a zio lock); a nonzero return
 *	stops the walk
 * @arg: passed to @fn
 *
 * Ids only grow along the list, so a dump that resumes after the last id
 * it reported neither repeats nor skips a space that was there all along.
 *
 * Return: 0, or what @fn returned to stop the walk.
 */
int zio_spaces_walk(u64 after, struct pid_namespace *ns,
		    int (*fn)(const struct zio_space_info *info, void *arg),
		    void *arg)
{
	struct zio_space_info info;
	struct zio_space *space;
	int ret = 0;

	mutex_lock(&zio_spaces_lock);
	list_for_each_entry(space, &zio_spaces, global_node) {
		if (space->id <= after)
			continue;
		/* A space on the list has its slots, even with no reference. */
		info.id = space->id;
		zio_space_owner(space, ns, &info.pid, &info.uid);
		zio_space_counters(space, &info.counters);
		spin_lock(&space->records_lock);
		info.records = space->nr_records;
		spin_unlock(&space->records_lock);
		ret = fn(&info, arg);
		if (ret)
			break;
	}
	mutex_unlock(&zio_spaces_lock);
	return ret;
}
