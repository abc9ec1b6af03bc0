// SPDX-License-Identifier: GPL-2.0
/*
 * libzio in real processes: the randomized differential test (zio_fuzz)
 * under LD_PRELOAD in several configurations, and the targeted checks of
 * zio_libcheck. The library is found next to this program
 * (../lib/libzio.so) or in $ZIO_LIB. The seed is printed; set ZIO_SEED to
 * repeat a run, ZIO_FUZZ_SECONDS to change its length.
 */
#include <limits.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "zio_test.h"

static char dir[PATH_MAX], lib[PATH_MAX + 32];
static unsigned long long seed;
static const char *fuzz_seconds = "25";

static void __attribute__((constructor)) libzio_test_paths(void)
{
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	char *slash;

	if (n > 0) {
		dir[n] = 0;
		slash = strrchr(dir, '/');
		if (slash)
			*slash = 0;
	}
	if (getenv("ZIO_LIB"))
		snprintf(lib, sizeof(lib), "%s", getenv("ZIO_LIB"));
	else
		snprintf(lib, sizeof(lib), "%s/../lib/libzio.so", dir);
	seed = getenv("ZIO_SEED") ? strtoull(getenv("ZIO_SEED"), NULL, 0) :
				    (unsigned long long)time(NULL);
	if (getenv("ZIO_FUZZ_SECONDS"))
		fuzz_seconds = getenv("ZIO_FUZZ_SECONDS");
}

/*
 * Run @prog (a program next to this one) with @args, libzio preloaded (or
 * not, @preload false) and the extra environment @env ("NAME=value"...,
 * NULL-terminated), optionally with /dev hidden. Returns the exit status,
 * or -1 when the program did not exit normally. Its output (stdout and
 * stderr) goes to ours, each line prefixed with "# ": the KTAP of
 * zio_libcheck's and zio_iocheck's harness is nested in ours.
 */
