/* Forks and execs on command, so a test knows every exec a tracer should
 * report. Prints "ready PID", then reads commands from stdin, one per line:
 *   storm N      N times: fork, execl("/bin/true", "true", "arg1", "arg2"),
 *                wait. The argument strings are literals in this binary's
 *                read-only data, which a fresh child has not paged in.
 *                Prints "child PID" per child, then "done N".
 *   fail         fork; the child execs a missing file with arguments and
 *                exits; prints "failed PID ERRNO".
 *   script PATH  fork; the child execs /bin/sh PATH; prints "script PID STATUS".
 * It exits at end of input. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MISSING "/nonexistent/bpft-missing"

int main(void)
{
	char line[4096];

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %d\n", getpid());
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "storm ", 6)) {
			long n = strtol(line + 6, NULL, 10);

			for (long i = 0; i < n; i++) {
				pid_t pid = fork();

				if (pid == 0) {
					execl("/bin/true", "true", "arg1", "arg2", (char *)NULL);
					_exit(127);
				}
				printf("child %d\n", pid);
				waitpid(pid, NULL, 0);
			}
			printf("done %ld\n", n);
		} else if (!strcmp(line, "fail")) {
			int fds[2], err = 0;
			pid_t pid;

			if (pipe(fds))
				return 1;
			pid = fork();
			if (pid == 0) {
				execl(MISSING, "bpft-missing", "a b", "c\"d", (char *)NULL);
				err = errno;
				if (write(fds[1], &err, sizeof(err)) < 0)
					_exit(1);
				_exit(127);
			}
			close(fds[1]);
			if (read(fds[0], &err, sizeof(err)) < 0)
				err = -1;
			close(fds[0]);
			waitpid(pid, NULL, 0);
			printf("failed %d %d\n", pid, err);
		} else if (!strncmp(line, "script ", 7)) {
			int status = 0;
			pid_t pid = fork();

			if (pid == 0) {
				execl("/bin/sh", "sh", line + 7, (char *)NULL);
				_exit(127);
			}
			waitpid(pid, &status, 0);
			printf("script %d %d\n", pid, status);
		} else {
			printf("unknown %s\n", line);
		}
	}
	return 0;
}
