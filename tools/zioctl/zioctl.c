// SPDX-License-Identifier: GPL-2.0
/*
 * zioctl: show what zio is doing and change its settings.
 *
 * Everything but "info" talks to the module's generic netlink family "zio"
 * (Documentation/netlink.rst) through libnl-genl-3; "info" uses the
 * ZIO_IOC_INFO ioctl of /dev/zio.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libzio.h"
#include "zio_genl.h"

static bool json;

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: zioctl [OPTIONS] COMMAND [ARGS]\n"
		"\n"
		"Commands:\n"
		"  stats              settings and module-wide counters\n"
		"  spaces             counters of each space (process and open of /dev/zio);\n"
		"                     without CAP_NET_ADMIN, only your own processes'\n"
		"  set KEY VALUE      change a setting (needs CAP_NET_ADMIN); KEY is one of\n"
		"                     space_limit, copy_threshold (bytes, K/M/G/T suffixes),\n"
		"                     enabled (0/1, yes/no, on/off), max_records (0-%d),\n"
		"                     max_pages (pages zio may hold over all processes, at least 1)\n"
		"  monitor            print events as they happen (needs CAP_NET_ADMIN):\n"
		"                     spaces created and freed, mmap refused by space_limit\n"
		"  info               the module's API version, page size and settings\n"
		"                     (ZIO_IOC_INFO on %s)\n"
		"\n"
		"Options:\n"
		"  -j, --json         print JSON instead of a table (monitor: one object a line)\n"
		"  -c, --count N      monitor: exit after N events\n"
		"  -h, --help         show this help\n"
		"\n"
		"See zioctl(8).\n", ZIO_MAX_RECORDS_MAX, ZIO_DEVICE_PATH);
}

/* ---- netlink ---- */

static struct zio_genl nl;

static void die_nl(const char *what, int err)
{
	fprintf(stderr, "zioctl: %s: %s\n", what, nl_geterror(err));
	exit(1);
}

/* A failure of libnl (-NLE_*), at the step nl.step names. */
static void die_genl(int err)
{
	if (!nl.step) {
		fprintf(stderr, "zioctl: out of memory\n");
		exit(1);
	}
	die_nl(nl.step, err);
}

/* Connect to the zio family; a clear message when the module is missing. */
static void zio_nl_open(void)
{
	int ret = zio_genl_open(&nl);

	if (nl.family == -NLE_OBJ_NOTFOUND) {
		fprintf(stderr,
			"zioctl: the zio module is not loaded (no generic netlink family \"%s\"): insmod zio.ko\n",
			ZIO_GENL_NAME);
		exit(1);
	}
	if (ret < 0)
		die_genl(ret);
}

/* Send @msg and read answers; the kernel's -errno. */
static int zreq_run(struct nl_msg *msg, struct zio_genl_req *req)
{
	int ret = zio_genl_run(&nl, msg, req);

	if (ret < 0)
		die_genl(ret);
	return req->error;
}

static struct nl_msg *zreq_msg(uint8_t cmd, int flags)
{
	struct nl_msg *msg = zio_genl_msg(&nl, cmd, flags);

	if (!msg)
		die_genl(-NLE_NOMEM);
	return msg;
}

static void report_error(const char *what, struct zio_genl_req *req)
{
	if (req->error == -EPERM) {
		fprintf(stderr, "zioctl: %s: permission denied: this needs CAP_NET_ADMIN (run it as root)\n",
			what);
		return;
	}
	fprintf(stderr, "zioctl: %s: %s%s%s\n", what, strerror(-req->error),
		req->msg[0] ? ": " : "", req->msg);
}

/* ---- output ---- */

/*
 * The module's counters, in the order of their netlink attributes: the
 * one table that stats (names) and spaces (columns) print from.
 */
