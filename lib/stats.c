// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The library's counters: zio_lib_stats() of the explicit API, and the
 * ZIO_STATS=1 report at exit.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

ZIO_EXPORT int zio_lib_stats(struct zio_lib_stats *st)
{
	struct zio_stats ms = { 0 };
	unsigned int sites, disabled;

	memset(st, 0, sizeof(*st));
	st->arena_bytes = __atomic_load_n(&zio_arena.len, __ATOMIC_ACQUIRE);
	if (st->arena_bytes) {
		size_t stash;

		/* Under the lock: a block leaving the stash for the cache takes it. */
		pthread_mutex_lock(&zio_arena.lock);
		stash = __atomic_load_n(&zio_arena.stash, __ATOMIC_ACQUIRE);
		st->arena_used = (unsigned long long)(zio_arena.pages_used - zio_arena.cached_pages -
						      (stash ? zio_arena.blocks[stash - 1] : 0))
				 << zio_arena.page_shift;
		pthread_mutex_unlock(&zio_arena.lock);
	}
#define GET(f) (st->f = __atomic_load_n(&zio_counts.f, __ATOMIC_RELAXED))
	GET(arena_allocs);
	GET(arena_frees);
	GET(arena_fallbacks);
	GET(arena_recycled);
	GET(realloc_in_place);
	GET(realloc_moved);
	GET(copies_module);
	GET(copies_short);
	GET(copies_failed);
	GET(copies_policy);
	st->copies_policy += zio_policy_hinted_calls();
	GET(bytes_deferred);
	GET(bytes_kernel);
	GET(discards_failed);
	GET(io_writes);
	GET(io_reads);
	GET(io_bytes_written);
	GET(io_bytes_read);
	GET(io_fallbacks);
#undef GET
	zio_policy_sites(&sites, &disabled);
	st->sites = sites;
	st->sites_disabled = disabled;
	if (!zio_module_stats(&ms)) {
		st->module_ok = 1;
		st->module = ms.counters;
	}
	return 0;
}

/*
 * The ZIO_STATS=1 report: one table of the counters it prints, each with
 * the words around it, in the order printed; an entry without text ends a
 * line. The module's counters (struct zio_counters) are printed only when
 * zio_lib_stats() got them.
 */
struct report_item {
	const char *fmt;	/* one %llu: the counter */
	size_t off;		/* in struct zio_lib_stats */
	unsigned int shift;	/* bytes to KiB (10), MiB (20) */
};

#define LIB(fmt, field, ...)	{ fmt, offsetof(struct zio_lib_stats, field), __VA_ARGS__ + 0 }
#define MOD(fmt, field)		LIB(fmt, module.field)
#define END			{ NULL, 0, 0 }

static const struct report_item report[] = {
	LIB("arena %llu MiB", arena_bytes, 20),
	LIB(", %llu KiB in use", arena_used, 10),
	LIB("; %llu allocs", arena_allocs),
	LIB(" (%llu reused)", arena_recycled),
	LIB(", %llu frees", arena_frees),
	LIB(", %llu fallbacks", arena_fallbacks),
	LIB("; realloc: %llu in place", realloc_in_place),
	LIB(", %llu moved", realloc_moved),
	END,
	LIB("copies: %llu to the module", copies_module),
	LIB(" (%llu short", copies_short),
	LIB(", %llu refused)", copies_failed),
	LIB(", %llu by libc for the policy", copies_policy),
	LIB("; %llu bytes deferred", bytes_deferred),
	LIB(", %llu copied by the kernel", bytes_kernel),
	LIB("; %llu failed discards", discards_failed),
	END,
	LIB("policy: %llu call sites", sites),
	LIB(", %llu switched to memcpy", sites_disabled),
	END,
	LIB("I/O: %llu writes", io_writes),
	LIB(" (%llu bytes)", io_bytes_written),
	LIB(" and %llu reads", io_reads),
	LIB(" (%llu bytes) by the module", io_bytes_read),
	LIB(", %llu left to libc", io_fallbacks),
	END,
	MOD("module: copies %llu", copies),
	MOD(", bytes deferred %llu", bytes_deferred),
	MOD(", bytes copied %llu", bytes_copied),
	MOD(", pages live %llu", pages_live),
	MOD(" shared %llu", pages_shared),
	MOD(" pending %llu", pages_pending),
	MOD(" cow %llu", pages_cow),
	MOD(" materialized %llu", pages_materialized),
	MOD(" fallback %llu", pages_fallback),
	MOD(", faults %llu", faults),
	MOD(", discards %llu", discards),
	MOD(", I/O bytes written %llu", io_bytes_written),
	MOD(" read %llu", io_bytes_read),
	MOD(", pages recycled %llu", pages_recycled),
	MOD(" pooled %llu", pages_pooled),
	MOD(", copy runs %llu", copy_runs),
	END,
};

/** zio_stats_report() - ZIO_STATS=1's report, at exit */
void zio_stats_report(void)
{
	struct zio_lib_stats st;
	char line[1024];
	size_t i, n = 0;

	zio_lib_stats(&st);
	if (!st.arena_bytes) {
		zio_say("passthrough: no arena");
		return;
	}
	for (i = 0; i < sizeof(report) / sizeof(report[0]); i++) {
		const struct report_item *it = &report[i];
		unsigned long long v;

		if (!it->fmt) {
			if (n)
				zio_say("%s", line);
			n = 0;
			continue;
		}
		if (it->off >= offsetof(struct zio_lib_stats, module) && !st.module_ok)
			continue;
		v = *(const unsigned long long *)((const char *)&st + it->off);
		n += snprintf(line + n, sizeof(line) - n, it->fmt, v >> it->shift);
		if (n >= sizeof(line))
			n = sizeof(line) - 1;
	}
}
