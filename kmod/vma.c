// SPDX-License-Identifier: GPL-2.0
/*
 * zio mappings: mmap(), and the VMA operations that follow a mapping
 * through splits, mremap(), fork and munmap.
 *
 * A fork copies the VMAs of a zio mapping, not the memory behind them: the
 * child's VMA is opened (zio_vm_open()) before it joins the address_space
 * and before its page tables are copied. zio gives it a space of its own,
 * a snapshot of the parent's slots, and zaps the parent's mappings so that
 * the parent's next write copies the page, and so that no PTE is left for
 * the fork to copy. No fault of the parent maps those slots again until
 * the fork is done, so the snapshot is one moment, as fork is for
 * anonymous memory. If memory runs out while the
 * snapshot is taken, the child's space is marked broken and the child gets
 * SIGBUS when it touches it: it never sees wrong data.
 */
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/sched.h>

#include "compat.h"
#include "fault.h"
#include "netlink.h"
#include "params.h"
#include "slot.h"
#include "space.h"
#include "stats.h"
#include "vma.h"

#define ZIO_MAX_COVERS		16

static bool zio_vma_maps_space(const struct vm_area_struct *vma,
			       const struct zio_space *space)
{
	return vma->vm_ops == &zio_vm_ops && vma->vm_private_data == space;
}

/*
 * Keep every fault out of the parent's mappings of @space until the fork
 * is done. A fault under mmap_lock waits for the fork, which holds it for
 * writing. Since 6.7 a fault may hold only its VMA's lock, and dup_mmap()
 * write-locks the parent's VMAs one at a time as it reaches them; but two
 * VMAs may map the same slots, and one the fork has not reached yet (a
 * MADV_DONTFORK one too: it is locked, not copied, when reached) would let
 * a write in while the slots are zapped and snapshotted. So each open of
 * the fork locks them all before it zaps. A VMA write lock lasts until
 * mmap_lock is released: after the first open, the walk finds them locked.
 */
static void zio_space_lock_vmas(struct zio_space *space)
{
#ifdef CONFIG_PER_VMA_LOCK
	VMA_ITERATOR(vmi, space->mm, 0);
	struct vm_area_struct *vma;

	mmap_assert_write_locked(space->mm);
	for_each_vma(vmi, vma) {
		if (zio_vma_maps_space(vma, space))
			vma_start_write(vma);
	}
#endif
}

/* Debug only: hold the fork where a fault could break in. */
static void zio_fork_debug_delay(void)
{
	if (unlikely(ZIO_DEBUG_KNOB(fork_delay_us)))
		fsleep(ZIO_DEBUG_KNOB(fork_delay_us));
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
	 * checked for references. The parent's faults wait until the fork
	 * is done.
	 */
	zio_space_lock_vmas(parent);
	zio_space_zap(parent, first, last);
	zio_fork_debug_delay();
	child = zio_space_find(parent->zfile, vma->vm_mm, true);
	if (IS_ERR(child))
		return NULL;

	/* Nothing but this fork reaches the child's space yet. */
	mutex_lock(&parent->lock);
	if (READ_ONCE(parent->broken))
		WRITE_ONCE(child->broken, true);
	xa_for_each_range(&parent->slots, index, entry, first, last) {
		/* Debug only: fail as if memory had run out. */
		if (unlikely(n && n == ZIO_DEBUG_KNOB(fork_fail_after)))
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
		zio_fork_debug_delay();
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

		if (other == vma || !zio_vma_maps_space(other, space) ||
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
#ifdef CONFIG_PER_VMA_LOCK
	.map_pages = zio_map_pages,
#endif
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
