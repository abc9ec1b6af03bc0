/* SPDX-License-Identifier: GPL-2.0 */
/*
 * zio internal interfaces.
 *
 * Objects:
 *
 *   struct zio_file   one open of /dev/zio; owns a private inode whose
 *                     address_space every mapping of the open joins.
 *   struct zio_space  the memory of one process (mm) in one open: page
 *                     slots indexed by file page offset. A process that
 *                     forks gets a second space for the child.
 *   slot              an entry of space->slots: a struct page, or a
 *                     struct zio_pending (a deferred copy), or nothing
 *                     (reads as zeros).
 *
 * A page may sit in several slots, of one or several spaces; page->private
 * counts them (its "shares"), and zio holds one page reference while a page
 * has any share. A pending copy holds a share of each of its (at most two)
 * source pages.
 * A page with more than one share is never written in place: writes copy
 * it first. A page with references zio cannot account for (O_DIRECT, a
 * pin, a pipe) is never shared, but written in place, as an exclusive
 * anonymous page is. The top bit of page->private, ZIO_PAGE_WRITABLE, says
 * that zio_page_mkwrite() let a PTE map the page writable since the page
 * was last zapped: whoever shares or copies such a page zaps it first
 * (zio_page_unmap_writable()). The next bit, ZIO_PAGE_LENT, says that zio
 * sent the page by reference: a socket may still read it, so it is never
 * written in place again. Shares and bits change under the page lock only.
 * While zio holds a page, page->mapping is the open's address_space, so
 * that nobody outside zio maps it (a TCP zerocopy receive copies instead).
 *
 * Lock order, outermost first:
 *
 *   mmap_lock (or, on 6.12, the VMA lock)
 *     zio_file.lock          the spaces of one open
 *       zio_space.lock       slot changes by ioctls, fork and munmap
 *         page lock          one at a time, never two
 *           i_mmap_rwsem     in unmap_mapping_range()
 *             PTL
 *   The xa_lock of a space's slots and its records_lock are leaves; a page
 *   may be trylocked under xa_lock.
 *
 * Fault handlers take no zio mutex. They change a slot only with
 * xa_cmpxchg(), and install a page only while holding the lock of a page
 * they have just checked against its slot. Whoever else changes a slot, or
 * raises a page's shares, locks and unlocks the page afterwards and only
 * then zaps its mappings: a fault that saw the old state has then finished
 * installing its PTE, and the zap removes it. No zio mutex is held while
 * user memory is touched.
 */
#ifndef _ZIO_H
#define _ZIO_H

#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/xarray.h>

#include <linux/zio.h>

struct mem_cgroup;

/* Module parameters. */
extern unsigned long zio_space_limit;
extern unsigned long zio_max_pages;
extern bool zio_enabled;
extern unsigned long zio_copy_threshold;
extern unsigned int zio_max_records;
extern bool zio_debug_skip_barrier;
extern unsigned int zio_debug_fault_delay_us;
extern unsigned int zio_debug_io_install_pages;
extern unsigned int zio_debug_fork_fail_after;

/**
 * struct zio_file - one open of /dev/zio
 * @inode: private inode from zio's pseudo filesystem; the file's f_mapping
 *	is its address_space, so zapping a range reaches only this open's
 *	mappings (and those of its fork children)
 * @lock: protects @spaces
 * @spaces: the spaces of this open, one per process
 */
struct zio_file {
	struct inode *inode;
	struct mutex lock;		/* protects @spaces */
	struct list_head spaces;
};

/* Event counters, per space and module-wide. */
enum zio_event {
	ZIO_EV_COPIES,
	ZIO_EV_BYTES_DEFERRED,
	ZIO_EV_BYTES_COPIED,
	ZIO_EV_PAGES_COW,
	ZIO_EV_PAGES_MATERIALIZED,
	ZIO_EV_PAGES_FALLBACK,
	ZIO_EV_FAULTS,
	ZIO_EV_DISCARDS,
	ZIO_EV_IO_WRITTEN,
	ZIO_EV_IO_READ,
	ZIO_NR_EVENTS
};

