/* Opens files on command, so a test can say exactly which opens a tracer
 * should report. Starts a worker thread, prints "ready PID TID" (TID: the
 * worker's), then reads tab-separated commands from stdin, one per line,
 * answering each with one line:
 *   open|sys_open|openat2|thread <TAB> PATH <TAB> FLAGS <TAB> MODE
 *       -> "ok FD" or "err ERRNO"; open is openat(AT_FDCWD), sys_open is
 *          open(2), openat2 is openat2(2), thread is openat from the worker.
 *          Descriptors stay open, so each open gets its own FD.
 *   chdir <TAB> DIR  -> "ok 0" or "err ERRNO"
 * It exits at end of input. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static const char *job_path;
static int job_flags, job_mode, job_pending, job_result, worker_tid;

static void *worker(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&lock);
	worker_tid = gettid();
	pthread_cond_broadcast(&cond);
	for (;;) {
		while (job_pending != 1)
			pthread_cond_wait(&cond, &lock);
		job_result = openat(AT_FDCWD, job_path, job_flags, job_mode);
		if (job_result < 0)
			job_result = -errno;
		job_pending = 2;
		pthread_cond_broadcast(&cond);
	}
	return NULL;
}

static int in_worker(const char *path, int flags, int mode)
{
	int r;

	pthread_mutex_lock(&lock);
	job_path = path;
	job_flags = flags;
	job_mode = mode;
	job_pending = 1;
	pthread_cond_broadcast(&cond);
	while (job_pending != 2)
		pthread_cond_wait(&cond, &lock);
	job_pending = 0;
	r = job_result;
	pthread_mutex_unlock(&lock);
	return r;
}

int main(void)
{
	char line[8192];
	pthread_t t;

	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_create(&t, NULL, worker, NULL);
	pthread_mutex_lock(&lock);
	while (!worker_tid)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	printf("ready %d %d\n", getpid(), worker_tid);

	while (fgets(line, sizeof(line), stdin)) {
		char *cmd = strtok(line, "\t\n");
		char *path = strtok(NULL, "\t\n");
		char *flags_s = strtok(NULL, "\t\n");
		char *mode_s = strtok(NULL, "\t\n");
		int flags = flags_s ? (int)strtol(flags_s, NULL, 0) : 0;
		int mode = mode_s ? (int)strtol(mode_s, NULL, 0) : 0;
		int r;

		if (!cmd || !path) {
			printf("err %d\n", EINVAL);
			continue;
		}
		if (!strcmp(cmd, "open")) {
			r = openat(AT_FDCWD, path, flags, mode);
		} else if (!strcmp(cmd, "sys_open")) {
			r = (int)syscall(SYS_open, path, flags, mode);
		} else if (!strcmp(cmd, "openat2")) {
			struct open_how how = {.flags = (unsigned)flags, .mode = (unsigned)mode};
			r = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
		} else if (!strcmp(cmd, "thread")) {
			r = in_worker(path, flags, mode);
			if (r < 0) {
				printf("err %d\n", -r);
				continue;
			}
		} else if (!strcmp(cmd, "chdir")) {
			r = chdir(path);
		} else {
			printf("err %d\n", EINVAL);
			continue;
		}
		if (r < 0)
			printf("err %d\n", errno);
		else
			printf("ok %d\n", r);
	}
	return 0;
}
