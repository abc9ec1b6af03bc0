// SPDX-License-Identifier: GPL-2.0
/*
 * Counters: every number zio reports, per space and module-wide.
 *
 * Events (copies, faults, bytes...) are counted as they happen, in the
 * space and module-wide. The pages and pending copies zio holds are counted
 * as they come and go (zio_nr_pages, zio_nr_pending, which max_pages
 * bounds). What slots hold is counted from the slots when asked. The list
 * of every space, in order of creation, is what the module-wide numbers
 * and the netlink dump go over.
 */
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pid_namespace.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/xarray.h>

#include "compat.h"
#include "slot.h"
#include "space.h"
#include "stats.h"

/* Pages and pending copies zio holds, over every space. */
atomic64_t zio_nr_pages = ATOMIC64_INIT(0);
atomic64_t zio_nr_pending = ATOMIC64_INIT(0);
atomic64_t zio_nr_pooled = ATOMIC64_INIT(0);

/* Every space, for statistics, in order of creation (of id). */
static LIST_HEAD(zio_spaces);
static DEFINE_MUTEX(zio_spaces_lock);
static u64 zio_spaces_last_id;		/* under zio_spaces_lock */
static atomic64_t zio_events[ZIO_NR_EVENTS];

/**
 * zio_space_count() - count an event, in the space and module-wide
 * @space: the space
 * @event: what happened
 * @n: how many times
 */
void zio_space_count(struct zio_space *space, enum zio_event event, u64 n)
{
	atomic64_add(n, &space->events[event]);
	atomic64_add(n, &zio_events[event]);
}

/**
 * zio_space_note_slots() - count slots that were filled or emptied
 * @space: the space
 * @n: slots that hold something now and did not before, or the negative
 *	of those emptied
 *
 * The pages zio holds are not on the LRU and are never swapped; counting
 * a space's slots in its process's RSS shows the OOM killer, and
 * /proc/PID/status (RssShmem), who holds them, mapped or not. A page that
 * several slots share counts once for each, as the copies it stands for
 * would; a mapped page counts in RssFile too.
 */
void zio_space_note_slots(struct zio_space *space, long n)
{
	if (!n)
		return;
	atomic_long_add(n, &space->nr_slots);
	zio_mm_add_rss(space->mm, n);
}

/**
 * zio_spaces_add() - give a new space its id and list it
 * @space: the space
 */
void zio_spaces_add(struct zio_space *space)
{
	mutex_lock(&zio_spaces_lock);
	space->id = ++zio_spaces_last_id;
	list_add_tail(&space->global_node, &zio_spaces);
	mutex_unlock(&zio_spaces_lock);
}

/**
 * zio_spaces_del() - take a dying space off the list
 * @space: the space
 */
void zio_spaces_del(struct zio_space *space)
{
	mutex_lock(&zio_spaces_lock);
	list_del(&space->global_node);
	mutex_unlock(&zio_spaces_lock);
}

#define ZIO_SLOT_COUNTER(field, nlattr) {				\
	.name = #field,							\
	.offset = offsetof(struct zio_counters, field),			\
	.attr = ZIO_COUNTER_##nlattr,					\
	.event = -1,							\
}

#define ZIO_EVENT_COUNTER(field, nlattr, ev) {				\
	.name = #field,							\
	.offset = offsetof(struct zio_counters, field),			\
	.attr = ZIO_COUNTER_##nlattr,					\
	.event = ZIO_EV_##ev,						\
}

/*
 * Every field of struct zio_counters, in its order: what netlink puts and
 * what the totals add up. The first three are counted from the slots
 * (zio_space_count_slots()) and pages_pooled from the pools; the others
 * sum an event.
 */
