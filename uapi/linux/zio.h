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
 * @reserved: 0
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
	__u64 reserved[5];
};

/**
 * struct zio_record - one copy that deferred pages
 * @tag: the caller's tag, from struct zio_copy
 * @dst: the destination address of the copy
 * @len: the length of the copy
 * @time_ns: when it happened, CLOCK_MONOTONIC
 * @pages_deferred: destination pages shared or made pending
 * @pages_materialized: of those, pages copied since (written, or touched
 *	when pending)
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

#define ZIO_IOC_INFO		_IOWR(ZIO_IOC_TYPE, 0x80, struct zio_info)
#define ZIO_IOC_COPY		_IOWR(ZIO_IOC_TYPE, 0x81, struct zio_copy)
#define ZIO_IOC_DISCARD		_IOW(ZIO_IOC_TYPE, 0x82, struct zio_range)
#define ZIO_IOC_STATS		_IOWR(ZIO_IOC_TYPE, 0x83, struct zio_stats)

#endif /* _UAPI_LINUX_ZIO_H */
