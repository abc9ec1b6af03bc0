// SPDX-License-Identifier: GPL-2.0
/*
 * Fault handlers of zio mappings.
 *
 * .fault returns the slot's page locked (VM_FAULT_LOCKED), so the core mm
 * installs an ordinary refcounted PTE while the page lock is still held:
 * get_user_pages(), vmsplice and process_vm_readv() work on it. Because
 * the VMA has .page_mkwrite and is shared, read faults map pages read-only
 * and the first write to any page comes to zio_page_mkwrite(), which copies
 * a page that is not the slot's alone.
 */
#include <linux/delay.h>
#include <linux/mm.h>
#include <linux/pagemap.h>

#include "zio.h"

/**
 * zio_fault() - map the page of a slot
 * @vmf: the fault
 *
 * Return: VM_FAULT_LOCKED with vmf->page set, or an error.
 */
vm_fault_t zio_fault(struct vm_fault *vmf)
{
	struct zio_space *space = vmf->vma->vm_private_data;
	struct page *page;
	unsigned int delay;
	int ret;

	if (!space || READ_ONCE(space->broken))
		return VM_FAULT_SIGBUS;

	zio_space_count(space, ZIO_EV_FAULTS, 1);
	ret = zio_slot_lock_page(space, vmf->pgoff, &page);
	if (ret)
		return vmf_error(ret);

	/* Debug only: widen the window between the check and the install. */
	delay = READ_ONCE(zio_debug_fault_delay_us);
	if (unlikely(delay))
		fsleep(delay);

	vmf->page = page;
	return VM_FAULT_LOCKED;
}

/**
 * zio_page_mkwrite() - make a page writable, copying it if it is shared
 * @vmf: the write fault; vmf->page is the page .fault returned or the one
 *	mapped read-only, with a reference
 *
 * Return: VM_FAULT_LOCKED to map the page writable, or VM_FAULT_NOPAGE
 * once the slot has a new page (or changed under us): the fault is then
 * retried and .fault maps what the slot holds.
 */
vm_fault_t zio_page_mkwrite(struct vm_fault *vmf)
{
	struct zio_space *space = vmf->vma->vm_private_data;
	struct page *page = vmf->page, *copy;
	int ret;

	if (!space || READ_ONCE(space->broken))
		return VM_FAULT_SIGBUS;

	zio_space_count(space, ZIO_EV_FAULTS, 1);
	lock_page(page);
	if (xa_load(&space->slots, vmf->pgoff) != page) {
		unlock_page(page);
		return VM_FAULT_NOPAGE;
	}
	/* The fault holds one reference of its own. */
	if (zio_page_exclusive(page, 1))
		return VM_FAULT_LOCKED;

	ret = zio_slot_cow(space, vmf->pgoff, page, &copy);
	if (ret == -ENOMEM)
		return VM_FAULT_OOM;
	if (!ret)
		put_page(copy);
	return VM_FAULT_NOPAGE;
}
