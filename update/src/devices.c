#include "devices.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util.h"

/* Each line of /proc/self/mountinfo: "id parent maj:min root mountpoint opts ... - fstype src opts". */
struct mnt {
	unsigned maj, min;
	char point[512], fstype[64];
};

static int next_mount(FILE *f, struct mnt *m)
{
	char line[2048];
	while (fgets(line, sizeof line, f)) {
		char *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*s %*s %u:%u %*s %511s", &m->maj, &m->min, m->point) != 3 ||
		    sscanf(dash + 3, "%63s", m->fstype) != 1)
			continue;
		return 1;
	}
	return 0;
}

int dev_mounted(dev_t dev)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	struct mnt m;
	int found = 0;
	if (!f)
		return 0;
	while (!found && next_mount(f, &m))
		found = m.maj == major(dev) && m.min == minor(dev);
	fclose(f);
	return found;
}

static int mounted_at(const char *point)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	struct mnt m;
	int found = 0;
	if (!f)
		return 0;
	while (!found && next_mount(f, &m))
		found = !strcmp(m.point, point);
	fclose(f);
	return found;
}

/* The disk (sysfs name) holding a mounted partition: the squashfs root, else /overlay's. */
static int running_disk(char *disk, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	struct mnt m;
	int best = 0;
	if (!f)
		return -1;
	while (next_mount(f, &m)) {
		int score = !strcmp(m.fstype, "squashfs") ? 2 : !strcmp(m.point, "/overlay") ? 1 : 0;
		char link[64], target[PATH_MAX];
		if (score <= best)
			continue;
		snprintf(link, sizeof link, "/sys/dev/block/%u:%u", m.maj, m.min);
		ssize_t n = readlink(link, target, sizeof target - 1);
		if (n < 0)
			continue;
		target[n] = 0;
		/* .../block/<disk>/<partition>: the disk is the second to last component. */
		char *last = strrchr(target, '/');
		if (!last)
			continue;
		*last = 0;
		char *parent = strrchr(target, '/');
		if (!parent || !strcmp(parent + 1, "block"))
			continue;
		snprintf(disk, size, "%s", parent + 1);
		best = score;
	}
	fclose(f);
	return best ? 0 : -1;
}

/* /dev/<name> of partition number n of disk. */
static int partition_dev(const char *disk, int n, char *out, size_t size)
{
	char dir[PATH_MAX], buf[32];
	snprintf(dir, sizeof dir, "/sys/block/%s", disk);
	/* sda1, vda1; mmcblk0p1, nvme0n1p1 (a disk name ending in a digit takes "p") */
	const char *sep = (disk[strlen(disk) - 1] >= '0' && disk[strlen(disk) - 1] <= '9') ? "p" : "";
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s%s%d/partition", dir, disk, sep, n);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	int ok = fgets(buf, sizeof buf, f) && atoi(buf) == n;
	fclose(f);
	if (!ok)
		return -1;
	snprintf(out, size, "/dev/%s%s%d", disk, sep, n);
	return 0;
}

int devices_resolve(struct conf *c)
{
	char *want[3] = {c->boot_device, c->root_device[0], c->root_device[1]};
	if (want[0][0] && want[1][0] && want[2][0])
		return 0;
	char disk[128];
	if (running_disk(disk, sizeof disk)) {
		msg("cannot find the disk of the running system (no squashfs root or /overlay mount "
		    "from a partition); set boot_device, root_a_device and root_b_device in the config");
		return -1;
	}
	for (int i = 0; i < 3; i++) {
		if (want[i][0])
			continue;
		if (partition_dev(disk, i + 1, want[i], sizeof c->boot_device)) {
			msg("disk %s has no partition %d (the A/B layout needs p1 boot, p2 and p3 roots)",
			    disk, i + 1);
			return -1;
		}
	}
	return 0;
}

int boot_mount(struct conf *c, int *ours)
{
	*ours = 0;
	if (mounted_at(c->boot_mount))
		return 0;
	if (!c->boot_device[0] && devices_resolve(c))
		return -1;
	mkdir(c->boot_mount, 0755);
	if (mount(c->boot_device, c->boot_mount, "vfat", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0)) {
		msg_sys("unable to mount %s (boot partition) on %s", c->boot_device, c->boot_mount);
		return -1;
	}
	*ours = 1;
	return 0;
}

void boot_unmount(const struct conf *c, int ours)
{
	if (ours && umount(c->boot_mount))
		msg_sys("warning: unable to unmount %s", c->boot_mount);
}
