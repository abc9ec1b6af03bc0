/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fault handlers of zio mappings (fault.c).
 */
#ifndef _ZIO_FAULT_H
#define _ZIO_FAULT_H

#include <linux/mm.h>

vm_fault_t zio_fault(struct vm_fault *vmf);
vm_fault_t zio_map_pages(struct vm_fault *vmf, pgoff_t start_pgoff,
			 pgoff_t end_pgoff);
vm_fault_t zio_page_mkwrite(struct vm_fault *vmf);

#endif /* _ZIO_FAULT_H */