static const struct counter {
	int attr;		/* ZIO_COUNTER_* */
	const char *name;	/* stats, JSON */
	const char *header;	/* spaces */
	int width;		/* spaces */
} counters[] = {
	{ ZIO_COUNTER_PAGES_LIVE,		"pages_live",		"LIVE",		8 },
	{ ZIO_COUNTER_PAGES_SHARED,		"pages_shared",		"SHARED",	8 },
	{ ZIO_COUNTER_PAGES_PENDING,		"pages_pending",	"PENDING",	8 },
	{ ZIO_COUNTER_COPIES,			"copies",		"COPIES",	8 },
	{ ZIO_COUNTER_BYTES_DEFERRED,		"bytes_deferred",	"DEFERRED",	11 },
	{ ZIO_COUNTER_BYTES_COPIED,		"bytes_copied",		"COPIED",	11 },
	{ ZIO_COUNTER_PAGES_COW,		"pages_cow",		"COW",		8 },
	{ ZIO_COUNTER_PAGES_MATERIALIZED,	"pages_materialized",	"MATERIAL",	8 },
	{ ZIO_COUNTER_PAGES_FALLBACK,		"pages_fallback",	"FALLBACK",	8 },
	{ ZIO_COUNTER_FAULTS,			"faults",		"FAULTS",	8 },
	{ ZIO_COUNTER_DISCARDS,			"discards",		"DISCARDS",	8 },
	{ ZIO_COUNTER_RECORDS,			"records",		"RECORDS",	8 },
	{ ZIO_COUNTER_IO_BYTES_WRITTEN,		"io_bytes_written",	"IO_WRITE",	11 },
	{ ZIO_COUNTER_IO_BYTES_READ,		"io_bytes_read",	"IO_READ",	11 },
	{ ZIO_COUNTER_PAGES_RECYCLED,		"pages_recycled",	"RECYCLED",	8 },
	{ ZIO_COUNTER_PAGES_POOLED,		"pages_pooled",		"POOLED",	8 },
	{ ZIO_COUNTER_COPY_RUNS,		"copy_runs",		"RUNS",		8 },
};

#define NR_COUNTERS (sizeof(counters) / sizeof(counters[0]))

static void parse_counters(struct nlattr *nest, uint64_t *c, bool *present)
{
	struct nlattr *tb[ZIO_COUNTER_MAX + 1];
	int i;

	memset(c, 0, sizeof(*c) * (ZIO_COUNTER_MAX + 1));
	if (!nest || nla_parse_nested(tb, ZIO_COUNTER_MAX, nest, NULL) < 0)
		return;
	for (i = ZIO_COUNTER_PAGES_LIVE; i <= ZIO_COUNTER_MAX; i++) {
		present[i] = tb[i] != NULL;
		if (tb[i])
			c[i] = nla_get_u64(tb[i]);
	}
}

static const char *human(uint64_t bytes, char *buf, size_t size)
{
	static const char units[] = "KMGTPE";
	double v = bytes;
	int u = -1;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, size, "%" PRIu64 " B", bytes);
	else
		snprintf(buf, size, "%.1f %ciB", v, units[u]);
	return buf;
}

static uint64_t get_u64(struct nlattr *a)
{
	return a ? nla_get_u64(a) : 0;
}

static uint32_t get_u32(struct nlattr *a)
{
	return a ? nla_get_u32(a) : 0;
}

/* ---- stats ---- */

/* A number of pages, and what they come to when that fits 64 bits. */
static void print_pages(const char *name, uint64_t pages, uint32_t page_size)
{
	char buf[32];

	if (page_size && pages <= UINT64_MAX / page_size)
		printf("  %-20s %" PRIu64 " (%s)\n", name, pages,
		       human(pages * page_size, buf, sizeof(buf)));
	else
		printf("  %-20s %" PRIu64 "\n", name, pages);
}

