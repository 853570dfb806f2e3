/* icenet-growfs: the command (the work is in growfs.c, which early boot links too). */
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <errno.h>

#include "growfs.h"

#define PROG "icenet-growfs"

static int fail(int code, const char *what, const char *detail)
{
	fprintf(stderr, "%s: %s: %s\n", PROG, what, detail);
	return code;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--table")) {
		int fd = open(argv[2], O_RDWR | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st)) return fail(111, argv[2], strerror(errno));
		struct grown g;
		int rc = growfs_table(fd, atoi(argv[3]), 512, (uint64_t)st.st_size, &g);
		if (!rc) printf("%" PRIu64 " %" PRIu64 "\n", g.start, g.length);
		if (close(fd)) return fail(111, argv[2], strerror(errno));
		return rc;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: %s PARTITION MOUNTPOINT\n       %s --table IMAGE N\n", PROG, PROG);
		return 100;
	}
	return growfs_device(argv[1], argv[2]);
}
