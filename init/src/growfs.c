/*
 * icenet-growfs: grow the data partition to the end of its disk, then the ext4 file
 * system on it, online. An image is written small (it must fit any card); the first
 * boot on a bigger card or disk runs this from early boot and every later boot finds
 * nothing to do. Like cloud-utils' growpart + resize2fs, without either: busybox has
 * no resize2fs, and the two steps are a few hundred bytes of table editing and two
 * ioctls (BLKPG_RESIZE_PARTITION, EXT4_IOC_RESIZE_FS).
 *
 *   icenet-growfs PARTITION MOUNTPOINT   grow PARTITION (e.g. /dev/mmcblk0p3), then the
 *                                        ext4 mounted on MOUNTPOINT
 *   icenet-growfs --table IMAGE N        only rewrite the table of a disk image file
 *                                        (partition N to the end of the file; tests)
 *
 * Only the last partition of the disk grows (nothing else moves). MBR and GPT; for
 * GPT the backup header and entries move to the new end of the disk, with new CRCs.
 * Exit: 0 grown or nothing to do, 1 refused (not the last partition, unknown table),
 * 111 system error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h> /* BLKGETSIZE64, BLKSSZGET */
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <unistd.h>

#include "growfs.h"
#include "le.h"

/* The kernel ABI this needs beyond libc, spelled out so that the program builds with
 * any libc's headers (musl-gcc comes without linux/): <linux/blkpg.h>, ext4's ioctl. */
#define BLKPG _IO(0x12, 105)
#define BLKPG_RESIZE_PARTITION 3
struct blkpg_ioctl_arg {
	int op, flags, datalen;
	void *data;
};
struct blkpg_partition {
	long long start, length; /* bytes */
	int pno;
	char devname[64], volname[64];
};
#define EXT4_IOC_RESIZE_FS _IOW('f', 16, uint64_t)
/* Keep the end 1 MiB-aligned, as partitioning tools do. */
#define ALIGN_BYTES (1024 * 1024)
/* Less than this much to gain is not worth a table write. */
#define MIN_GAIN_BYTES (4 * 1024 * 1024)

static const char *prog = "icenet-growfs";

static int fail(int code, const char *what, const char *detail)
{
	fprintf(stderr, "%s: %s%s%s\n", prog, what, detail ? ": " : "", detail ? detail : "");
	return code;
}


/* CRC-32 (IEEE 802.3, reflected), as GPT uses. */
static uint32_t crc32(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffff;
	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++) c = c >> 1 ^ (0xedb88320 & -(c & 1));
	}
	return ~c;
}

static int pread_all(int fd, void *buf, size_t n, off_t off)
{
	return pread(fd, buf, n, off) == (ssize_t)n ? 0 : -1;
}

static int pwrite_all(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite(fd, buf, n, off) == (ssize_t)n ? 0 : -1;
}


/* MBR: primary partition number `pno` (1-4). */
static int grow_mbr(int fd, unsigned char *mbr, int pno, uint64_t disk_bytes, struct grown *g)
{
	if (pno < 1 || pno > 4) return fail(1, "MBR: only primary partitions (1-4) can grow", 0);
	unsigned char *e = mbr + 446 + 16 * (pno - 1);
	uint64_t start = get32(e + 8), size = get32(e + 12);
	if (!size) return fail(1, "MBR: the partition is empty", 0);
	for (int i = 0; i < 4; i++) {
		const unsigned char *o = mbr + 446 + 16 * i;
		if (i != pno - 1 && get32(o + 12) && get32(o + 8) > start)
			return fail(1, "not the last partition: nothing can grow", 0);
	}
	uint64_t end = disk_bytes / ALIGN_BYTES * ALIGN_BYTES / 512;
	if (end > UINT32_MAX) end = UINT32_MAX; /* MBR's limit: 2 TiB */
	g->start = start * 512;
	g->length = size * 512;
	if (end <= start + size || (end - start - size) * 512 < MIN_GAIN_BYTES) return 0;
	put32(e + 12, (uint32_t)(end - start));
	/* CHS of the end: beyond what CHS can say, as sfdisk writes it. */
	e[5] = 0xfe, e[6] = 0xff, e[7] = 0xff;
	if (pwrite_all(fd, mbr, 512, 0)) return fail(111, "write MBR", strerror(errno));
	g->length = (end - start) * 512;
	return 0;
}

