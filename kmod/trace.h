/* SPDX-License-Identifier: GPL-2.0 */
/*
 * zio tracepoints: /sys/kernel/tracing/events/zio/. Every event names the
 * space by its id (the space_id of the netlink dump) and slots by their
 * page offset in the open's file.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM zio

#if !defined(_ZIO_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _ZIO_TRACE_H

#include <linux/tracepoint.h>

#include "space.h"

/* A ZIO_IOC_COPY call, with what it did and its result. */
TRACE_EVENT(zio_copy,
	    TP_PROTO(struct zio_space *space, u64 dst, u64 src, u64 len,
		     u64 deferred, u64 copied, int ret),
	    TP_ARGS(space, dst, src, len, deferred, copied, ret),
	    TP_STRUCT__entry(__field(u64, space)
			     __field(u64, dst)
			     __field(u64, src)
			     __field(u64, len)
			     __field(u64, deferred)
			     __field(u64, copied)
			     __field(int, ret)),
	    TP_fast_assign(__entry->space = space->id;
			   __entry->dst = dst;
			   __entry->src = src;
			   __entry->len = len;
			   __entry->deferred = deferred;
			   __entry->copied = copied;
			   __entry->ret = ret;),
	    TP_printk("space=%llu dst=0x%llx src=0x%llx len=%llu deferred=%llu copied=%llu ret=%d",
		      __entry->space, __entry->dst, __entry->src, __entry->len,
		      __entry->deferred, __entry->copied, __entry->ret)
);

/* Destination slots took shares of source pages; none is not an event. */
TRACE_EVENT_CONDITION(zio_share,
		      TP_PROTO(struct zio_space *space, pgoff_t dst, pgoff_t src,
			       unsigned int pages),
		      TP_ARGS(space, dst, src, pages),
		      TP_CONDITION(pages),
		      TP_STRUCT__entry(__field(u64, space)
				       __field(pgoff_t, dst)
				       __field(pgoff_t, src)
				       __field(unsigned int, pages)),
		      TP_fast_assign(__entry->space = space->id;
				     __entry->dst = dst;
				     __entry->src = src;
				     __entry->pages = pages;),
		      TP_printk("space=%llu dst_pgoff=%lu src_pgoff=%lu pages=%u",
				__entry->space, __entry->dst, __entry->src,
				__entry->pages)
);

DECLARE_EVENT_CLASS(zio_slot_class,
		    TP_PROTO(struct zio_space *space, pgoff_t pgoff),
		    TP_ARGS(space, pgoff),
		    TP_STRUCT__entry(__field(u64, space)
				     __field(pgoff_t, pgoff)),
		    TP_fast_assign(__entry->space = space->id;
				   __entry->pgoff = pgoff;),
		    TP_printk("space=%llu pgoff=%lu", __entry->space,
			      __entry->pgoff)
);

/* A pending copy was performed, at first touch or for a kernel read. */
DEFINE_EVENT(zio_slot_class, zio_materialize,
	     TP_PROTO(struct zio_space *space, pgoff_t pgoff),
	     TP_ARGS(space, pgoff)
);

/* A page held by more than one slot, or by others, was copied to write it. */
DEFINE_EVENT(zio_slot_class, zio_cow,
	     TP_PROTO(struct zio_space *space, pgoff_t pgoff),
	     TP_ARGS(space, pgoff)
);

/* A run was split into one entry per slot, from @pgoff on. */
DEFINE_EVENT(zio_slot_class, zio_split,
	     TP_PROTO(struct zio_space *space, pgoff_t pgoff),
	     TP_ARGS(space, pgoff)
);

/* Slots emptied: ZIO_IOC_DISCARD, or munmap() of their last mapping. */
TRACE_EVENT(zio_discard,
	    TP_PROTO(struct zio_space *space, pgoff_t first, pgoff_t last,
		     unsigned long pages),
	    TP_ARGS(space, first, last, pages),
	    TP_STRUCT__entry(__field(u64, space)
			     __field(pgoff_t, first)
			     __field(pgoff_t, last)
			     __field(unsigned long, pages)),
	    TP_fast_assign(__entry->space = space->id;
			   __entry->first = first;
			   __entry->last = last;
			   __entry->pages = pages;),
	    TP_printk("space=%llu first=%lu last=%lu pages=%lu",
		      __entry->space, __entry->first, __entry->last,
		      __entry->pages)
);

/* ZIO_IOC_WRITE or ZIO_IOC_READ: I/O between slot pages and a file. */
TRACE_EVENT(zio_io,
	    TP_PROTO(struct zio_space *space, bool write, int fd, u64 addr,
		     u64 len, s64 ret),
	    TP_ARGS(space, write, fd, addr, len, ret),
	    TP_STRUCT__entry(__field(u64, space)
			     __field(bool, write)
			     __field(int, fd)
			     __field(u64, addr)
			     __field(u64, len)
			     __field(s64, ret)),
	    TP_fast_assign(__entry->space = space->id;
			   __entry->write = write;
			   __entry->fd = fd;
			   __entry->addr = addr;
			   __entry->len = len;
			   __entry->ret = ret;),
	    TP_printk("space=%llu %s fd=%d addr=0x%llx len=%llu ret=%lld",
		      __entry->space, __entry->write ? "write" : "read",
		      __entry->fd, __entry->addr, __entry->len, __entry->ret)
);

#endif /* _ZIO_TRACE_H */

/* Out of the kernel tree: define_trace.h finds this file through -I$(src). */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
