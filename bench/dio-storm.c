/* Load for the biolatency benchmark: 4 KiB O_DIRECT reads at scattered
 * offsets of FILE, one at a time, for SECONDS; then prints
 * "done READS NANOSECONDS". O_DIRECT keeps the page cache out, so every
 * read is a block request to the disk. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct stat st;
	void *buf;
	long long t0, end, n = 0;
	unsigned long long x = 88172645463325252ULL;
	long blocks;
	int fd;

	if (argc != 3 || atof(argv[2]) <= 0) {
		fprintf(stderr, "usage: dio-storm FILE SECONDS\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_DIRECT);
	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(argv[1]);
		return 1;
	}
	blocks = st.st_size / BLOCK;
	if (blocks < 1 || posix_memalign(&buf, BLOCK, BLOCK)) {
		fprintf(stderr, "dio-storm: %s is smaller than a block\n", argv[1]);
		return 1;
	}
	t0 = now_ns();
	end = t0 + (long long)(atof(argv[2]) * 1e9);
	do {
		/* xorshift: scattered offsets, the same sequence every run. */
		for (int i = 0; i < 64; i++, n++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			if (pread(fd, buf, BLOCK, (off_t)(x % blocks) * BLOCK) != BLOCK) {
				perror("pread");
				return 1;
			}
		}
	} while (now_ns() < end);
	printf("done %lld %lld\n", n, now_ns() - t0);
	return 0;
}
