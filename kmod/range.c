// SPDX-License-Identifier: GPL-2.0
/*
 * User ranges: which slots a range of the caller's address space maps.
 */
#include <linux/mm.h>
#include <linux/slab.h>

#include "range.h"
#include "space.h"
#include "vma.h"

/**
 * zio_extents_init() - an empty extent list
 * @map: the list
 */
void zio_extents_init(struct zio_extents *map)
{
	map->nr = 0;
	map->hint = 0;
	map->vma = NULL;
	map->cap = ZIO_INLINE_EXTENTS;
	map->ext = map->inline_ext;
}

/**
 * zio_extents_free() - free what an extent list allocated
 * @map: the list
 */
void zio_extents_free(struct zio_extents *map)
{
	if (map->ext != map->inline_ext)
		kfree(map->ext);
}

static struct zio_extent *zio_extents_add(struct zio_extents *map)
{
	if (map->nr == map->cap) {
		struct zio_extent *ext;

		ext = kmalloc_array(2 * map->cap, sizeof(*ext), GFP_KERNEL_ACCOUNT);
		if (!ext)
			return NULL;
		memcpy(ext, map->ext, map->nr * sizeof(*ext));
		zio_extents_free(map);
		map->ext = ext;
		map->cap *= 2;
	}
	return &map->ext[map->nr++];
}

/**
 * zio_map_range() - describe a user range as extents of zio VMAs
 * @file: the open the VMAs must map
 * @addr: the start of the range
 * @len: its length
 * @flags: VM_READ or VM_WRITE, which every VMA must have
 * @map: an initialized extent list, filled in; its @vma, when set, is
 *	looked at before the VMA tree
 * @spacep: the space the VMAs belong to; set if NULL, else checked
 *
 * Called with the caller's mmap_lock held.
 *
 * Return: 0, -EFAULT when part of the range is not in such a VMA, -EIO
 * when the space is broken (see struct zio_space), or -ENOMEM.
 */
int zio_map_range(struct file *file, unsigned long addr,
		  unsigned long len, unsigned long flags,
		  struct zio_extents *map, struct zio_space **spacep)
{
	unsigned long end = addr + len, cur = addr;

	while (cur < end) {
		struct vm_area_struct *vma = map->vma;
		struct zio_extent *ext;

		if (!vma || cur < vma->vm_start || cur >= vma->vm_end)
			vma = vma_lookup(current->mm, cur);
		map->vma = vma;

		if (!vma || vma->vm_ops != &zio_vm_ops || vma->vm_file != file ||
		    (vma->vm_flags & flags) != flags)
			return -EFAULT;
		/* A fork child's VMA that fork could not give a space. */
		if (!vma->vm_private_data)
			return -EIO;
		if (*spacep && *spacep != vma->vm_private_data)
			return -EFAULT;
		/* Its fork snapshot is incomplete: no data to act on. */
		if (READ_ONCE(((struct zio_space *)vma->vm_private_data)->broken))
			return -EIO;
		ext = zio_extents_add(map);
		if (!ext)
			return -ENOMEM;
		*spacep = vma->vm_private_data;

		ext->start = cur;
		ext->end = min(end, vma->vm_end);
		ext->pgoff = vma->vm_pgoff + ((cur - vma->vm_start) >> PAGE_SHIFT);
		cur = ext->end;
	}
	return 0;
}

/**
 * zio_space_lock_translated() - lock the space of ranges just translated
 * @space: the space, with a reference; mmap_lock is held for reading
 * @tries: how many times the caller translated its ranges before
 *
 * The translation holds while mmap_lock is held, and a munmap() after it
 * discards slots only under the space lock: with the space locked before
 * mmap_lock goes, an ioctl never fills slots that a munmap() discarded.
 * Sleeping for the space lock under mmap_lock would stall every fault of
 * the process behind a waiting mmap_lock writer, though, so that is the
 * last resort: first a trylock; then the space's unmap_seq, read under
 * mmap_lock and checked once the space is locked without it.
 *
 * Drops mmap_lock.
 *
 * Return: 0 with the space locked, -EAGAIN when a munmap() came in between
 * (translate again), or -EINTR.
 */
int zio_space_lock_translated(struct zio_space *space, unsigned int tries)
{
	unsigned long seq;
	int ret;

	if (mutex_trylock(&space->lock)) {
		mmap_read_unlock(current->mm);
		return 0;
	}
	if (tries >= 2) {
		ret = mutex_lock_killable(&space->lock);
		mmap_read_unlock(current->mm);
		return ret;
	}
	seq = READ_ONCE(space->unmap_seq);
	mmap_read_unlock(current->mm);
	ret = mutex_lock_killable(&space->lock);
	if (ret)
		return ret;
	if (space->unmap_seq == seq)
		return 0;
	mutex_unlock(&space->lock);
	return -EAGAIN;
}

/**
 * zio_map_extent() - the extent holding an address
 * @map: the extent list; lookups start where the last one ended
 * @addr: an address in the range @map describes
 *
 * Return: the extent.
 */
const struct zio_extent *zio_map_extent(struct zio_extents *map,
					unsigned long addr)
{
	unsigned int i, n = map->nr;

	for (i = 0; i < n; i++) {
		const struct zio_extent *ext = &map->ext[(map->hint + i) % n];

		if (addr >= ext->start && addr < ext->end) {
			map->hint = (map->hint + i) % n;
			return ext;
		}
	}
	WARN_ON_ONCE(1);
	return &map->ext[0];
}

/**
 * zio_map_pgoff() - the slot of the page holding an address
 * @map: the extent list
 * @addr: an address in the range @map describes
 *
 * Return: the slot's page offset.
 */
pgoff_t zio_map_pgoff(struct zio_extents *map, unsigned long addr)
{
	const struct zio_extent *ext = zio_map_extent(map, addr);

	return ext->pgoff + (addr >> PAGE_SHIFT) - (ext->start >> PAGE_SHIFT);
}
