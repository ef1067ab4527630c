/* A steady open(2) load for the soak: opens DIR/f0 .. DIR/f<N-1> in turn at a
 * target rate. Prints "ready PID", then waits for one line on stdin:
 *   go SECONDS RATE
 * opens at RATE per second for SECONDS, printing "tick OPENS" once a second,
 * and ends with "done OPENS FAILED NANOSECONDS".
 * Pacing is by the clock in 1 ms steps: after a stall it catches up by at most
 * 100 ms worth of opens, so a stall lowers the rate rather than making a burst.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	char line[256], **paths;
	long n, seconds, rate;

	if (argc != 3 || (n = strtol(argv[2], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: open-paced DIR NPATHS\n");
		return 2;
	}
	paths = calloc((size_t)n, sizeof(*paths));
	for (long i = 0; i < n; i++)
		if (!paths || asprintf(&paths[i], "%s/f%ld", argv[1], i) < 0)
			return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %d\n", getpid());
	if (!fgets(line, sizeof(line), stdin) || sscanf(line, "go %ld %ld", &seconds, &rate) != 2 || rate <= 0) {
		fprintf(stderr, "open-paced: expected 'go SECONDS RATE'\n");
		return 2;
	}

	long long t0 = now_ns(), end = t0 + seconds * 1000000000LL, next_tick = t0 + 1000000000LL;
	long long sched = 0, opens = 0, failed = 0, max_behind = rate / 10;
	struct timespec step = {0, 1000000};
	for (;;) {
		long long t = now_ns();
		if (t >= end)
			break;
		long long due = (t - t0) * rate / 1000000000LL;
		if (due - sched > max_behind)
			sched = due - max_behind; /* forgive a stall instead of bursting */
		for (; sched < due; sched++, opens++) {
			int fd = open(paths[opens % n], O_RDONLY);

			if (fd >= 0)
				close(fd);
			else
				failed++;
		}
		if (t >= next_tick) {
			printf("tick %lld\n", opens);
			next_tick += 1000000000LL;
		}
		nanosleep(&step, NULL);
	}
	printf("done %lld %lld %lld\n", opens, failed, now_ns() - t0);
	return 0;
}
