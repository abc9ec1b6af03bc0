// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The library's counters: zio_lib_stats() of the explicit API, and the
 * ZIO_STATS=1 report at exit.
 */
#include <string.h>

#include "internal.h"

ZIO_EXPORT int zio_lib_stats(struct zio_lib_stats *st)
{
	struct zio_stats ms = { 0 };
	unsigned int sites, disabled;

	memset(st, 0, sizeof(*st));
	st->arena_bytes = __atomic_load_n(&zio_arena.len, __ATOMIC_ACQUIRE);
	if (st->arena_bytes) {
		pthread_mutex_lock(&zio_arena.lock);
		st->arena_used = (unsigned long long)(zio_arena.pages_used -
						      zio_arena.cached_pages) << zio_arena.page_shift;
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

/** zio_stats_report() - ZIO_STATS=1's report, at exit */
void zio_stats_report(void)
{
	struct zio_lib_stats st;
	const struct zio_counters *m = &st.module;

	zio_lib_stats(&st);
	if (!st.arena_bytes) {
		zio_say("passthrough: no arena");
		return;
	}
	zio_say("arena %llu MiB, %llu KiB in use; %llu allocs (%llu reused), %llu frees, %llu fallbacks; realloc: %llu in place, %llu moved",
	    st.arena_bytes >> 20, st.arena_used >> 10, st.arena_allocs, st.arena_recycled,
	    st.arena_frees, st.arena_fallbacks, st.realloc_in_place, st.realloc_moved);
	zio_say("copies: %llu to the module (%llu short, %llu refused), %llu by libc for the policy; %llu bytes deferred, %llu copied by the kernel; %llu failed discards",
	    st.copies_module, st.copies_short, st.copies_failed, st.copies_policy,
	    st.bytes_deferred, st.bytes_kernel, st.discards_failed);
	zio_say("policy: %llu call sites, %llu switched to memcpy", st.sites, st.sites_disabled);
	zio_say("I/O: %llu writes (%llu bytes) and %llu reads (%llu bytes) by the module, %llu left to libc",
	    st.io_writes, st.io_bytes_written, st.io_reads, st.io_bytes_read, st.io_fallbacks);
	if (st.module_ok)
		zio_say("module: copies %llu, bytes deferred %llu, bytes copied %llu, pages live %llu shared %llu pending %llu cow %llu materialized %llu fallback %llu, faults %llu, discards %llu, I/O bytes written %llu read %llu",
		    m->copies, m->bytes_deferred, m->bytes_copied, m->pages_live,
		    m->pages_shared, m->pages_pending, m->pages_cow,
		    m->pages_materialized, m->pages_fallback, m->faults, m->discards,
		    m->io_bytes_written, m->io_bytes_read);
}
