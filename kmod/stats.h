/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Counters (stats.c): every counter zio keeps, per space and module-wide,
 * the list of all spaces they are summed over, and its walk for netlink.
 */
#ifndef _ZIO_STATS_H
#define _ZIO_STATS_H

#include <linux/atomic.h>
#include <linux/stddef.h>
#include <linux/types.h>
#include <linux/uidgid.h>

#include <linux/zio.h>

struct pid_namespace;
struct zio_space;

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
	ZIO_EV_PAGES_RECYCLED,
	ZIO_EV_COPY_RUNS,
	ZIO_NR_EVENTS
};

/*
 * The fields of struct zio_counters, each described
 * by one entry of zio_counter_defs[], in the order of the fields.
 */
#define ZIO_NR_COUNTERS	(sizeof(struct zio_counters) / sizeof(__u64))

/**
 * struct zio_counter_def - one counter
 * @name: the field's name
 * @offset: of the field in struct zio_counters
 * @attr: its attribute in a ZIO_ATTR_COUNTERS nest, enum zio_counter_attr
 * @event: the enum zio_event it sums, or -1 when counted from the slots
 */
struct zio_counter_def {
	const char *name;
	unsigned int offset;
	u16 attr;
	s8 event;
};

extern const struct zio_counter_def zio_counter_defs[];

/* The value of the field of @c that @def describes. */
static inline __u64 zio_counter_value(const struct zio_counters *c,
				      const struct zio_counter_def *def)
{
	return *(const __u64 *)((const char *)c + def->offset);
}

/*
 * Pages and pending copies zio holds, over every space; free pages the
 * spaces' pools keep, which zio_nr_pages does not count.
 */
extern atomic64_t zio_nr_pages;
extern atomic64_t zio_nr_pending;
extern atomic64_t zio_nr_pooled;

void zio_space_count(struct zio_space *space, enum zio_event event, u64 n);
void zio_space_note_slots(struct zio_space *space, long n);
void zio_global_counters(struct zio_counters *counters);
void zio_space_counters(struct zio_space *space, struct zio_counters *counters);

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

void zio_spaces_add(struct zio_space *space);
void zio_spaces_del(struct zio_space *space);
void zio_space_owner(struct zio_space *space, struct pid_namespace *ns,
		     pid_t *pid, kuid_t *uid);
unsigned int zio_spaces_nr(void);
int zio_spaces_walk(u64 after, struct pid_namespace *ns,
		    int (*fn)(const struct zio_space_info *info, void *arg),
		    void *arg);

#endif /* _ZIO_STATS_H */
