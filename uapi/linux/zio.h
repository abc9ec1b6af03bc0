/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * zio: copies recorded instead of performed, between mappings of /dev/zio.
 *
 * The one header shared by the module, libzio, zioctl and the selftests.
 * Every structure is made of __u64 fields only, so it has the same layout on
 * 32-bit and 64-bit user space; reserved fields and unknown flags must be
 * zero, and the kernel rejects anything else with -EINVAL so that they can
 * be given a meaning later.
 */
#ifndef _UAPI_LINUX_ZIO_H
#define _UAPI_LINUX_ZIO_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#define ZIO_DEVICE_PATH		"/dev/zio"
#define ZIO_API_VERSION		1

/*
 * ioctl type 'Z': Documentation/userspace-api/ioctl/ioctl-number.rst gives
 * 'Z' only numbers 14-15 (mptctl), so zio takes 0x80-0x9f, clear of them,
 * with a letter that names it.
 */
#define ZIO_IOC_TYPE		'Z'

/* ZIO_IOC_COPY, ZIO_IOC_DISCARD and mmap(MAP_SHARED) of /dev/zio. */
#define ZIO_FEATURE_COPY	_BITULL(0)
/* ZIO_IOC_STATS with copy records. */
#define ZIO_FEATURE_STATS	_BITULL(1)
/* ZIO_IOC_WRITE and ZIO_IOC_READ. */
#define ZIO_FEATURE_IO		_BITULL(2)
/* ZIO_IO_SOCKET in struct zio_io's msg_flags. */
#define ZIO_FEATURE_IO_SOCKET	_BITULL(3)
/*
 * ZIO_IOC_COPY gives whole aligned chunks of 64 pages one entry, a run
 * (the copy_runs counter); not on kernels without multi-index xarrays.
 */
#define ZIO_FEATURE_COPY_RUNS	_BITULL(4)

/**
 * struct zio_info - what the module offers (ZIO_IOC_INFO)
 * @flags: in, must be 0
 * @api_version: out, ZIO_API_VERSION of the module
 * @features: out, ZIO_FEATURE_* bits the module supports
 * @page_size: out, the size of one page slot in bytes
 * @space_limit: out, the highest mmap offset + length allowed, in bytes:
 *	one process can never hold more than this in one open of /dev/zio
 * @copy_threshold: out, the copy size from which the administrator wants
 *	callers to use ZIO_IOC_COPY (libzio's default threshold)
 * @enabled: out, 0 when the administrator turned copies off: ZIO_IOC_COPY
 *	then fails with EOPNOTSUPP and callers copy themselves
 * @reserved: in, must be 0
 */
struct zio_info {
	__u64 flags;
	__u64 api_version;
	__u64 features;
	__u64 page_size;
	__u64 space_limit;
	__u64 copy_threshold;
	__u64 enabled;
	__u64 reserved;
};

/**
 * struct zio_copy - copy @len bytes from @src to @dst (ZIO_IOC_COPY)
 * @dst: in, user address of the destination
 * @src: in, user address of the source
 * @len: in, bytes to copy; 0 is a no-op
 * @flags: in, must be 0
 * @tag: in, opaque to the kernel, kept in the copy record (a call site)
 * @bytes_deferred: out, bytes of whole destination pages that now share
 *	the source pages or wait as pending copies
 * @bytes_copied: out, bytes the kernel copied itself: partial pages, and
 *	pages that others hold references to
 * @reserved: in, must be 0
 *
 * Both ranges must lie in mappings of the file the ioctl is called on, in
 * the calling process. The ranges may overlap: the result is memmove()'s.
 *
 * EOPNOTSUPP: copies are turned off (struct zio_info.enabled).
 *
 * Like write(), a copy may be short: @bytes_deferred + @bytes_copied is
 * what was done, and less than @len when memory ran out or a signal is
 * pending part way. The kernel works backward when the ranges overlap
 * and @dst > @src, and forward otherwise, so what is left is the tail
 * (forward) or the head (backward) of the range; its source bytes are
 * still intact and memmove() of that part completes the copy. The ioctl
 * fails (and changes nothing) only when it could do nothing at all.
 */
