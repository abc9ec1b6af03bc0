/* SPDX-License-Identifier: GPL-2.0 */
/*
 * zio mappings (vma.c): mmap(), the VMA operations, fork and munmap.
 */
#ifndef _ZIO_VMA_H
#define _ZIO_VMA_H

#include <linux/mm.h>

extern const struct vm_operations_struct zio_vm_ops;
int zio_mmap(struct file *file, struct vm_area_struct *vma);

#endif /* _ZIO_VMA_H */
