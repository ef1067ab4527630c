/* The system boundary bpfd is fuzzed behind: a fake kernel and file system.
 * The daemon's sources are compiled with shim.h, which routes their system
 * calls here; nothing the fuzzer feeds in reaches the real kernel. */
#ifndef FAKESYS_H
#define FAKESYS_H

#include <dirent.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>

/* The system calls bpfd makes, as the fake answers them. */
long fuzz_syscall(long nr, ...);
int fuzz_open(const char *path, int flags, ...);
ssize_t fuzz_read(int fd, void *buf, size_t n);
ssize_t fuzz_write(int fd, const void *buf, size_t n);
int fuzz_close(int fd);
off_t fuzz_lseek(int fd, off_t off, int whence);
int fuzz_fstat(int fd, struct stat *st);
int fuzz_stat(const char *path, struct stat *st);
int fuzz_fstatat(int dfd, const char *name, struct stat *st, int flags);
ssize_t fuzz_readlink(const char *path, char *buf, size_t cap);
int fuzz_access(const char *path, int mode);
int fuzz_ioctl(int fd, unsigned long req, ...);
void *fuzz_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int fuzz_munmap(void *addr, size_t len);
int fuzz_fcntl(int fd, int cmd, ...);
int fuzz_epoll_create1(int flags);
int fuzz_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);
int fuzz_epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout);
int fuzz_poll(struct pollfd *fds, nfds_t n, int timeout);
DIR *fuzz_fdopendir(int fd);
struct dirent *fuzz_readdir(DIR *d);
int fuzz_closedir(DIR *d);
FILE *fuzz_fopen(const char *path, const char *mode);
char *fuzz_fgets(char *s, int size, FILE *f);
int fuzz_fclose(FILE *f);
int fuzz_mount(const char *src, const char *target, const char *type, unsigned long flags, const void *data);
int fuzz_uname(struct utsname *u);
uid_t fuzz_geteuid(void);
pid_t fuzz_getpid(void);
int fuzz_kill(pid_t pid, int sig);
void *fuzz_malloc(size_t n);
void *fuzz_calloc(size_t n, size_t size);
void *fuzz_realloc(void *p, size_t n);
char *fuzz_strdup(const char *s);

/* What the harness controls. */
struct fake_config {
	int root;            /* geteuid() is 0 */
	int tracefs;         /* tracefs is mounted at /sys/kernel/tracing */
	int fault_every;     /* 0, or fail every Nth fallible call (allocations too) */
};

/* Start one connection's worth of fake state. */
void fake_reset(const struct fake_config *cfg);
/* A fake fd whose writes go to sink (the connection's output). */
int fake_output_fd(void (*sink)(const uint8_t *p, size_t n));
/* After a connection ended: aborts if bpfd left a kernel object, mapping,
 * open file or tracefs probe behind; then frees the fake state. */
void fake_check_released(void);
/* Report a broken promise of bpfd and abort (the fuzzer records the input). */
void fake_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