struct zio_copy {
	__u64 dst;
	__u64 src;
	__u64 len;
	__u64 flags;
	__u64 tag;
	__u64 bytes_deferred;
	__u64 bytes_copied;
	__u64 reserved;
};

/**
 * struct zio_range - a page-aligned range of a zio mapping
 * @addr: in, user address, page aligned
 * @len: in, bytes, page aligned
 * @flags: in, must be 0
 * @reserved: in, must be 0
 */
struct zio_range {
	__u64 addr;
	__u64 len;
	__u64 flags;
	__u64 reserved;
};

/**
 * struct zio_counters - what a space (or the module) did
 * @pages_live: slots that hold a page
 * @pages_shared: of those, slots whose page another slot holds too
 * @pages_pending: slots waiting for a deferred copy
 * @copies: ZIO_IOC_COPY calls that succeeded
 * @bytes_deferred: bytes shared or made pending by those calls
 * @bytes_copied: bytes those calls copied in the kernel
 * @pages_cow: pages copied because a shared page was written
 * @pages_materialized: pending copies done at first touch
 * @pages_fallback: pages copied at once because of foreign references
 * @faults: page faults handled
 * @discards: pages discarded
 * @io_bytes_written: bytes ZIO_IOC_WRITE sent from slot pages
 * @io_bytes_read: bytes ZIO_IOC_READ received into fresh slot pages
 * @pages_recycled: pages taken from the space's pool of pages it let go
 *	of, instead of from the page allocator (which zeroes them first)
 * @pages_pooled: pages in those pools now
 * @copy_runs: aligned chunks of 64 pages that a copy gave one entry
 *	(a run) instead of one per page
 */
struct zio_counters {
	__u64 pages_live;
	__u64 pages_shared;
	__u64 pages_pending;
	__u64 copies;
	__u64 bytes_deferred;
	__u64 bytes_copied;
	__u64 pages_cow;
	__u64 pages_materialized;
	__u64 pages_fallback;
	__u64 faults;
	__u64 discards;
	__u64 io_bytes_written;
	__u64 io_bytes_read;
	__u64 pages_recycled;
	__u64 pages_pooled;
	__u64 copy_runs;
};

/**
 * struct zio_record - one copy that deferred pages
 * @tag: the caller's tag, from struct zio_copy
 * @dst: the destination address of the copy
 * @len: the length of the copy
 * @time_ns: when it happened, CLOCK_MONOTONIC
 * @pages_deferred: destination pages shared or made pending
 * @pages_materialized: of those, pages copied since (written, or touched
 *	when pending), or pending pages a ZIO_IOC_WRITE sent
 */
struct zio_record {
	__u64 tag;
	__u64 dst;
	__u64 len;
	__u64 time_ns;
	__u64 pages_deferred;
	__u64 pages_materialized;
};

/**
 * struct zio_stats - the calling process's counters and copy records
 * @flags: in, 0 or ZIO_STATS_GLOBAL: the module's counters over every
 *	space, live or gone (no records then)
 * @records: in, user pointer to an array of struct zio_record, or 0
 * @records_cap: in, entries in that array
 * @records_count: out, records written, newest first
 * @records_total: out, records the space holds
 * @reserved: in, must be 0
 * @counters: out, this process's counters for this open
 */
struct zio_stats {
	__u64 flags;
	__u64 records;
	__u64 records_cap;
	__u64 records_count;
	__u64 records_total;
	__u64 reserved[3];
	struct zio_counters counters;
};

#define ZIO_STATS_GLOBAL	_BITULL(0)

#define ZIO_IO_FILE_POS		(~0ULL)
/* In msg_flags: a send() or recv(), also without MSG_* flags. */
#define ZIO_IO_SOCKET		_BITULL(32)