const struct zio_counter_def zio_counter_defs[] = {
	ZIO_SLOT_COUNTER(pages_live, PAGES_LIVE),
	ZIO_SLOT_COUNTER(pages_shared, PAGES_SHARED),
	ZIO_SLOT_COUNTER(pages_pending, PAGES_PENDING),
	ZIO_EVENT_COUNTER(copies, COPIES, COPIES),
	ZIO_EVENT_COUNTER(bytes_deferred, BYTES_DEFERRED, BYTES_DEFERRED),
	ZIO_EVENT_COUNTER(bytes_copied, BYTES_COPIED, BYTES_COPIED),
	ZIO_EVENT_COUNTER(pages_cow, PAGES_COW, PAGES_COW),
	ZIO_EVENT_COUNTER(pages_materialized, PAGES_MATERIALIZED,
			  PAGES_MATERIALIZED),
	ZIO_EVENT_COUNTER(pages_fallback, PAGES_FALLBACK, PAGES_FALLBACK),
	ZIO_EVENT_COUNTER(faults, FAULTS, FAULTS),
	ZIO_EVENT_COUNTER(discards, DISCARDS, DISCARDS),
	ZIO_EVENT_COUNTER(io_bytes_written, IO_BYTES_WRITTEN, IO_WRITTEN),
	ZIO_EVENT_COUNTER(io_bytes_read, IO_BYTES_READ, IO_READ),
	ZIO_EVENT_COUNTER(pages_recycled, PAGES_RECYCLED, PAGES_RECYCLED),
	ZIO_SLOT_COUNTER(pages_pooled, PAGES_POOLED),
	ZIO_EVENT_COUNTER(copy_runs, COPY_RUNS, COPY_RUNS),
};

static void zio_add_events(atomic64_t *events, struct zio_counters *c)
{
	const struct zio_counter_def *def;

	/* One entry per field, one per event... */
	BUILD_BUG_ON(ARRAY_SIZE(zio_counter_defs) != ZIO_NR_COUNTERS);
	BUILD_BUG_ON(ARRAY_SIZE(zio_counter_defs) != ZIO_NR_EVENTS + 4);
	/* ...and one per attribute but UNSPEC, PAD and RECORDS. */
	BUILD_BUG_ON(ARRAY_SIZE(zio_counter_defs) != __ZIO_COUNTER_MAX - 3);

	for (def = zio_counter_defs;
	     def < zio_counter_defs + ARRAY_SIZE(zio_counter_defs); def++) {
		__u64 *field = (__u64 *)((char *)c + def->offset);

		if (def->event >= 0)
			*field += atomic64_read(&events[def->event]);
	}
}

/*
 * A run's slots: each page is shared when another run or slot holds it,
 * or when another entry holds the run. Under the xa_lock, which keeps it.
 */
static void zio_count_run(struct zio_run *run, struct zio_counters *c)
{
	bool shared = refcount_read(&run->refs) > 1;
	unsigned int i;

	c->pages_live += ZIO_RUN_PAGES;
	for (i = 0; i < ZIO_RUN_PAGES; i++)
		c->pages_shared += shared || zio_page_shares(run->pages[i]) > 1;
}

/* Count the slots: live, shared and pending. */
static void zio_space_count_slots(struct zio_space *space,
				  struct zio_counters *c)
{
	XA_STATE(xas, &space->slots, 0);
	unsigned int n = 0;
	void *entry;

	xas_lock(&xas);
	xas_for_each(&xas, entry, ULONG_MAX) {
		if (zio_entry_is_run(entry)) {
			zio_count_run(zio_entry_run(entry), c);
		} else if (zio_entry_is_pending(entry)) {
			c->pages_pending++;
		} else {
			c->pages_live++;
			if (zio_page_shares(entry) > 1)
				c->pages_shared++;
		}
		if (!(++n % 1024)) {
			xas_pause(&xas);
			xas_unlock(&xas);
			cond_resched();
			xas_lock(&xas);
		}
	}
	xas_unlock(&xas);
}

/**
 * zio_space_counters() - a space's counters
 * @space: the space
 * @c: filled in
 */