static int stats_parse(struct nlattr **tb, uint8_t cmd, void *arg)
{
	uint64_t c[ZIO_COUNTER_MAX + 1];
	bool present[ZIO_COUNTER_MAX + 1] = { 0 };
	char b1[32], b2[32];
	size_t i;
	int n = 0;

	(void)arg;
	if (cmd != ZIO_CMD_GET_STATS)
		return 0;
	parse_counters(tb[ZIO_ATTR_COUNTERS], c, present);
	if (json) {
		printf("{\"settings\": {\"enabled\": %s, \"space_limit\": %" PRIu64
		       ", \"copy_threshold\": %" PRIu64 ", \"max_records\": %u",
		       tb[ZIO_ATTR_ENABLED] && nla_get_u8(tb[ZIO_ATTR_ENABLED]) ? "true" : "false",
		       get_u64(tb[ZIO_ATTR_SPACE_LIMIT]),
		       get_u64(tb[ZIO_ATTR_COPY_THRESHOLD]),
		       get_u32(tb[ZIO_ATTR_MAX_RECORDS]));
		if (tb[ZIO_ATTR_MAX_PAGES])
			printf(", \"max_pages\": %" PRIu64, nla_get_u64(tb[ZIO_ATTR_MAX_PAGES]));
		printf(", \"page_size\": %u}", get_u32(tb[ZIO_ATTR_PAGE_SIZE]));
		printf(", \"spaces\": %u, \"counters\": {", get_u32(tb[ZIO_ATTR_NR_SPACES]));
		for (i = 0; i < NR_COUNTERS; i++) {
			if (!present[counters[i].attr])
				continue;
			printf("%s\"%s\": %" PRIu64, n++ ? ", " : "", counters[i].name,
			       c[counters[i].attr]);
		}
		printf("}}\n");
		return 0;
	}
	printf("settings\n");
	printf("  %-20s %s\n", "enabled",
	       tb[ZIO_ATTR_ENABLED] && nla_get_u8(tb[ZIO_ATTR_ENABLED]) ? "yes" : "no");
	printf("  %-20s %" PRIu64 " (%s)\n", "space_limit",
	       get_u64(tb[ZIO_ATTR_SPACE_LIMIT]),
	       human(get_u64(tb[ZIO_ATTR_SPACE_LIMIT]), b1, sizeof(b1)));
	printf("  %-20s %" PRIu64 " (%s)\n", "copy_threshold",
	       get_u64(tb[ZIO_ATTR_COPY_THRESHOLD]),
	       human(get_u64(tb[ZIO_ATTR_COPY_THRESHOLD]), b2, sizeof(b2)));
	printf("  %-20s %u\n", "max_records", get_u32(tb[ZIO_ATTR_MAX_RECORDS]));
	if (tb[ZIO_ATTR_MAX_PAGES])
		print_pages("max_pages", nla_get_u64(tb[ZIO_ATTR_MAX_PAGES]),
			    get_u32(tb[ZIO_ATTR_PAGE_SIZE]));
	printf("  %-20s %u\n", "page_size", get_u32(tb[ZIO_ATTR_PAGE_SIZE]));
	printf("spaces                 %u\n", get_u32(tb[ZIO_ATTR_NR_SPACES]));
	printf("counters\n");
	for (i = 0; i < NR_COUNTERS; i++) {
		if (!present[counters[i].attr])
			continue;
		printf("  %-20s %" PRIu64 "\n", counters[i].name, c[counters[i].attr]);
	}
	return 0;
}

static int cmd_stats(void)
{
	struct zio_genl_req req = { .parse = stats_parse };

	zio_nl_open();
	if (zreq_run(zreq_msg(ZIO_CMD_GET_STATS, 0), &req)) {
		report_error("stats", &req);
		return 1;
	}
	return 0;
}

/* ---- spaces ---- */

struct spaces_state {
	unsigned int n;
};

static int spaces_parse(struct nlattr **tb, uint8_t cmd, void *arg)
{
	uint64_t c[ZIO_COUNTER_MAX + 1];
	bool present[ZIO_COUNTER_MAX + 1] = { 0 };
	struct spaces_state *st = arg;
	size_t i;

	if (cmd != ZIO_CMD_GET_SPACE)
		return 0;
	parse_counters(tb[ZIO_ATTR_COUNTERS], c, present);
	if (json) {
		printf("%s\n  {\"space_id\": %" PRIu64 ", \"pid\": %u",
		       st->n ? "," : "", get_u64(tb[ZIO_ATTR_SPACE_ID]),
		       get_u32(tb[ZIO_ATTR_PID]));
		if (tb[ZIO_ATTR_UID])
			printf(", \"uid\": %u", nla_get_u32(tb[ZIO_ATTR_UID]));
		else
			printf(", \"uid\": null");
		for (i = 0; i < NR_COUNTERS; i++)
			printf(", \"%s\": %" PRIu64, counters[i].name, c[counters[i].attr]);
		printf("}");
	} else {
		printf("%6" PRIu64 " %7u", get_u64(tb[ZIO_ATTR_SPACE_ID]),
		       get_u32(tb[ZIO_ATTR_PID]));
		if (tb[ZIO_ATTR_UID])
			printf(" %6u", nla_get_u32(tb[ZIO_ATTR_UID]));
		else
			printf(" %6s", "-");
		for (i = 0; i < NR_COUNTERS; i++)
			printf(" %*" PRIu64, counters[i].width, c[counters[i].attr]);
		printf("\n");
	}
	st->n++;
	return 0;
}

static int cmd_spaces(void)
{
	struct spaces_state st = { 0 };
	struct zio_genl_req req = { .parse = spaces_parse, .arg = &st };
	size_t i;

	zio_nl_open();
	if (json) {
		printf("[");
	} else {
		printf("%6s %7s %6s", "ID", "PID", "UID");
		for (i = 0; i < NR_COUNTERS; i++)
			printf(" %*s", counters[i].width, counters[i].header);
		printf("\n");
	}
	fflush(stdout);
	if (zreq_run(zreq_msg(ZIO_CMD_GET_SPACE, NLM_F_DUMP), &req)) {
		if (json)
			printf("]\n");
		report_error("spaces", &req);
		return 1;
	}
	if (json)
		printf("%s]\n", st.n ? "\n" : "");
	return 0;
}