/**
 * struct zio_io - move data between a zio buffer and a file descriptor
 * @fd: in, the file descriptor: a file, pipe, socket...
 * @addr: in, user address of the buffer, in mappings of this file
 * @len: in, bytes
 * @offset: in, the file offset, as for pwrite() and pread(), or
 *	ZIO_IO_FILE_POS to use and advance the file position, as write()
 *	and read() do
 * @msg_flags: in, 0 for write() and read() semantics; for a socket, the
 *	MSG_* flags of send() or recv() (some of them, see the uapi document),
 *	with ZIO_IO_SOCKET so that a file that is no socket fails as send()
 *	and recv() do
 * @reserved: in, must be 0
 *
 * ZIO_IOC_WRITE sends straight from the pages that hold the buffer, so
 * pending copies are done without a fault and untouched pages are never
 * mapped. ZIO_IOC_READ receives into fresh pages and puts them in the
 * buffer's slots. Both return what write()/send() and read()/recv() would:
 * the bytes moved, or a negative errno (-EAGAIN, -EPIPE with SIGPIPE,
 * -EBADF...), and -EFAULT when the buffer is not entirely in writable
 * (read) or readable (write) mappings of this file.
 */
struct zio_io {
	__u64 fd;
	__u64 addr;
	__u64 len;
	__u64 offset;
	__u64 msg_flags;
	__u64 reserved[3];
};

#define ZIO_IOC_INFO		_IOWR(ZIO_IOC_TYPE, 0x80, struct zio_info)
#define ZIO_IOC_COPY		_IOWR(ZIO_IOC_TYPE, 0x81, struct zio_copy)
#define ZIO_IOC_DISCARD		_IOW(ZIO_IOC_TYPE, 0x82, struct zio_range)
#define ZIO_IOC_STATS		_IOWR(ZIO_IOC_TYPE, 0x83, struct zio_stats)
#define ZIO_IOC_WRITE		_IOW(ZIO_IOC_TYPE, 0x84, struct zio_io)
#define ZIO_IOC_READ		_IOW(ZIO_IOC_TYPE, 0x85, struct zio_io)

/*
 * Generic netlink family ZIO_GENL_NAME: statistics, settings and events
 * (Documentation/netlink.rst). Only in the initial network namespace.
 *
 * ZIO_CMD_GET_STATS (do): the settings and the module's counters, in a
 *	ZIO_ATTR_COUNTERS nest, and ZIO_ATTR_NR_SPACES. Open to everyone.
 * ZIO_CMD_GET_SPACE (dump): one message per space: ZIO_ATTR_SPACE_ID,
 *	ZIO_ATTR_PID, ZIO_ATTR_UID and ZIO_ATTR_COUNTERS. Without
 *	CAP_NET_ADMIN, only the spaces of the caller's own uid.
 * ZIO_CMD_SET (do, CAP_NET_ADMIN): change the settings present among
 *	ZIO_ATTR_SPACE_LIMIT, ZIO_ATTR_ENABLED, ZIO_ATTR_COPY_THRESHOLD,
 *	ZIO_ATTR_MAX_RECORDS and ZIO_ATTR_MAX_PAGES; all are checked before
 *	any is changed.
 * ZIO_CMD_SPACE_NEW, ZIO_CMD_SPACE_DEL, ZIO_CMD_LIMIT (events, on the
 *	multicast group ZIO_GENL_MCGRP_EVENTS, which needs CAP_NET_ADMIN):
 *	a space was created or freed; an mmap() was refused by space_limit.
 */
#define ZIO_GENL_NAME		"zio"
#define ZIO_GENL_VERSION	1
#define ZIO_GENL_MCGRP_EVENTS	"events"

/* The largest max_records ZIO_CMD_SET accepts. */
#define ZIO_MAX_RECORDS_MAX	16384

enum zio_cmd {
	ZIO_CMD_UNSPEC,
	ZIO_CMD_GET_STATS,
	ZIO_CMD_GET_SPACE,
	ZIO_CMD_SET,
	ZIO_CMD_SPACE_NEW,
	ZIO_CMD_SPACE_DEL,
	ZIO_CMD_LIMIT,

	__ZIO_CMD_MAX,
	ZIO_CMD_MAX = __ZIO_CMD_MAX - 1
};

