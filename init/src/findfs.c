/*
 * Find a block device the way the kernel command line names it (busybox findfs and
 * the kernel's root= together): a /dev path as is; LABEL= and UUID= of an ext4 file
 * system, from its superblock; PARTUUID= of a partition, from its disk's table (MBR
 * disk signature and number, as util-linux prints it, or the GPT entry's GUID).
 * Devices are those in /sys/class/block with a nonzero size.
 */
#include "findfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mount.h> /* BLKSSZGET */
#include <unistd.h>

#include "le.h"

#define EXT4_MAGIC 0xef53

static int pread_all(int fd, void *buf, size_t n, off_t off)
{
	return pread(fd, buf, n, off) == (ssize_t)n ? 0 : -1;
}

/* A 16-byte UUID as text; GPT stores its first three fields little-endian. */
static void uuid_text(const unsigned char *u, int mixed, char out[37])
{
	if (mixed)
		snprintf(out, 37, "%08x-%04x-%04x-", get32(u), get16(u + 4), get16(u + 6));
	else
		snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-", u[0], u[1], u[2], u[3], u[4],
		         u[5], u[6], u[7]);
	snprintf(out + 19, 18, "%02x%02x-%02x%02x%02x%02x%02x%02x", u[8], u[9], u[10], u[11], u[12],
	         u[13], u[14], u[15]);
}

/* Does the ext4 superblock on `dev` carry this LABEL= or UUID= value? */
static int ext4_matches(const char *dev, int by_label, const char *want)
{
	unsigned char sb[1024];
	int fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return 0;
	int ok = !pread_all(fd, sb, sizeof sb, 1024);
	close(fd);
	if (!ok || get16(sb + 0x38) != EXT4_MAGIC) return 0;
	if (by_label) return strlen(want) <= 16 && !strncmp((const char *)sb + 0x78, want, 16);
	char uuid[37];
	uuid_text(sb + 0x68, 0, uuid);
	return !strcasecmp(uuid, want);
}

static long read_long(const char *dir, const char *file)
{
	char path[PATH_MAX], buf[32] = "";
	snprintf(path, sizeof path, "%s/%s", dir, file);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	ssize_t r = read(fd, buf, sizeof buf - 1);
	close(fd);
	return r > 0 ? strtol(buf, 0, 10) : -1;
}

/* The PARTUUID of partition `pno` of disk `disk` (/dev/...), or "" if it has none. */
static void partuuid(const char *disk, long pno, char out[37])
{
	unsigned char mbr[512], *hdr = 0, *ent = 0;
	int ss = 512;
	*out = 0;
	int fd = open(disk, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return;
	if (pread_all(fd, mbr, sizeof mbr, 0) || mbr[510] != 0x55 || mbr[511] != 0xaa) goto out;
	if (mbr[446 + 4] != 0xee) {
		if (pno >= 1 && pno <= 4) snprintf(out, 37, "%08x-%02lx", get32(mbr + 440), pno);
		goto out;
	}
	if (ioctl(fd, BLKSSZGET, &ss) || ss < 512 || ss > 4096) ss = 512;
	hdr = malloc((size_t)ss);
	if (!hdr || pread_all(fd, hdr, (size_t)ss, ss) || memcmp(hdr, "EFI PART", 8)) goto out;
	uint32_t nent = get32(hdr + 80), esize = get32(hdr + 84);
	if (pno < 1 || (uint32_t)pno > nent || esize < 128 || esize > 4096) goto out;
	ent = malloc(esize);
	if (!ent || pread_all(fd, ent, esize, (off_t)(get64(hdr + 72) * (uint64_t)ss + (uint64_t)(pno - 1) * esize)))
		goto out;
	uuid_text(ent + 16, 1, out);
out:
	free(hdr);
	free(ent);
	close(fd);
}

int findfs(const char *spec, char *dev, size_t cap)
{
	if (!strncmp(spec, "/dev/", 5)) return snprintf(dev, cap, "%s", spec) < (int)cap ? 0 : -1;
	int label = !strncmp(spec, "LABEL=", 6), uuid = !strncmp(spec, "UUID=", 5);
	int part = !strncmp(spec, "PARTUUID=", 9);
	if (!label && !uuid && !part) return -1;
	const char *want = strchr(spec, '=') + 1;
	DIR *d = opendir("/sys/class/block");
	if (!d) return -1;
	int found = 0;
	for (struct dirent *e; !found && (e = readdir(d));) {
		char sys[PATH_MAX], node[PATH_MAX];
		if (e->d_name[0] == '.') continue;
		snprintf(sys, sizeof sys, "/sys/class/block/%s", e->d_name);
		snprintf(node, sizeof node, "/dev/%s", e->d_name);
		if (read_long(sys, "size") <= 0) continue; /* unbound loops, empty drives */
		if (part) {
			long pno = read_long(sys, "partition");
			char real[PATH_MAX], id[37];
			if (pno <= 0 || !realpath(sys, real)) continue;
			*strrchr(real, '/') = 0; /* the disk is the parent in sysfs */
			char disk[PATH_MAX];
			snprintf(disk, sizeof disk, "/dev/%s", strrchr(real, '/') + 1);
			partuuid(disk, pno, id);
			found = *id && !strcasecmp(id, want);
		} else found = ext4_matches(node, label, want);
		if (found && snprintf(dev, cap, "%s", node) >= (int)cap) found = 0;
	}
	closedir(d);
	return found ? 0 : -1;
}