/* GPT: partition entry `pno` (1-based); sectors of `ss` bytes. */
static int grow_gpt(int fd, unsigned char *pmbr, int pno, unsigned ss, uint64_t disk_bytes,
                    struct grown *g)
{
	unsigned char *hdr = malloc(ss);
	unsigned char *ents = 0;
	int rc = 111;
	if (!hdr) return fail(111, "out of memory", 0);
	if (pread_all(fd, hdr, ss, ss)) { rc = fail(111, "read GPT header", strerror(errno)); goto out; }
	if (memcmp(hdr, "EFI PART", 8)) { rc = fail(1, "GPT: no primary header", 0); goto out; }
	uint32_t hsize = get32(hdr + 12), nent = get32(hdr + 80), esize = get32(hdr + 84);
	uint64_t elba = get64(hdr + 72);
	if (hsize < 92 || hsize > ss || esize < 128 || nent > 4096 || pno < 1 || (uint32_t)pno > nent) {
		rc = fail(1, "GPT: unexpected header or partition number", 0);
		goto out;
	}
	size_t ebytes = (size_t)nent * esize, esectors = (ebytes + ss - 1) / ss;
	ents = calloc(esectors, ss);
	if (!ents) { rc = fail(111, "out of memory", 0); goto out; }
	if (pread_all(fd, ents, ebytes, (off_t)(elba * ss))) {
		rc = fail(111, "read GPT entries", strerror(errno));
		goto out;
	}
	unsigned char *e = ents + (size_t)(pno - 1) * esize;
	uint64_t first = get64(e + 32), last = get64(e + 40);
	if (!first) { rc = fail(1, "GPT: the partition is empty", 0); goto out; }
	for (uint32_t i = 0; i < nent; i++) {
		const unsigned char *o = ents + (size_t)i * esize;
		if (i != (uint32_t)pno - 1 && get64(o + 32) > first) {
			rc = fail(1, "not the last partition: nothing can grow", 0);
			goto out;
		}
	}
	uint64_t sectors = disk_bytes / ss;
	uint64_t backup_elba = sectors - 1 - esectors;
	uint64_t last_usable = backup_elba - 1;
	uint64_t new_last = (last_usable + 1) * ss / ALIGN_BYTES * ALIGN_BYTES / ss - 1;
	g->start = first * ss;
	g->length = (last - first + 1) * ss;
	if (new_last <= last || (new_last - last) * ss < MIN_GAIN_BYTES) { rc = 0; goto out; }
	put64(e + 40, new_last);
	uint32_t ecrc = crc32(ents, ebytes);
	/* Backup first (entries, then header), primary last: a cut in between leaves a
	 * valid primary describing the old layout. */
	put64(hdr + 24, sectors - 1); /* backup header: its own LBA, */
	put64(hdr + 32, 1);           /* the other header's, */
	put64(hdr + 48, last_usable);
	put64(hdr + 72, backup_elba); /* and its entries */
	put32(hdr + 88, ecrc);
	put32(hdr + 16, 0);
	put32(hdr + 16, crc32(hdr, hsize));
	if (pwrite_all(fd, ents, esectors * ss, (off_t)(backup_elba * ss)) ||
	    pwrite_all(fd, hdr, ss, (off_t)((sectors - 1) * ss)) || fsync(fd)) {
		rc = fail(111, "write backup GPT", strerror(errno));
		goto out;
	}
	put64(hdr + 24, 1);
	put64(hdr + 32, sectors - 1);
	put64(hdr + 72, elba);
	put32(hdr + 16, 0);
	put32(hdr + 16, crc32(hdr, hsize));
	if (pwrite_all(fd, ents, ebytes, (off_t)(elba * ss)) || pwrite_all(fd, hdr, ss, ss)) {
		rc = fail(111, "write primary GPT", strerror(errno));
		goto out;
	}
	/* The protective MBR covers the whole disk (as far as 32 bits reach). */
	put32(pmbr + 446 + 12, sectors - 1 > UINT32_MAX ? UINT32_MAX : (uint32_t)(sectors - 1));
	if (pwrite_all(fd, pmbr, 512, 0)) {
		rc = fail(111, "write protective MBR", strerror(errno));
		goto out;
	}
	g->length = (new_last - first + 1) * ss;
	rc = 0;
out:
	free(hdr);
	free(ents);
	return rc;
}

/* Rewrite the partition table of `fd` so partition `pno` ends at the end of the disk. */
int growfs_table(int fd, int pno, unsigned ss, uint64_t disk_bytes, struct grown *g)
{
	unsigned char mbr[512];
	if (pread_all(fd, mbr, sizeof mbr, 0)) return fail(111, "read MBR", strerror(errno));
	if (mbr[510] != 0x55 || mbr[511] != 0xaa) return fail(1, "no partition table", 0);
	if (mbr[446 + 4] == 0xee) return grow_gpt(fd, mbr, pno, ss, disk_bytes, g);
	return grow_mbr(fd, mbr, pno, disk_bytes, g);
}

