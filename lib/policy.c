// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The learning policy: call sites (return addresses of memcpy() and
 * friends) whose deferred copies get materialized anyway stop sending their
 * copies to the module, as in zIO.
 *
 * The module keeps a bounded list of copy records, each with the caller's
 * tag, the pages it deferred and how many of those were materialized since.
 * Now and then (every ZIO_EVAL_COPIES module copies, and on a sample of the
 * discards of freed blocks that follow copies, before the discard drops
 * their records) the library reads the records and sums them per site: a
 * site whose pages were half or more materialized is switched off. A
 * switched-off site still sends one copy in `interval` to the module as a
 * probe, each judged on its own (whatever its pages) once the site copies
 * over the probe's destination or has made ZIO_PROBE_SETTLE more calls (a
 * pipelined server copies the next replies before it sends one: judged at
 * once, the probe's pages would look shared), with the interval doubling
 * while the probes confirm the decision, and is switched on again when a
 * probe shows that most of its pages stay shared.
 *
 * A deferred copy also loses when its source is overwritten while the copy
 * is pending: ZIO_IOC_READ must then give the source fresh pages (and the
 * pending copy keeps the old ones), which costs about what the copy
 * would have. Redis's SET copies each value out of the query buffer that
 * the next request is read into. The pages a module read overwrites in a
 * copy's source (zio_policy_overwritten()) are weighed against the pages
 * the site deferred over the same stretch of time: both are summed from
 * one judgement of the site to the next (a window of at least
 * ZIO_MIN_PAGES deferred pages and ZIO_WINDOW_RECORDS copies), while the
 * records cover the whole ring.
 * A site's loss is the share of its pages materialized (records) plus the
 * share overwritten (window), at most all of them.
 *
 * The site table is lock-free (insertion by compare-and-swap, at most
 * ZIO_PROBES slots tried): memcpy() never blocks on it. zio_policy_lock
 * only serializes evaluations, and is only ever try-locked outside fork.
 */
#include <string.h>
#include <time.h>

#include "internal.h"

#define ZIO_SITES		256	/* power of two */
#define ZIO_PROBES		8
#define ZIO_RECORDS		256
#define ZIO_PROBE_RECORDS	16	/* read to judge a probe */
#define ZIO_EVAL_COPIES		64
#define ZIO_EVAL_FREES		8	/* power of two */
#define ZIO_MIN_PAGES		16
#define ZIO_WINDOW_RECORDS	4
#define ZIO_PROBE_FIRST		512
#define ZIO_PROBE_MAX		65536
#define ZIO_PROBE_SETTLE	64	/* site calls between a probe and its judgement */
#define ZIO_HINT_CALLS		64

struct zio_site {
	uintptr_t tag;		/* 0: free slot; set once */
	unsigned int off;	/* copies go to libc, but for probes */
	unsigned int calls;	/* calls since switched off */
	unsigned int interval;	/* calls between probes */
	unsigned int next_probe;	/* calls at which the next probe goes */
	unsigned int probed;	/* a probe went out, not judged yet */
	unsigned int judge_at;	/* calls at which it is judged at the latest */
	uintptr_t probe_dst;	/* its destination: judged before a copy over it */
	size_t probe_len;
	unsigned int probe_pages;	/* pages of the probes not judged yet */
	unsigned long long off_since;	/* CLOCK_MONOTONIC ns when switched off */
	unsigned long long judged;	/* the newest record judged */
	unsigned long long on_since;	/* the newest record judged when switched on again */
	unsigned long overwritten;	/* source pages read over, not judged yet */
	/* Under zio_policy_lock: the window the overwritten pages are judged in. */
	unsigned long long seen;	/* the newest record summed into it */
	unsigned long long window_deferred;	/* pages deferred since its start */
	unsigned long long window_overwritten;	/* pages read over since its start */
	unsigned int window_records;	/* copies since its start */
};

static struct zio_site sites[ZIO_SITES];
__thread struct zio_policy_hint zio_policy_hint __attribute__((tls_model("initial-exec")));
/* Its destructor counts the calls of an exiting thread's hint. */
static pthread_key_t hint_key;
static bool hint_key_ok;
/*
 * The site whose probe this thread's copy is, and the probe's pages: a
 * probe counts once the module has done it, zio_policy_copied().
 */
