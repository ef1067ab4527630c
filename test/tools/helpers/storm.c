/* Load for the tracer benchmarks. Prints "ready PID", then reads commands
 * from stdin, one per line, and answers each with one line:
 *   probe-open K    K failed opens of PROBE_PATH            -> "ok"
 *   open-storm N P  N times open(P, O_RDONLY) and close     -> "done N NANOSECONDS"
 *   probe-exec K    K children that fail to exec PROBE_PATH -> "ok"
 *   exec-storm N    N times fork, execl("/bin/true", "true", "arg1", "arg2"),
 *                   wait                                     -> "done N NANOSECONDS"
 * A tracer is ready once a probe's events reach its output. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROBE_PATH "/nonexistent/bpftools-bench-probe"

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void run_child(const char *path)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl(path, "true", "arg1", "arg2", (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

int main(void)
{
	char line[4096];

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %d\n", getpid());
	while (fgets(line, sizeof(line), stdin)) {
		char path[4000];
		long n = 0;
		long long t0;

		if (sscanf(line, "probe-open %ld", &n) == 1) {
			for (long i = 0; i < n; i++)
				open(PROBE_PATH, O_RDONLY);
			printf("ok\n");
		} else if (sscanf(line, "open-storm %ld %3999s", &n, path) == 2) {
			t0 = now_ns();
			for (long i = 0; i < n; i++) {
				int fd = open(path, O_RDONLY);

				if (fd >= 0)
					close(fd);
			}
			printf("done %ld %lld\n", n, now_ns() - t0);
		} else if (sscanf(line, "probe-exec %ld", &n) == 1) {
			for (long i = 0; i < n; i++)
				run_child(PROBE_PATH);
			printf("ok\n");
		} else if (sscanf(line, "exec-storm %ld", &n) == 1) {
			t0 = now_ns();
			for (long i = 0; i < n; i++)
				run_child("/bin/true");
			printf("done %ld %lld\n", n, now_ns() - t0);
		} else {
			printf("unknown\n");
		}
	}
	return 0;
}
