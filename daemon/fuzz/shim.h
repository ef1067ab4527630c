/* Force-included ahead of every daemon source in the fuzz build: the system
 * headers first, under their own names, then every system call bpfd makes
 * renamed to the fake in fakesys.c. The daemon's sources stay unchanged. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "fakesys.h"

#define syscall fuzz_syscall
#define open fuzz_open
#define read fuzz_read
#define write fuzz_write
#define close fuzz_close
#define lseek fuzz_lseek
#define fstat fuzz_fstat
#define stat(path, st) fuzz_stat(path, st)   /* function-like: `struct stat` stays */
#define fstatat fuzz_fstatat
#define readlink fuzz_readlink
#define access fuzz_access
#define ioctl fuzz_ioctl
#define mmap fuzz_mmap
#define munmap fuzz_munmap
#define fcntl fuzz_fcntl
#define epoll_create1 fuzz_epoll_create1
#define epoll_ctl fuzz_epoll_ctl
#define epoll_wait fuzz_epoll_wait
#define poll fuzz_poll
#define fdopendir fuzz_fdopendir
#define readdir fuzz_readdir
#define closedir fuzz_closedir
#define fopen fuzz_fopen
#define fgets fuzz_fgets
#define fclose fuzz_fclose
#define mount fuzz_mount
#define uname fuzz_uname
#define geteuid fuzz_geteuid
#define getpid fuzz_getpid
#define kill fuzz_kill
/* Function-like, so the harness can reach the real ones as (malloc)(n). */
#define malloc(n) fuzz_malloc(n)
#define calloc(n, size) fuzz_calloc(n, size)
#define realloc(p, n) fuzz_realloc(p, n)
#define strdup(s) fuzz_strdup(s)
