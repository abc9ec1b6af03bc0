// SPDX-License-Identifier: GPL-2.0
/*
 * zioctl: show what zio is doing and change its settings.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "zio.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: zioctl [--json] COMMAND\n"
		"\n"
		"Commands:\n"
		"  info     the module's API version, page size and limits\n"
		"\n"
		"Options:\n"
		"  -j, --json   print JSON instead of a table\n"
		"  -h, --help   show this help\n");
}

static int cmd_info(bool json)
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
		printf("{\"api_version\": %llu, \"features\": %llu, \"page_size\": %llu, \"space_limit\": %llu}\n",
		       info.api_version, info.features, info.page_size, info.space_limit);
	} else {
		printf("api version   %llu\n", info.api_version);
		printf("features      0x%llx\n", info.features);
		printf("page size     %llu\n", info.page_size);
		printf("space limit   %llu bytes\n", info.space_limit);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	bool json = false;
	int opt;

	while ((opt = getopt_long(argc, argv, "jh", options, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
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
	if (!strcmp(argv[optind], "info"))
		return cmd_info(json);

	fprintf(stderr, "zioctl: unknown command '%s' (see zioctl --help)\n", argv[optind]);
	return 2;
}