static int read_sysfs_u64(const char *dir, const char *file, uint64_t *v)
{
	char path[PATH_MAX], buf[32];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	FILE *f = fopen(path, "r");
	if (!f) return -1;
	int ok = fgets(buf, sizeof buf, f) != 0;
	fclose(f);
	if (!ok) return -1;
	*v = strtoull(buf, 0, 10);
	return 0;
}

/* Block size and block count of the ext4 on `part`, from its superblock (statvfs's
 * f_blocks leaves out the file system's own metadata, so it never equals the count). */
static int ext4_size(const char *part, uint64_t *bsize, uint64_t *blocks)
{
	unsigned char sb[1024];
	int fd = open(part, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	int ok = !pread_all(fd, sb, sizeof sb, 1024);
	close(fd);
	if (!ok || get16(sb + 0x38) != 0xef53) return -1;
	*bsize = 1024ULL << get32(sb + 0x18);
	*blocks = get32(sb + 0x04);
	if (get32(sb + 0x60) & 0x80) *blocks |= (uint64_t)get32(sb + 0x150) << 32; /* 64bit */
	return 0;
}

int growfs_device(const char *part, const char *mnt)
{
	struct stat st;
	if (stat(part, &st) || !S_ISBLK(st.st_mode)) return fail(1, part, "not a block device");
	char sys[PATH_MAX], real[PATH_MAX];
	snprintf(sys, sizeof sys, "/sys/dev/block/%u:%u", major(st.st_rdev), minor(st.st_rdev));
	uint64_t pno, start512;
	if (!realpath(sys, real) || read_sysfs_u64(real, "partition", &pno) ||
	    read_sysfs_u64(real, "start", &start512))
		return fail(1, part, "not a partition (no sysfs entry)");
	/* The disk is the parent directory in sysfs; its node is /dev/<name>. */
	char *slash = strrchr(real, '/');
	*slash = 0;
	char disk[PATH_MAX];
	snprintf(disk, sizeof disk, "/dev/%s", strrchr(real, '/') + 1);
	int fd = open(disk, O_RDWR | O_CLOEXEC);
	if (fd < 0) return fail(111, disk, strerror(errno));
	uint64_t disk_bytes;
	int ss;
	if (ioctl(fd, BLKGETSIZE64, &disk_bytes) || ioctl(fd, BLKSSZGET, &ss)) {
		close(fd);
		return fail(111, disk, strerror(errno));
	}
	struct grown g = {0};
	int rc = growfs_table(fd, (int)pno, (unsigned)ss, disk_bytes, &g);
	if (rc) { close(fd); return rc; }
	if (g.start != start512 * 512) {
		close(fd);
		return fail(1, part, "the table does not match the kernel's view of the partition");
	}
	uint64_t old = 0;
	int pfd = open(part, O_RDONLY | O_CLOEXEC);
	if (pfd < 0 || ioctl(pfd, BLKGETSIZE64, &old)) old = 0;
	if (pfd >= 0) close(pfd);
	if (g.length > old) {
		fsync(fd);
		struct blkpg_partition bp = {.start = (long long)g.start, .length = (long long)g.length,
		                             .pno = (int)pno};
		struct blkpg_ioctl_arg arg = {.op = BLKPG_RESIZE_PARTITION, .datalen = sizeof bp, .data = &bp};
		if (ioctl(fd, BLKPG, &arg)) {
			close(fd);
			return fail(111, "BLKPG_RESIZE_PARTITION", strerror(errno));
		}
		fprintf(stderr, "%s: %s: %" PRIu64 " -> %" PRIu64 " MiB\n", prog, part, old >> 20,
		        g.length >> 20);
	}
	close(fd);
	/* The file system: grow to the partition. Every later boot ends here, with nothing
	 * to do and no resize asked of the kernel. */
	uint64_t bsize, now;
	if (ext4_size(part, &bsize, &now)) return fail(1, part, "no ext4 superblock");
	uint64_t blocks = g.length / bsize;
	if (blocks <= now) return 0;
	int mfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0) return fail(111, mnt, strerror(errno));
	if (ioctl(mfd, EXT4_IOC_RESIZE_FS, &blocks)) {
		close(mfd);
		return fail(111, "EXT4_IOC_RESIZE_FS", strerror(errno));
	}
	close(mfd);
	return 0;
}