/**
 * struct zio_space - the memory of one process in one open
 * @ref: one per VMA, plus one per ioctl in progress
 * @id: unique while the module is loaded, increasing in order of creation:
 *	names the space in netlink messages and tracepoints
 * @zfile: the open this space belongs to
 * @file_node: entry in @zfile's spaces
 * @global_node: entry in zio_spaces, for statistics
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
 */
struct zio_space {
	struct kref ref;
	u64 id;
	struct zio_file *zfile;
	struct list_head file_node;
	struct list_head global_node;
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
};

/**
 * struct zio_record_slot - a copy record and the slots it deferred
 * @rec: what ZIO_IOC_STATS returns
 * @first: the lowest destination slot deferred
 * @last: the highest; @first > @last once discarded
 */
struct zio_record_slot {
	struct zio_record rec;
	pgoff_t first;
	pgoff_t last;
};

#define ZIO_PAGE_WRITABLE	BIT(BITS_PER_LONG - 1)
#define ZIO_PAGE_LENT		BIT(BITS_PER_LONG - 2)

/* The slots (and pending copies) holding @page. */
static inline unsigned long zio_page_shares(struct page *page)
{
	return page_private(page) & ~(ZIO_PAGE_WRITABLE | ZIO_PAGE_LENT);
}

/**
 * struct zio_pending - a destination page waiting for a deferred copy
 * @ref: one per slot holding it, plus one per fault materializing it
 * @src: the source pages, each with a share taken; NULL reads as zeros
 * @offset: the destination page starts @offset bytes into @src[0] and
 *	goes on at the start of @src[1]
 */
struct zio_pending {
	struct kref ref;
	struct page *src[2];
	unsigned int offset;
};

#define ZIO_PENDING_TAG		1

static inline bool zio_entry_is_pending(void *entry)
{
	return xa_pointer_tag(entry) == ZIO_PENDING_TAG;
}

static inline struct zio_pending *zio_entry_pending(void *entry)
{
	return xa_untag_pointer(entry);
}

static inline void *zio_pending_entry(struct zio_pending *pending)
{
	return xa_tag_pointer(pending, ZIO_PENDING_TAG);
}

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
	struct zio_extent *ext;
	struct zio_extent inline_ext[ZIO_INLINE_EXTENTS];
};

/* device.c */
int zio_device_register(void);
void zio_device_unregister(void);

/* space.c */
extern const struct vm_operations_struct zio_vm_ops;
struct zio_file *zio_file_create(void);
void zio_file_destroy(struct zio_file *zfile);
int zio_mmap(struct file *file, struct vm_area_struct *vma);
struct zio_space *zio_space_find(struct zio_file *zfile, struct mm_struct *mm,
				 bool create);
void zio_space_put(struct zio_space *space);
void zio_space_count(struct zio_space *space, enum zio_event event, u64 n);
void zio_space_note_slots(struct zio_space *space, long n);
void zio_global_counters(struct zio_counters *counters);
void zio_space_counters(struct zio_space *space, struct zio_counters *counters);
void zio_space_zap(struct zio_space *space, pgoff_t first, pgoff_t last);
void zio_space_zap_released(struct zio_space *space, pgoff_t first,
			    pgoff_t last, bool mapped);

/**
 * struct zio_space_info - what the netlink dump reports of one space
 * @id: the space's id
 * @pid: its process, in the dumper's pid namespace; 0 if not known yet
 * @uid: the real uid of that process; INVALID_UID if not known
 * @counters: zio_space_counters()
 * @records: copy records the space holds
 */
struct zio_space_info {
	u64 id;
	pid_t pid;
	kuid_t uid;
	struct zio_counters counters;
	u64 records;
};

struct pid_namespace;
void zio_space_owner(struct zio_space *space, struct pid_namespace *ns,
		     pid_t *pid, kuid_t *uid);