/**
 * enum zio_attr - top-level attributes of the zio family
 * @ZIO_ATTR_UNSPEC: unused
 * @ZIO_ATTR_PAD: padding for 64-bit attributes
 * @ZIO_ATTR_SPACE_LIMIT: u64, bytes: space_limit, a multiple of the page
 *	size, at least one page
 * @ZIO_ATTR_ENABLED: u8, 0 or 1: copies are recorded
 * @ZIO_ATTR_COPY_THRESHOLD: u64, bytes: libzio's default copy threshold,
 *	at least one page
 * @ZIO_ATTR_MAX_RECORDS: u32, copy records kept per space, at most
 *	ZIO_MAX_RECORDS_MAX; applies to spaces created afterwards
 * @ZIO_ATTR_PAGE_SIZE: u32, out: the page size
 * @ZIO_ATTR_NR_SPACES: u32, out: spaces alive
 * @ZIO_ATTR_COUNTERS: nest of enum zio_counter_attr, out
 * @ZIO_ATTR_SPACE_ID: u64, out: a space's id, unique while the module is
 *	loaded, increasing in order of creation
 * @ZIO_ATTR_PID: u32, out: the process (thread group id, in the initial
 *	pid namespace for events, in the caller's for dumps); 0 when not
 *	known yet (a fork child still being created)
 * @ZIO_ATTR_UID: u32, out: the real uid of that process
 * @ZIO_ATTR_PARENT_PID: u32, out (ZIO_CMD_SPACE_NEW): the forking parent,
 *	when the space is a fork child's snapshot
 * @ZIO_ATTR_MMAP_END: u64, out (ZIO_CMD_LIMIT): the offset + length the
 *	refused mmap() asked for, in bytes
 * @ZIO_ATTR_MAX_PAGES: u64, pages: max_pages, the pages zio may hold over
 *	all processes, at least 1 and at most the largest unsigned long
 * @__ZIO_ATTR_MAX: internal
 * @ZIO_ATTR_MAX: highest attribute number
 */
enum zio_attr {
	ZIO_ATTR_UNSPEC,
	ZIO_ATTR_PAD,
	ZIO_ATTR_SPACE_LIMIT,
	ZIO_ATTR_ENABLED,
	ZIO_ATTR_COPY_THRESHOLD,
	ZIO_ATTR_MAX_RECORDS,
	ZIO_ATTR_PAGE_SIZE,
	ZIO_ATTR_NR_SPACES,
	ZIO_ATTR_COUNTERS,
	ZIO_ATTR_SPACE_ID,
	ZIO_ATTR_PID,
	ZIO_ATTR_UID,
	ZIO_ATTR_PARENT_PID,
	ZIO_ATTR_MMAP_END,
	ZIO_ATTR_MAX_PAGES,

	__ZIO_ATTR_MAX,
	ZIO_ATTR_MAX = __ZIO_ATTR_MAX - 1
};

/*
 * Attributes of a ZIO_ATTR_COUNTERS nest, all u64: the fields of struct
 * zio_counters, and ZIO_COUNTER_RECORDS, the copy records a space holds
 * (per space only).
 */
enum zio_counter_attr {
	ZIO_COUNTER_UNSPEC,
	ZIO_COUNTER_PAD,
	ZIO_COUNTER_PAGES_LIVE,
	ZIO_COUNTER_PAGES_SHARED,
	ZIO_COUNTER_PAGES_PENDING,
	ZIO_COUNTER_COPIES,
	ZIO_COUNTER_BYTES_DEFERRED,
	ZIO_COUNTER_BYTES_COPIED,
	ZIO_COUNTER_PAGES_COW,
	ZIO_COUNTER_PAGES_MATERIALIZED,
	ZIO_COUNTER_PAGES_FALLBACK,
	ZIO_COUNTER_FAULTS,
	ZIO_COUNTER_DISCARDS,
	ZIO_COUNTER_RECORDS,
	ZIO_COUNTER_IO_BYTES_WRITTEN,
	ZIO_COUNTER_IO_BYTES_READ,
	ZIO_COUNTER_PAGES_RECYCLED,
	ZIO_COUNTER_PAGES_POOLED,
	ZIO_COUNTER_COPY_RUNS,

	__ZIO_COUNTER_MAX,
	ZIO_COUNTER_MAX = __ZIO_COUNTER_MAX - 1
};

#endif /* _UAPI_LINUX_ZIO_H */
