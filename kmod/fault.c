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
 *
 * A read fault also maps, read-only, the pages the slots around it already
 * hold (zio_fault_around()): zio cannot map them from .map_pages, whose
 * helpers are not exported (its .map_pages maps nothing, see
 * zio_map_pages()), so it inserts them with vm_insert_page(), which is why
 * zio VMAs are VM_MIXEDMAP. Each is trylocked under the xa_lock, so it is in
 * its slot, and stays locked until its PTE is in: the race rule holds.
 */
#include <linux/delay.h>
#include <linux/mm.h>
#include <linux/pagemap.h>

#include "fault.h"
#include "params.h"
#include "slot.h"
#include "space.h"
#include "stats.h"

#define ZIO_FAULT_AROUND_PAGES	16

/* Map what the neighbouring slots hold, without waiting for anything. */
static void zio_fault_around(struct vm_fault *vmf, struct zio_space *space)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long window = ZIO_FAULT_AROUND_PAGES * PAGE_SIZE;
	unsigned long start = max(vma->vm_start, ALIGN_DOWN(vmf->address, window));
	unsigned long end = min(vma->vm_end, ALIGN_DOWN(vmf->address, window) + window);
	unsigned long addr;

	for (addr = start; addr < end; addr += PAGE_SIZE) {
		pgoff_t pgoff = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
		struct page *page;

		if (addr == (vmf->address & PAGE_MASK))
			continue;
		xa_lock(&space->slots);
		page = xa_load(&space->slots, pgoff);
		if (!page || zio_entry_is_pending(page) || zio_entry_is_run(page) ||
		    !trylock_page(page)) {
			xa_unlock(&space->slots);
			continue;
		}
		get_page(page);
		xa_unlock(&space->slots);

		/* -EBUSY: already mapped. Anything else: leave it to a fault. */
		vm_insert_page(vma, addr, page);
		unlock_page(page);
		put_page(page);
	}
}

/*
 * Out of memory: past the memory cgroup's limit the allocation ran the
 * cgroup's OOM killer already, and VM_FAULT_OOM retries the fault. Past
 * zio's own limit (max_pages) no OOM kill helps and a retry would spin:
 * the fault gets SIGBUS, as a fault past a hugetlbfs pool does.
 */
static vm_fault_t zio_fault_error(int err)
{
	if (err == -ENOMEM && zio_pages_at_limit())
		return VM_FAULT_SIGBUS;
	return vmf_error(err);
}

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
	if (!(vmf->flags & FAULT_FLAG_WRITE)) {
		/* Its window lies in the faulting slot's chunk: split first. */
		BUILD_BUG_ON(ZIO_RUN_PAGES % ZIO_FAULT_AROUND_PAGES);
		zio_slot_split_run(space, vmf->pgoff);
		zio_fault_around(vmf, space);
	}
	for (;;) {
		struct page *copy;

		ret = zio_slot_lock_page(space, vmf->pgoff, &page);
		if (ret)
			return zio_fault_error(ret);
		if (!(vmf->flags & FAULT_FLAG_WRITE) || zio_page_exclusive(page))
			break;
		/* A write: copy now rather than in page_mkwrite and fault again. */
		ret = zio_slot_cow(space, vmf->pgoff, page, &copy);
		put_page(page);
		if (ret == -ENOMEM)
			return zio_fault_error(ret);
		if (!ret)
			put_page(copy);
	}

	/*
	 * A poisoned page must not reach __do_fault(): it would evict the
	 * page from the address_space page->mapping names, dropping zio's
	 * reference while the slot still holds it.
	 */
	if (unlikely(PageHWPoison(page))) {
		unlock_page(page);
		put_page(page);
		return VM_FAULT_HWPOISON;
	}

	/* Debug only: widen the window between the check and the install. */
	delay = ZIO_DEBUG_KNOB(fault_delay_us);
	if (unlikely(delay))
		fsleep(delay);

	vmf->page = page;
	return VM_FAULT_LOCKED;
}

#ifdef CONFIG_PER_VMA_LOCK
/**
 * zio_map_pages() - map nothing ahead of zio_fault()
 * @vmf: the read fault
 * @start_pgoff: the first slot of the fault-around window
 * @end_pgoff: its last slot
 *
 * zio_fault() maps the neighbouring slots itself, since it may first have
 * to split a run, which sleeps; .map_pages runs under rcu_read_lock(). The
 * hook still matters: since 6.7 a fault under the per-VMA lock calls
 * .fault and .page_mkwrite only on a VMA that has .map_pages, and retries
 * any other fault under mmap_lock, which costs a second fault. zio's
 * handlers need neither lock themselves (space.h); a fork keeps them out
 * by write-locking the parent's zio VMAs (vma.c).
 *
 * Return: 0, so that the fault goes on to zio_fault().
 */
vm_fault_t zio_map_pages(struct vm_fault *vmf, pgoff_t start_pgoff,
			 pgoff_t end_pgoff)
{
	return 0;
}
#endif

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
	if (zio_page_exclusive(page)) {
		set_page_private(page, page_private(page) | ZIO_PAGE_WRITABLE);
		return VM_FAULT_LOCKED;
	}

	ret = zio_slot_cow(space, vmf->pgoff, page, &copy);
	if (ret == -ENOMEM)
		return zio_fault_error(ret);
	if (!ret)
		put_page(copy);
	return VM_FAULT_NOPAGE;
}