unsigned int zio_spaces_nr(void);
int zio_spaces_walk(u64 after, struct pid_namespace *ns,
		    int (*fn)(const struct zio_space_info *info, void *arg),
		    void *arg);

/* slot.c */
extern atomic64_t zio_nr_pages;
extern atomic64_t zio_nr_pending;
struct page *zio_page_alloc(struct zio_space *space, gfp_t gfp);
void zio_page_free_new(struct page *page);
void zio_page_unshare(struct page *page);
bool zio_pages_at_limit(void);
bool zio_page_exclusive(struct page *page);
bool zio_page_foreign_refs(struct page *page, int own_refs);
void zio_page_unmap_writable(struct zio_space *space, pgoff_t pgoff,
			     struct page *page);
struct zio_pending *zio_pending_create(struct page *src0, struct page *src1,
				       unsigned int offset);
void zio_pending_put(struct zio_pending *pending);
void zio_pending_fill(struct zio_pending *pending, struct page *dst);
void zio_slot_release(void *entry, bool *mapped);
int zio_slot_get_page(struct zio_space *space, pgoff_t pgoff,
		      struct page **pagep);
int zio_slot_lock_page(struct zio_space *space, pgoff_t pgoff,
		       struct page **pagep);
int zio_slot_get_exclusive(struct zio_space *space, pgoff_t pgoff,
			   struct page **pagep);
int zio_slot_get_exclusive_spare(struct zio_space *space, pgoff_t pgoff,
				 struct page **pagep, struct page **spare);
int zio_slot_cow(struct zio_space *space, pgoff_t pgoff, struct page *page,
		 struct page **newp);
int zio_slot_take_share(struct zio_space *space, pgoff_t pgoff,
			struct page **pagep, bool *fallback);
void zio_page_take_share_locked(struct page *page);
void *zio_slot_snapshot(struct zio_space *child, struct zio_space *parent,
			pgoff_t pgoff);
void zio_slot_discard(struct zio_space *space, pgoff_t first, pgoff_t last);

/* range.c */
void zio_extents_init(struct zio_extents *map);
void zio_extents_free(struct zio_extents *map);
int zio_map_range(struct file *file, unsigned long addr, unsigned long len,
		  unsigned long flags, struct zio_extents *map,
		  struct zio_space **spacep);
int zio_space_lock_translated(struct zio_space *space, unsigned int tries);
const struct zio_extent *zio_map_extent(struct zio_extents *map,
					unsigned long addr);
pgoff_t zio_map_pgoff(struct zio_extents *map, unsigned long addr);

/* fault.c */
vm_fault_t zio_fault(struct vm_fault *vmf);
vm_fault_t zio_page_mkwrite(struct vm_fault *vmf);

/* copy.c */
long zio_ioctl_copy(struct file *file, struct zio_copy __user *uarg);
long zio_ioctl_discard(struct file *file, struct zio_range __user *uarg);

/* io.c */
long zio_ioctl_write(struct file *file, struct zio_io __user *uarg);
long zio_ioctl_read(struct file *file, struct zio_io __user *uarg);

/* netlink.c */
int zio_netlink_register(void);
void zio_netlink_unregister(void);
void zio_notify_space(struct zio_space *space, u8 cmd);
void zio_notify_limit(struct vm_area_struct *vma);

/* stats.c */
long zio_ioctl_stats(struct file *file, struct zio_stats __user *uarg);
void zio_records_init(struct zio_space *space);
void zio_records_destroy(struct zio_space *space);
void zio_records_add(struct zio_space *space, u64 tag, u64 dst, u64 len,
		     u64 pages, pgoff_t first, pgoff_t last);
void zio_records_forget(struct zio_space *space, pgoff_t first, pgoff_t last);
void zio_records_note_materialized(struct zio_space *space, pgoff_t pgoff);

#endif /* _ZIO_H */