struct zio_probe {
	struct zio_site *site;
	unsigned int pages;
	unsigned int call;	/* the site's call that it is */
	uintptr_t dst;
	size_t len;
};

static __thread struct zio_probe probe_sent __attribute__((tls_model("initial-exec")));
static pthread_mutex_t zio_policy_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long copies;	/* module copies, ever */
static unsigned long probes;	/* of those, probes */
static unsigned long eval_mark;	/* copies - probes at the last evaluation */
static unsigned long frees;

/* Under zio_policy_lock. */
static struct zio_record records[ZIO_RECORDS];
static unsigned long long deferred[ZIO_SITES], materialized[ZIO_SITES], newest[ZIO_SITES];
static unsigned long long fresh_newest[ZIO_SITES];
static unsigned long long eval_newest;	/* the newest record read, ever */

static void evaluate(bool skip_newest, bool probe);

/* Start @s's window again. Under zio_policy_lock. */
static void window_reset(struct zio_site *s)
{
	s->window_deferred = 0;
	s->window_overwritten = 0;
	s->window_records = 0;
}

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static bool policy_on(void)
{
	return zio_settings.policy && zio_arena.stats_ok;
}

static struct zio_site *lookup(uintptr_t tag, bool insert)
{
	size_t h = (size_t)((tag >> 2) * 0x9e3779b97f4a7c15ULL >> 32);

	for (unsigned int i = 0; i < ZIO_PROBES; i++) {
		struct zio_site *s = &sites[(h + i) & (ZIO_SITES - 1)];
		uintptr_t t = __atomic_load_n(&s->tag, __ATOMIC_ACQUIRE);

		if (t == tag)
			return s;
		if (t)
			continue;
		if (!insert)
			return NULL;
		if (__atomic_compare_exchange_n(&s->tag, &t, tag, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) ||
		    t == tag)
			return s;
	}
	return NULL;
}

/**
 * zio_policy_hinted_calls() - this thread's calls that its hint sent to
 *	libc, not yet counted
 */
unsigned int zio_policy_hinted_calls(void)
{
	struct zio_policy_hint *h = &zio_policy_hint;
	unsigned int left = h->left, ahead = h->ahead;

	/* A signal handler's copy may have set a new hint in between. */
	return left < ahead ? ahead - left : 0;
}

/* Count the calls this thread's hint sent to libc, and drop the hint. */
static void hint_count(void)
{
	struct zio_policy_hint *h = &zio_policy_hint;
	unsigned int used = zio_policy_hinted_calls();
	struct zio_site *s;

	h->left = 0;
	h->ahead = 0;
	if (used) {
		s = lookup(h->tag, false);
		if (s)
			__atomic_add_fetch(&s->calls, used, __ATOMIC_RELAXED);
		zio_count(copies_policy, used);
	}
}

/*
 * The thread exits: count its hint's last calls. A copy made after this
 * (by a later destructor) registers the hint again, and glibc calls this
 * again, up to PTHREAD_DESTRUCTOR_ITERATIONS times.
 */
static void hint_exit(void *arg)
{
	(void)arg;
	zio_policy_hint.registered = false;
	hint_count();
}

/*
 * Has @s's last probe had its chance to be materialized, at the site's
 * call @n? True when there is none.
 */
static bool probe_settled(struct zio_site *s, unsigned int n)
{
	if (!__atomic_load_n(&s->probed, __ATOMIC_ACQUIRE))
		return true;
	/* Past it, the counter wrapped or not. */
	return (int)(n - __atomic_load_n(&s->judge_at, __ATOMIC_RELAXED)) >= 0;
}

/*
 * Does the site's call @n, a copy to [@dst, @dst + @len), settle its last
 * probe? It does once the site made ZIO_PROBE_SETTLE calls since, or when
 * it copies over the probe's destination: the program is done with that
 * copy, and memcpy() would now write its pages, which would look as if
 * the program had.
 */
static bool probe_due(struct zio_site *s, unsigned int n, uintptr_t dst, size_t len)
{
	uintptr_t pdst;
	size_t plen;

	/* Its acquire of probed comes first: the destination is that probe's. */
	if (probe_settled(s, n))
		return true;
	pdst = __atomic_load_n(&s->probe_dst, __ATOMIC_RELAXED);
	plen = __atomic_load_n(&s->probe_len, __ATOMIC_RELAXED);
	if (dst < pdst + plen && pdst < dst + len) {
		__atomic_store_n(&s->judge_at, n, __ATOMIC_RELAXED);
		return true;
	}
	return false;
}

