/* Grow the last partition of a disk and the ext4 file system on it (growfs.c). */
#ifndef ICENET_GROWFS_H
#define ICENET_GROWFS_H

#include <stdint.h>

/* The new table, as the caller needs it for BLKPG: start and length in bytes. */
struct grown {
	uint64_t start, length;
};

/* Rewrite the partition table of `fd` (sectors of `ss` bytes, `disk_bytes` long) so
 * partition `pno` ends at the end of the disk. 0, or 1 refused, 111 system error
 * (said on stderr). */
int growfs_table(int fd, int pno, unsigned ss, uint64_t disk_bytes, struct grown *g);
/* Grow partition `part` (a block device) to the end of its disk, then the ext4 mounted
 * on `mnt`. Nothing to do is success. Same codes. */
int growfs_device(const char *part, const char *mnt);

#endif