/* ---- set ---- */

static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	}
	if (shift && (*end == 'i' || *end == 'I'))
		end++;
	if (shift && (*end == 'b' || *end == 'B'))
		end++;
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_bool(const char *s, uint8_t *out)
{
	static const char *const yes[] = { "1", "y", "yes", "on", "true" };
	static const char *const no[] = { "0", "n", "no", "off", "false" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static int cmd_set(const char *key, const char *value)
{
	struct zio_genl_req req = { 0 };
	struct nl_msg *msg;
	uint64_t v64 = 0;
	uint8_t v8 = 0;
	char what[128];

	/* Parse before connecting: a typo is not the module's business. */
	if (!strcmp(key, "space_limit") || !strcmp(key, "copy_threshold")) {
		if (parse_size(value, &v64)) {
			fprintf(stderr, "zioctl: set %s: '%s' is not a size in bytes\n", key, value);
			return 2;
		}
	} else if (!strcmp(key, "enabled")) {
		if (parse_bool(value, &v8)) {
			fprintf(stderr, "zioctl: set enabled: '%s' is not 0/1, yes/no or on/off\n", value);
			return 2;
		}
	} else if (!strcmp(key, "max_records")) {
		if (parse_size(value, &v64) || v64 > UINT32_MAX) {
			fprintf(stderr, "zioctl: set max_records: '%s' is not a number\n", value);
			return 2;
		}
	} else if (!strcmp(key, "max_pages")) {
		if (parse_size(value, &v64)) {
			fprintf(stderr, "zioctl: set max_pages: '%s' is not a number of pages\n", value);
			return 2;
		}
	} else {
		fprintf(stderr, "zioctl: set: unknown setting '%s' (space_limit, enabled, copy_threshold, max_records, max_pages)\n",
			key);
		return 2;
	}

	zio_nl_open();
	msg = zreq_msg(ZIO_CMD_SET, 0);
	if (!strcmp(key, "space_limit"))
		nla_put_u64(msg, ZIO_ATTR_SPACE_LIMIT, v64);
	else if (!strcmp(key, "copy_threshold"))
		nla_put_u64(msg, ZIO_ATTR_COPY_THRESHOLD, v64);
	else if (!strcmp(key, "enabled"))
		nla_put_u8(msg, ZIO_ATTR_ENABLED, v8);
	else if (!strcmp(key, "max_pages"))
		nla_put_u64(msg, ZIO_ATTR_MAX_PAGES, v64);
	else
		nla_put_u32(msg, ZIO_ATTR_MAX_RECORDS, (uint32_t)v64);
	if (zreq_run(msg, &req)) {
		snprintf(what, sizeof(what), "set %s %s", key, value);
		report_error(what, &req);
		return 1;
	}
	return 0;
}

/* ---- monitor ---- */

struct monitor_state {
	long count;		/* events left, or -1 */
};

static int monitor_event(struct nlattr **tb, uint8_t cmd, void *arg)
{
	struct monitor_state *st = arg;
	const char *name;

	switch (cmd) {
	case ZIO_CMD_SPACE_NEW:
		name = "space-new";
		break;
	case ZIO_CMD_SPACE_DEL:
		name = "space-del";
		break;
	case ZIO_CMD_LIMIT:
		name = "limit";
		break;
	default:
		return NL_SKIP;
	}
	if (json) {
		printf("{\"event\": \"%s\"", name);
		if (tb[ZIO_ATTR_SPACE_ID])
			printf(", \"space_id\": %" PRIu64, nla_get_u64(tb[ZIO_ATTR_SPACE_ID]));
		printf(", \"pid\": %u", get_u32(tb[ZIO_ATTR_PID]));
		if (tb[ZIO_ATTR_UID])
			printf(", \"uid\": %u", nla_get_u32(tb[ZIO_ATTR_UID]));
		if (tb[ZIO_ATTR_PARENT_PID])
			printf(", \"parent_pid\": %u", nla_get_u32(tb[ZIO_ATTR_PARENT_PID]));
		if (tb[ZIO_ATTR_MMAP_END])
			printf(", \"mmap_end\": %" PRIu64, nla_get_u64(tb[ZIO_ATTR_MMAP_END]));
		if (tb[ZIO_ATTR_SPACE_LIMIT])
			printf(", \"space_limit\": %" PRIu64, nla_get_u64(tb[ZIO_ATTR_SPACE_LIMIT]));
		printf("}\n");
	} else {
		printf("%-9s", name);
		if (tb[ZIO_ATTR_SPACE_ID])
			printf(" space=%" PRIu64, nla_get_u64(tb[ZIO_ATTR_SPACE_ID]));
		/* A fork child has no pid yet when its snapshot is made. */
		if (get_u32(tb[ZIO_ATTR_PID]))
			printf(" pid=%u", get_u32(tb[ZIO_ATTR_PID]));
		if (tb[ZIO_ATTR_UID])
			printf(" uid=%u", nla_get_u32(tb[ZIO_ATTR_UID]));
		if (tb[ZIO_ATTR_PARENT_PID])
			printf(" fork-of-pid=%u", nla_get_u32(tb[ZIO_ATTR_PARENT_PID]));
		if (tb[ZIO_ATTR_MMAP_END])
			printf(" mmap_end=%" PRIu64, nla_get_u64(tb[ZIO_ATTR_MMAP_END]));
		if (tb[ZIO_ATTR_SPACE_LIMIT])
			printf(" space_limit=%" PRIu64, nla_get_u64(tb[ZIO_ATTR_SPACE_LIMIT]));
		printf("\n");
	}
	fflush(stdout);
	if (st->count > 0 && --st->count == 0)
		return NL_STOP;
	return NL_OK;
}

static int cmd_monitor(long count)
{
	struct monitor_state st = { .count = count };
	int ret;

	zio_nl_open();
	ret = zio_genl_subscribe(&nl, monitor_event, &st);
	if (ret == -NLE_PERM) {
		fprintf(stderr, "zioctl: monitor: permission denied: listening to events needs CAP_NET_ADMIN (run it as root)\n");
		return 1;
	}
	if (ret < 0)
		die_genl(ret);
	if (!json) {
		printf("listening to zio events%s\n", count > 0 ? "" : " (Ctrl-C to stop)");
		fflush(stdout);
	}
	while (st.count) {
		ret = nl_recvmsgs_default(nl.sk);
		if (ret < 0 && ret != -NLE_INTR && st.count)
			die_nl("cannot read events", ret);
	}
	return 0;
}

/* ---- info (ioctl) ---- */

static int cmd_info(void)
{
	struct zio_info info;
	int ret;

	ret = zio_get_info(&info);
	if (ret == -ENOENT) {
		fprintf(stderr, "zioctl: %s is missing: is zio.ko loaded? (insmod zio.ko)\n",
			ZIO_DEVICE_PATH);
		return 1;
	}
	if (ret) {
		fprintf(stderr, "zioctl: %s: %s\n", ZIO_DEVICE_PATH, strerror(-ret));
		return 1;
	}
	if (json) {
		printf("{\"api_version\": %llu, \"features\": %llu, \"page_size\": %llu, \"space_limit\": %llu, \"copy_threshold\": %llu, \"enabled\": %s}\n",
		       info.api_version, info.features, info.page_size, info.space_limit,
		       info.copy_threshold, info.enabled ? "true" : "false");
	} else {
		printf("api version     %llu\n", info.api_version);
		printf("features        0x%llx\n", info.features);
		printf("page size       %llu\n", info.page_size);
		printf("space limit     %llu bytes\n", info.space_limit);
		printf("copy threshold  %llu bytes\n", info.copy_threshold);
		printf("enabled         %s\n", info.enabled ? "yes" : "no");
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "count", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *cmd;
	long count = -1;
	char *end;
	int opt, nargs;

	while ((opt = getopt_long(argc, argv, "jc:h", options, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'c':
			count = strtol(optarg, &end, 10);
			if (*end || count <= 0) {
				fprintf(stderr, "zioctl: --count needs a positive number\n");
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	nargs = argc - optind - 1;
	if (!strcmp(cmd, "set")) {
		if (nargs != 2) {
			fprintf(stderr, "zioctl: usage: zioctl set KEY VALUE (see zioctl --help)\n");
			return 2;
		}
		return cmd_set(argv[optind + 1], argv[optind + 2]);
	}
	if (nargs) {
		fprintf(stderr, "zioctl: %s takes no arguments (see zioctl --help)\n", cmd);
		return 2;
	}
	if (!strcmp(cmd, "info"))
		return cmd_info();
	if (!strcmp(cmd, "stats"))
		return cmd_stats();
	if (!strcmp(cmd, "spaces"))
		return cmd_spaces();
	if (!strcmp(cmd, "monitor"))
		return cmd_monitor(count);

	fprintf(stderr, "zioctl: unknown command '%s' (see zioctl --help)\n", cmd);
	return 2;
}