/** zio_policy_init() - set up the policy, once, at start-up */
void zio_policy_init(void)
{
	hint_key_ok = !pthread_key_create(&hint_key, hint_exit);
	if (!hint_key_ok)
		zio_debug("pthread_key_create failed: the hinted calls of threads that exit are lost");
}

/**
 * zio_policy_allow() - may this call site send its copy to the module?
 * @tag: the call site
 * @dst: the copy's destination
 * @len: the copy's length
 */
bool zio_policy_allow(uintptr_t tag, uintptr_t dst, size_t len)
{
	struct zio_policy_hint *h = &zio_policy_hint;
	struct zio_site *s;
	unsigned int n, next, ahead, interval;
	bool due;

	if (!policy_on())
		return true;
	hint_count();
	/* A probe before that the module did not do is none. */
	probe_sent.site = NULL;
	s = lookup(tag, true);
	if (!s || !__atomic_load_n(&s->off, __ATOMIC_RELAXED))
		return true;
	n = __atomic_add_fetch(&s->calls, 1, __ATOMIC_RELAXED);
	/*
	 * The last probe has been used by now: judge it, whatever its size
	 * (a probe of one page as one of 16: the interval of small copies
	 * doubles as fast). Not at the next call: a pipelined server copies
	 * the next replies before it sends that one.
	 */
	due = probe_due(s, n, dst, len);
	if (due && __atomic_exchange_n(&s->probed, 0, __ATOMIC_RELAXED) &&
	    __atomic_load_n(&s->probe_pages, __ATOMIC_RELAXED)) {
		evaluate(false, true);
		if (!__atomic_load_n(&s->off, __ATOMIC_RELAXED))
			return true;
	}
	next = __atomic_load_n(&s->next_probe, __ATOMIC_RELAXED);
	if ((int)(n - next) < 0) {
		/* Until the last probe is judged, each call comes back here. */
		if (!due)
			return false;
		ahead = next - n - 1;
		if (ahead > ZIO_HINT_CALLS)
			ahead = ZIO_HINT_CALLS;
		/* In this order for a signal handler's copy in between. */
		h->left = 0;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		h->tag = tag;
		h->ahead = ahead;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		h->left = ahead;
		/*
		 * The thread's first hint: have its calls counted at the
		 * thread's exit. A key below PTHREAD_KEY_2NDLEVEL_SIZE (one
		 * made at start-up) costs glibc no allocation.
		 */
		if (!h->registered && hint_key_ok) {
			h->registered = true;
			pthread_setspecific(hint_key, h);
		}
		return false;
	}
	/*
	 * A probe: the next comes after the interval, whether or not the
	 * module does this one.
	 */
	interval = __atomic_load_n(&s->interval, __ATOMIC_RELAXED);
	__atomic_store_n(&s->next_probe, n + interval, __ATOMIC_RELAXED);
	probe_sent.pages = len / zio_arena.page_size;
	probe_sent.call = n;
	probe_sent.dst = dst;
	probe_sent.len = len;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	probe_sent.site = s;
	return true;
}

/**
 * zio_policy_site_mark() - the page mark of a copy's source, for @tag's site
 * @tag: the call site
 *
 * A copy the policy was not asked about (realloc's, zio_copy()'s) has no
 * site: it takes no slot in the table.
 *
 * Return: the site's number (from 1), or ZIO_MARK_SOURCE.
 */
uint16_t zio_policy_site_mark(uintptr_t tag)
{
	struct zio_site *s = policy_on() ? lookup(tag, false) : NULL;

	return s ? (uint16_t)(s - sites + 1) : ZIO_MARK_SOURCE;
}

/**
 * zio_policy_overwritten() - a module read overwrote pages of a copy's source
 * @mark: the pages' mark, zio_arena_unmark() hands it over
 * @pages: how many
 */
void zio_policy_overwritten(uint16_t mark, size_t pages)
{
	if (mark && mark <= ZIO_SITES)
		__atomic_add_fetch(&sites[mark - 1].overwritten, pages, __ATOMIC_RELAXED);
}

/* Read the newest @cap records into records[]; 0 or -errno. */
static int read_records(struct zio_stats *st, unsigned int cap)
{
	memset(st, 0, sizeof(*st));
	st->records = (uintptr_t)records;
	st->records_cap = cap;
	return zio_module_stats(st);
}

