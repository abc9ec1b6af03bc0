// SPDX-License-Identifier: GPL-2.0
/*
 * zio_demo: do a few zio copies, then run a command while the space lives.
 *
 *   zio_demo [COMMAND [ARG]...]
 *
 * Maps 64 source and 64 destination pages of /dev/zio, fills the source,
 * copies it 4 times page-aligned (shared pages) and once from mid-page
 * (pending pages), reads a pending page and writes a shared one, checks
 * the bytes, then runs COMMAND (e.g. "zioctl spaces") and waits for it:
 * what zio reports then is what this program did. For make run.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/zio.h>

#define PAGE	4096UL
#define PAGES	64

static void die(const char *what)
{
	fprintf(stderr, "zio_demo: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void copy(int fd, char *dst, char *src, size_t len)
{
	struct zio_copy c = {
		.dst = (uintptr_t)dst, .src = (uintptr_t)src, .len = len,
	};

	if (ioctl(fd, ZIO_IOC_COPY, &c))
		die("ZIO_IOC_COPY");
	printf("zio_demo: copied %zu bytes: %llu deferred, %llu copied by the kernel\n",
	       len, c.bytes_deferred, c.bytes_copied);
}

int main(int argc, char **argv)
{
	char *src, *dst;
	size_t i;
	pid_t pid;
	int fd, status;

	fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die(ZIO_DEVICE_PATH);
	src = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	dst = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   PAGES * PAGE);
	if (src == MAP_FAILED || dst == MAP_FAILED)
		die("mmap");
	for (i = 0; i < PAGES * PAGE; i++)
		src[i] = (char)(i * 7 + 1);

	for (i = 0; i < 4; i++)
		copy(fd, dst, src, PAGES * PAGE);
	copy(fd, dst + 32 * PAGE, src + 100, 8 * PAGE);
	dst[0] = 'z';					/* copy-on-write */
	if (dst[32 * PAGE] != src[100] || dst[PAGE] != src[PAGE])
		fprintf(stderr, "zio_demo: data differs!\n");	/* materialize */

	if (argc < 2)
		return 0;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		execvp(argv[1], argv + 1);
		die(argv[1]);
	}
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