void zio_space_counters(struct zio_space *space, struct zio_counters *c)
{
	memset(c, 0, sizeof(*c));
	zio_space_count_slots(space, c);
	c->pages_pooled = READ_ONCE(space->nr_pool) + READ_ONCE(space->frags.nr_pages);
	zio_add_events(space->events, c);
}

/**
 * zio_global_counters() - the module's counters, over every space
 * @c: filled in; pages_live and pages_pending count pages and pending
 *	copies zio holds, each once however many slots share it
 */
void zio_global_counters(struct zio_counters *c)
{
	struct zio_counters slots;
	struct zio_space *space;

	memset(c, 0, sizeof(*c));
	memset(&slots, 0, sizeof(slots));
	mutex_lock(&zio_spaces_lock);
	list_for_each_entry(space, &zio_spaces, global_node)
		zio_space_count_slots(space, &slots);
	mutex_unlock(&zio_spaces_lock);

	c->pages_live = atomic64_read(&zio_nr_pages);
	c->pages_pending = atomic64_read(&zio_nr_pending);
	c->pages_pooled = atomic64_read(&zio_nr_pooled);
	c->pages_shared = slots.pages_shared;
	zio_add_events(zio_events, c);
}

/**
 * zio_space_owner() - the process a space belongs to
 * @space: a space, alive or on zio_spaces
 * @ns: the pid namespace to give the pid in
 * @pid: set to the thread group id of the mm's owner, or 0 when the mm has
 *	none (yet: a fork child's space is made before its pid exists)
 * @uid: set to the owner's real uid, or INVALID_UID
 */
void zio_space_owner(struct zio_space *space, struct pid_namespace *ns,
		     pid_t *pid, kuid_t *uid)
{
	*pid = 0;
	*uid = INVALID_UID;
#ifdef CONFIG_MEMCG
	{
		struct task_struct *owner;

		/* Tasks are freed after an RCU grace period. */
		rcu_read_lock();
		owner = rcu_dereference(space->mm->owner);
		if (owner) {
			*pid = task_tgid_nr_ns(owner, ns);
			*uid = task_uid(owner);
		}
		rcu_read_unlock();
	}
#endif
}

/**
 * zio_spaces_nr() - how many spaces are alive
 *
 * Return: the number of spaces.
 */
unsigned int zio_spaces_nr(void)
{
	struct zio_space *space;
	unsigned int n = 0;

	mutex_lock(&zio_spaces_lock);
	list_for_each_entry(space, &zio_spaces, global_node)
		n++;
	mutex_unlock(&zio_spaces_lock);
	return n;
}

/**
 * zio_spaces_walk() - report every space created after a cursor
 * @after: skip the spaces whose id is at most this (0: none)
 * @ns: the pid namespace to give pids in
 * @fn: called for each space, in order of id, with zio_spaces_lock held
 *	(it must not sleep for long, nor take a zio lock); a nonzero return
 *	stops the walk
 * @arg: passed to @fn
 *
 * Ids only grow along the list, so a dump that resumes after the last id
 * it reported neither repeats nor skips a space that was there all along.
 *
 * Return: 0, or what @fn returned to stop the walk.
 */
int zio_spaces_walk(u64 after, struct pid_namespace *ns,
		    int (*fn)(const struct zio_space_info *info, void *arg),
		    void *arg)
{
	struct zio_space_info info;
	struct zio_space *space;
	int ret = 0;

	mutex_lock(&zio_spaces_lock);
	list_for_each_entry(space, &zio_spaces, global_node) {
		if (space->id <= after)
			continue;
		/* A space on the list has its slots, even with no reference. */
		info.id = space->id;
		zio_space_owner(space, ns, &info.pid, &info.uid);
		zio_space_counters(space, &info.counters);
		spin_lock(&space->records_lock);
		info.records = space->nr_records;
		spin_unlock(&space->records_lock);
		ret = fn(&info, arg);
		if (ret)
			break;
	}
	mutex_unlock(&zio_spaces_lock);
	return ret;
}