/*
 * Read the records and decide. @skip_newest: the newest record is the copy
 * that triggered this evaluation, not touched yet: do not count it.
 * @probe: a probe is to be judged; only the sites switched off are, from
 * the newest ZIO_PROBE_RECORDS records when they reach back to the last
 * evaluation (the module's copy of all of them costs more than the
 * probe), else from all.
 */
static void evaluate(bool skip_newest, bool probe)
{
	struct zio_stats st;

	if (pthread_mutex_trylock(&zio_policy_lock))
		return;
	if (read_records(&st, probe ? ZIO_PROBE_RECORDS : ZIO_RECORDS))
		goto out_unlock;
	if (probe && st.records_count == ZIO_PROBE_RECORDS &&
	    records[ZIO_PROBE_RECORDS - 1].time_ns > eval_newest) {
		probe = false;
		if (read_records(&st, ZIO_RECORDS))
			goto out_unlock;
	}
	if (st.records_count && records[0].time_ns > eval_newest)
		eval_newest = records[0].time_ns;
	zio_count(evaluations, 1);
	/* A probe's judgement looks at no site that is on. */
	if (!probe)
		eval_mark = __atomic_load_n(&copies, __ATOMIC_RELAXED) -
			    __atomic_load_n(&probes, __ATOMIC_RELAXED);
	memset(deferred, 0, sizeof(deferred));
	memset(materialized, 0, sizeof(materialized));
	memset(newest, 0, sizeof(newest));
	memset(fresh_newest, 0, sizeof(fresh_newest));
	for (size_t i = skip_newest; i < st.records_count && i < ZIO_RECORDS; i++) {
		struct zio_site *s = lookup(records[i].tag, false);
		unsigned long long t = records[i].time_ns;

		if (!s)
			continue;
		/* Records this site's window has not summed yet. */
		if (t > s->seen) {
			s->window_deferred += records[i].pages_deferred;
			s->window_records++;
			if (t > fresh_newest[s - sites])
				fresh_newest[s - sites] = t;
		}
		/*
		 * A site switched off is judged by its probes, each once; one
		 * switched on again by its copies since.
		 */
		if (s->off ? t <= s->off_since || t <= s->judged : t <= s->on_since)
			continue;
		deferred[s - sites] += records[i].pages_deferred;
		materialized[s - sites] += records[i].pages_materialized;
		if (t > newest[s - sites])
			newest[s - sites] = t;
	}
	for (size_t i = 0; i < ZIO_SITES; i++) {
		struct zio_site *s = &sites[i];
		unsigned long long def = deferred[i], mat = materialized[i];
		unsigned long long wdef, wover;

		if (!__atomic_load_n(&s->tag, __ATOMIC_RELAXED))
			continue;
		if (fresh_newest[i] > s->seen)
			s->seen = fresh_newest[i];
		s->window_overwritten += __atomic_exchange_n(&s->overwritten, 0, __ATOMIC_RELAXED);
		if (probe && !s->off)
			continue;
		/* A site on is judged by enough pages, one off by each probe. */
		if (def < (s->off ? 1 : ZIO_MIN_PAGES))
			continue;
		if (s->off && !probe_settled(s, __atomic_load_n(&s->calls, __ATOMIC_RELAXED)))
			continue;
		/*
		 * The loss, as a share of def: mat / def, plus wover / wdef
		 * once the window is long enough to judge: a few copies, or
		 * a probe of a switched-off site (then it starts again). At
		 * most def.
		 */
		wdef = s->window_deferred;
		wover = 0;
		if (wdef >= ZIO_MIN_PAGES &&
		    (s->off || s->window_records >= ZIO_WINDOW_RECORDS)) {
			wover = s->window_overwritten;
			if (wover > wdef)
				wover = wdef;
			mat += wover * def / wdef;
			window_reset(s);
		}
		if (mat > def)
			mat = def;
		if (!s->off) {
			if (mat * 2 >= def) {
				s->off_since = now_ns();
				s->judged = 0;
				__atomic_store_n(&s->interval, ZIO_PROBE_FIRST, __ATOMIC_RELAXED);
				__atomic_store_n(&s->next_probe, ZIO_PROBE_FIRST, __ATOMIC_RELAXED);
				__atomic_store_n(&s->probed, 0, __ATOMIC_RELAXED);
				__atomic_store_n(&s->probe_pages, 0, __ATOMIC_RELAXED);
				__atomic_store_n(&s->calls, 0, __ATOMIC_RELAXED);
				window_reset(s);
				__atomic_store_n(&s->off, 1, __ATOMIC_RELAXED);
				zio_debug("policy: site %#lx off (%llu of %llu pages materialized)",
					  (unsigned long)s->tag, mat, def);
			}
			continue;
		}
		s->judged = newest[i];
		__atomic_store_n(&s->probed, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&s->probe_pages, 0, __ATOMIC_RELAXED);
		if (mat * 4 < def) {
			window_reset(s);
			s->on_since = newest[i];
			__atomic_store_n(&s->off, 0, __ATOMIC_RELAXED);
			zio_debug("policy: site %#lx on again (%llu of %llu pages materialized)",
				  (unsigned long)s->tag, mat, def);
		} else if (s->interval < ZIO_PROBE_MAX) {
			__atomic_store_n(&s->interval, s->interval * 2, __ATOMIC_RELAXED);
		}
	}
out_unlock:
	pthread_mutex_unlock(&zio_policy_lock);
}