static int run(const char *prog, const char *const *args, const char *const *env,
	       bool preload, bool hide_dev)
{
	char path[PATH_MAX + 64], preload_env[PATH_MAX + 64];
	const char *argv[16] = { prog };
	char *line = NULL;
	size_t cap = 0;
	int status, i, out[2];
	pid_t pid;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, prog);
	for (i = 0; args && args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	fflush(stdout);
	fflush(stderr);
	if (pipe(out))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		if (dup2(out[1], STDOUT_FILENO) < 0 || dup2(out[1], STDERR_FILENO) < 0)
			_exit(3);
		close(out[0]);
		close(out[1]);
		if (hide_dev) {
			/* A private /dev without zio in it: no module for libzio. */
			if (unshare(CLONE_NEWNS) ||
			    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
			    mount("tmpfs", "/dev", "tmpfs", 0, NULL))
				_exit(3);
			if (access(ZIO_DEVICE_PATH, F_OK) == 0)
				_exit(3);
		}
		for (i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		if (preload) {
			snprintf(preload_env, sizeof(preload_env), "LD_PRELOAD=%s", lib);
			putenv(preload_env);
		}
		execv(path, (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	f = fdopen(out[0], "r");
	while (f && getline(&line, &cap, f) > 0)
		printf("# %s%s", line, line[strlen(line) - 1] == '\n' ? "" : "\n");
	fflush(stdout);
	free(line);
	if (f)
		fclose(f);
	else
		close(out[0]);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int fuzz(const char *threads, const char *seconds, const char *const *env,
		bool hide_dev, const char *alarm_us)
{
	char s[32];
	const char *args[] = { "-s", s, "-t", threads, "-d", seconds,
			       "-n", "1000000000", "-m", "1048576",
			       alarm_us ? "-a" : NULL, alarm_us, NULL };

	snprintf(s, sizeof(s), "%llu", seed);
	return run("zio_fuzz", args, env, true, hide_dev);
}

FIXTURE(lib) {
	int unused;
};

FIXTURE_SETUP(lib)
{
	if (access(lib, R_OK))
		SKIP(return, "%.200s is missing", lib);
}

FIXTURE_TEARDOWN(lib)
{
}

/*
 * The default settings: 64 KiB threshold, the policy learning. The time
 * limits leave room for ZIO_FUZZ_SECONDS=60 on the debug kernel.
 */
TEST_F_TIMEOUT(lib, fuzz, 300)
{
	const char *env[] = { "ZIO_STATS=1", NULL };

	ASSERT_EQ(0, fuzz("4", fuzz_seconds, env, false, NULL));
}

/*
 * Everything a page or more goes to the module, always, with a signal every
 * 2 ms to make module copies come back short.
 */
TEST_F_TIMEOUT(lib, fuzz_every_page, 300)
{
	const char *env[] = { "ZIO_STATS=1", "ZIO_THRESHOLD=4096", "ZIO_POLICY=0", NULL };

	ASSERT_EQ(0, fuzz("3", fuzz_seconds, env, false, "2000"));
}

/* No /dev/zio: pure passthrough. */
TEST_F_TIMEOUT(lib, fuzz_no_device, 60)
{
	const char *env[] = { "ZIO_STATS=1", NULL };

	ASSERT_EQ(0, fuzz("2", "3", env, true, NULL));
}

/* ZIO_DISABLE=1: pure passthrough. */
TEST_F_TIMEOUT(lib, fuzz_disabled, 60)
{
	const char *env[] = { "ZIO_DISABLE=1", "ZIO_STATS=1", NULL };

	ASSERT_EQ(0, fuzz("2", "3", env, false, NULL));
}

#define LIBCHECK(name, cmd)						\
TEST_F_TIMEOUT(lib, name, 120)						\
{									\
	const char *args[] = { cmd, NULL };				\
	int ret = run("zio_libcheck", args, NULL, true, false);		\
									\
	if (ret == 4)							\
		SKIP(return, "no arena");				\
	ASSERT_EQ(0, ret);						\
}

/* The same with ZIO_THRESHOLD=4096: copies of one page go to the module. */
#define LIBCHECK_PAGE(name, cmd)					\
TEST_F_TIMEOUT(lib, name, 120)						\
{									\
	const char *args[] = { cmd, NULL };				\
	const char *env[] = { "ZIO_THRESHOLD=4096", NULL };		\
	int ret = run("zio_libcheck", args, env, true, false);		\
									\
	if (ret == 4)							\
		SKIP(return, "no arena");				\
	ASSERT_EQ(0, ret);						\
}

LIBCHECK(defer, "defer")
LIBCHECK(realloc, "realloc")
LIBCHECK(realloc_over_kept, "realloc_over_kept")
LIBCHECK(calloc, "calloc")
LIBCHECK(arena_reuse, "arena_reuse")
LIBCHECK(arena_stash, "arena_stash")
LIBCHECK_PAGE(arena_stash_threads, "arena_stash_threads")
LIBCHECK(api, "api")
LIBCHECK(policy, "policy")
LIBCHECK(policy_partly_written, "policy_partly_written")
LIBCHECK(policy_rarely_written, "policy_rarely_written")
LIBCHECK(policy_probes, "policy_probes")
LIBCHECK_PAGE(policy_probes_small, "policy_probes_small")
LIBCHECK(policy_hinted_exit, "policy_hinted_exit")
LIBCHECK(policy_probe_refused, "policy_probe_refused")
LIBCHECK(policy_probe_pipelined, "policy_probe_pipelined")
LIBCHECK(policy_read_over, "policy_read_over")
LIBCHECK(policy_read_over_small, "policy_read_over_small")
LIBCHECK(policy_read_over_late, "policy_read_over_late")
LIBCHECK(policy_source_kept, "policy_source_kept")
LIBCHECK(move_within, "move_within")
LIBCHECK(exec, "exec")
LIBCHECK(signal, "signal")
LIBCHECK(limits, "limits")

/*
 * read, write, send, recv... of arena buffers, done by the module
 * (ZIO_IOC_WRITE/READ); and the same with ZIO_IO=0, done by libc, which
 * zio_iocheck tells apart by libzio's counters.
 */
static int iocheck(const char *cmd, const char *io, const char *threshold)
{
	char io_env[32], thr_env[64];
	const char *args[] = { cmd, NULL };
	const char *env[] = { io_env, thr_env, NULL };

	snprintf(io_env, sizeof(io_env), "ZIO_IO=%s", io);
	snprintf(thr_env, sizeof(thr_env), "ZIO_THRESHOLD=%s", threshold);
	return run("zio_iocheck", args, env, true, false);
}

#define IOCHECK(name, cmd, threshold)					\
TEST_F_TIMEOUT(lib, io_##name, 2 * 120)					\
{									\
	int ret = iocheck(cmd, "1", threshold);				\
									\
	if (ret == 4)							\
		SKIP(return, "no arena");				\
	ASSERT_EQ(0, ret);						\
	ASSERT_EQ(0, iocheck(cmd, "0", threshold));			\
}

IOCHECK(pipe, "pipe", "65536")
IOCHECK(tcp, "tcp", "65536")
IOCHECK(readv_stream, "readv_stream", "65536")
IOCHECK(unix, "unix_stream", "65536")
IOCHECK(udp, "udp", "4096")
IOCHECK(files, "files", "65536")
IOCHECK(errors, "errors", "65536")
IOCHECK(overwrite, "overwrite", "65536")
IOCHECK(plain_read, "plain_read", "65536")
IOCHECK(file_vectors_atomic, "file_vectors_atomic", "65536")
IOCHECK(vector_edges, "vector_edges", "65536")
IOCHECK(marked_edges, "marked_edges", "4096")

/* Without LD_PRELOAD, linked with -lzio: the explicit API works too. */
TEST_F(lib, api_linked)
{
	const char *args[] = { "api", NULL };

	ASSERT_EQ(0, run("zio_libcheck", args, NULL, false, false));
}

int main(int argc, char **argv)
{
	printf("# libzio_test: seed %llu (ZIO_SEED=%llu repeats it), library %s\n",
	       seed, seed, lib);
	return test_harness_run(argc, argv);
}
