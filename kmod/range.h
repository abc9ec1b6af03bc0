/* SPDX-License-Identifier: GPL-2.0 */
/*
 * User ranges (range.c): which slots a range of the caller's address
 * space maps, for the ioctls.
 */
#ifndef _ZIO_RANGE_H
#define _ZIO_RANGE_H

#include <linux/types.h>

struct file;
struct vm_area_struct;
struct zio_space;

#define ZIO_INLINE_EXTENTS	4

/* A part of a user range inside one zio VMA. */
struct zio_extent {
	unsigned long start;	/* first byte, inside the range */
	unsigned long end;	/* one past the last byte */
	pgoff_t pgoff;		/* slot of the page holding @start */
};

struct zio_extents {
	unsigned int nr, cap;
	unsigned int hint;		/* where the last lookup ended */
	/*
	 * The VMA zio_map_range() found last, or NULL; valid only while the
	 * caller holds mmap_lock: another range translated under the same
	 * hold may start with it. zio_extents_init() clears it.
	 */
	struct vm_area_struct *vma;
	struct zio_extent *ext;
	struct zio_extent inline_ext[ZIO_INLINE_EXTENTS];
};

void zio_extents_init(struct zio_extents *map);
void zio_extents_free(struct zio_extents *map);
int zio_map_range(struct file *file, unsigned long addr, unsigned long len,
		  unsigned long flags, struct zio_extents *map,
		  struct zio_space **spacep);
int zio_space_lock_translated(struct zio_space *space, unsigned int tries);
const struct zio_extent *zio_map_extent(struct zio_extents *map,
					unsigned long addr);
pgoff_t zio_map_pgoff(struct zio_extents *map, unsigned long addr);

#endif /* _ZIO_RANGE_H */