/**
 * zio_policy_copied() - the module did a copy
 * @tag: its call site
 *
 * When it is the probe zio_policy_allow() let through for @tag, the probe
 * counts now: judged later, see probe_due(). A probe the module refused
 * (or the split left no whole page for) is none; a copy from a signal
 * handler in between makes it none too, and so does a switch of the site
 * meanwhile (its calls count from 0 again): its call would be a future one.
 */
void zio_policy_copied(uintptr_t tag)
{
	struct zio_probe p;
	unsigned long n;

	if (!policy_on())
		return;
	p = probe_sent;
	probe_sent.site = NULL;
	if (p.site && p.site->tag == tag &&
	    __atomic_load_n(&p.site->calls, __ATOMIC_RELAXED) - p.call < ZIO_PROBE_SETTLE) {
		struct zio_site *s = p.site;

		__atomic_add_fetch(&probes, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&s->probe_pages, p.pages, __ATOMIC_RELAXED);
		__atomic_store_n(&s->judge_at, p.call + ZIO_PROBE_SETTLE, __ATOMIC_RELAXED);
		__atomic_store_n(&s->probe_dst, p.dst, __ATOMIC_RELAXED);
		__atomic_store_n(&s->probe_len, p.len, __ATOMIC_RELAXED);
		__atomic_store_n(&s->probed, 1, __ATOMIC_RELEASE);
	}
	n = __atomic_add_fetch(&copies, 1, __ATOMIC_RELAXED);
	/* Learn fast at first (copies 4, 8, 16, 32), then every 64 copies. */
	if (n % ZIO_EVAL_COPIES == 0 || (n < ZIO_EVAL_COPIES && n >= 4 && !(n & (n - 1))))
		evaluate(true, false);
}

/** zio_policy_before_free() - an arena block is about to be discarded */
void zio_policy_before_free(void)
{
	if (!policy_on())
		return;
	/* No copy since the last evaluation but probes, judged on their own. */
	if (__atomic_load_n(&copies, __ATOMIC_RELAXED) -
	    __atomic_load_n(&probes, __ATOMIC_RELAXED) ==
	    __atomic_load_n(&eval_mark, __ATOMIC_RELAXED))
		return;
	if ((__atomic_fetch_add(&frees, 1, __ATOMIC_RELAXED) & (ZIO_EVAL_FREES - 1)) == 0)
		evaluate(false, false);
}

/** zio_policy_sites() - how many call sites are known, how many are off */
void zio_policy_sites(unsigned int *known, unsigned int *disabled)
{
	*known = 0;
	*disabled = 0;
	for (size_t i = 0; i < ZIO_SITES; i++) {
		if (!__atomic_load_n(&sites[i].tag, __ATOMIC_RELAXED))
			continue;
		(*known)++;
		if (__atomic_load_n(&sites[i].off, __ATOMIC_RELAXED))
			(*disabled)++;
	}
}

void zio_policy_atfork_prepare(void)
{
	pthread_mutex_lock(&zio_policy_lock);
}

void zio_policy_atfork_release(void)
{
	pthread_mutex_unlock(&zio_policy_lock);
}
