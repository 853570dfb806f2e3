/*
 * icenet-preinit: IceNet-OS early boot, /sbin/init. The kernel starts it as PID 1 on
 * the read-only squashfs root; it lays the writable overlay over that root and execs
 * icenet-init, which stays PID 1. It was a busybox sh script: every mount, findfs and
 * helper was a fork and exec, about a second of a Pi's boot under emulation. Here it
 * is a few system calls.
 *
 * The overlay (OpenWrt-style): the upper layer lives on the ext4 data partition, so
 * changes to /etc, /var, /home, /root and packages installed on the device persist
 * while the squashfs stays pristine. A factory reset (icenet-factory-reset) only
 * marks the layer; it is wiped here, on the next boot, before anything uses it.
 *
 * Data partition: kernel argument icenet.data=<device|LABEL=|UUID=|PARTUUID=>, else the
 * ext4 file system labelled "data". No data partition, or a mount failure: the upper
 * layer is a tmpfs (changes are lost at power-off) and a warning says so.
 * icenet.overlay=off boots the bare read-only root. The data partition grows to fill
 * the disk at first boot.
 *
 * Boards without a real-time clock (every Pi) start in 1970: once the data partition
 * is mounted, the clock is put forward to the time saved at the last shutdown (the
 * "clock" service of base-files saves it), or at least to the image's build date.
 *
 *   icenet-preinit [ARGS...]                  as PID 1: the boot; ARGS go to icenet-init
 *   icenet-preinit --clock-restore [--dry-run] only the clock step (ICENET_CLOCK_FILE,
 *                                              ICENET_CLOCK_REF name its files; tests)
 *   icenet-preinit --find SPEC                print the device SPEC names (tests)
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmdline.h"
#include "findfs.h"
#include "growfs.h"
#include "msg.h"

#define ICENET_INIT "/sbin/icenet-init"
#define RECONCILE "/usr/lib/icenet/reconcile-etc"
#define ETC_SUMS "/usr/lib/icenet/etc.sha256"
#define ETC_STATE "/overlay/etc.sha256"

static int kmsg = -1; /* for the chart's marks */

/* A step done, into the kernel log at debug level (not on the console): its timestamp
 * puts early boot on the boot chart (`deno task boot <board> --chart`). */
static void mark(const char *step)
{
	if (kmsg < 0) return;
	char buf[128];
	int n = snprintf(buf, sizeof buf, "<7>icenet-preinit: step %s\n", step);
	if (write(kmsg, buf, (size_t)n) < 0) { /* a missing mark only thins the chart */ }
}

static int mnt(const char *src, const char *dir, const char *type, unsigned long flags, const char *data)
{
	if (!mount(src, dir, type, flags, data)) return 0;
	warnx("unable to mount %s on %s: %s", src, dir, strerror(errno));
	return -1;
}

static void iso(time_t t, char out[32])
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "@%lld", (long long)t);
}

/* Put the clock forward to the time saved last, or the image's build date (the time
 * of a file of the read-only root), if it is behind; never backwards. */
static int restore_clock(int dry_run)
{
	const char *file = getenv("ICENET_CLOCK_FILE"), *ref = getenv("ICENET_CLOCK_REF");
	if (!file) file = "/overlay/clock";
	if (!ref) ref = "/etc/os-release";
	struct stat st;
	time_t t = stat(ref, &st) ? 0 : st.st_mtime;
	char src[300] = "the image's build date", buf[32] = "";
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t r = read(fd, buf, sizeof buf - 1);
		close(fd);
		buf[r > 0 ? r : 0] = 0;
		buf[strcspn(buf, "\n")] = 0;
		char *end;
		long long saved = strtoll(buf, &end, 10);
		if (*buf >= '0' && *buf <= '9' && !*end && saved > (long long)t) {
			t = (time_t)saved;
			snprintf(src, sizeof src, "the time saved at %s", file);
		}
	}
	time_t now = time(0);
	if (now >= t) return 0;
	char from[32], to[32];
	iso(now, from);
	iso(t, to);
	if (dry_run) {
		printf("would set the clock from %s to %s (%s)\n", from, to, src);
		return 0;
	}
	struct timeval tv = {.tv_sec = t};
	if (settimeofday(&tv, 0)) {
		warnx("could not restore the clock: icenet-clock: could not set the clock to %s: %s",
		    to, strerror(errno));
		return 1;
	}
	infox("icenet-clock: clock was %s, set to %s (%s); NTP will correct it", from, to, src);
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)ftw;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) && errno != ENOENT)
		warnx("factory reset: unable to remove %s: %s", path, strerror(errno));
	return 0;
}

static void rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* The whole of a small file, or 0 (free it). */
static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) || st.st_size > (1 << 24)) {
		if (fd >= 0) close(fd);
		return 0;
	}
	char *b = malloc((size_t)st.st_size + 1);
	*len = b ? (size_t)read(fd, b, (size_t)st.st_size) : 0;
	close(fd);
	if (b && *len != (size_t)st.st_size) free(b), b = 0;
	return b;
}

static int write_file(const char *path, const char *data, size_t len)
{
	char tmp[256];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) return -1;
	int ok = write(fd, data, len) == (ssize_t)len && !fsync(fd);
	if (close(fd) || !ok || rename(tmp, path)) return unlink(tmp), -1;
	return 0;
}

/* A new system (an update): /etc edits in the layer meet the new root's, dpkg-style.
 * The usual boot (nothing changed) decides it here; an update runs the script. */
static void reconcile_etc(void)
{
	size_t nl = 0, sl = 0;
	char *now = slurp(ETC_SUMS, &nl), *was = slurp(ETC_STATE, &sl);
	if (!now) goto out;
	if (!was) { /* the first boot with a layer: this root is the reference */
		if (write_file(ETC_STATE, now, nl))
			warnx("could not record %s: /etc will not be reconciled after the next update", ETC_STATE);
		goto out;
	}
	if (nl == sl && !memcmp(now, was, nl)) goto out;
	pid_t pid = fork();
	if (pid == 0) {
		execl(RECONCILE, RECONCILE, "/", "/overlay/upper", ETC_STATE, (char *)0);
		_exit(127);
	}
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		warnx("%s failed", RECONCILE);
out:
	free(now);
	free(was);
}

/* Exec icenet-init, which stays PID 1; stdio on the (new root's) console. */
static void boot(char **argv) __attribute__((noreturn));
static void boot(char **argv)
{
	int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
	for (int i = 0; fd >= 0 && i < 3; i++) dup2(fd, i);
	argv[0] = ICENET_INIT;
	execv(ICENET_INIT, argv);
	msg("fatal", "unable to exec %s: %s; starting a shell", ICENET_INIT, strerror(errno));
	execl("/bin/sh", "sh", (char *)0);
	for (;;) pause();
}

/* The writable layer's device, or "" for none. */
static void data_device(const char *cmdline, char *dev, size_t cap)
{
	char spec[256];
	if (boot_cmdline_arg(cmdline, "icenet.data", spec, sizeof spec) && !findfs(spec, dev, cap)) return;
	if (findfs("LABEL=data", dev, cap)) *dev = 0;
}

static int preinit(char **argv)
{
	struct stat st;
	/* A kernel with CONFIG_DEVTMPFS_MOUNT has mounted /dev already. */
	kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
	mark("started"); /* the kernel's exec of /sbin/init, on the chart */
	if (stat("/dev/null", &st) || !S_ISCHR(st.st_mode)) {
		mnt("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
		if (kmsg < 0) kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
	}
	mnt("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0);
	/* findfs and growfs find the disks here; icenet-init mounts /sys for good later. */
	mnt("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0);
	mark("proc and dev");

	char cmdline[4096] = "", overlay[16] = "", dev[256] = "";
	if (boot_cmdline_read(cmdline, sizeof cmdline)) warnx("unable to read /proc/cmdline: %s", strerror(errno));
	/* In a PID namespace (a test) the kernel log and /proc/cmdline's `quiet` are the
	 * host's, not ours. reboot(2) tells (EINVAL there); icenet-init disables
	 * ctrl-alt-del anyway. */
	if (!reboot(RB_DISABLE_CAD)) {
		msg_kmsg();
		if (boot_cmdline_flag(cmdline, "quiet")) msg_quiet();
	}
	boot_cmdline_arg(cmdline, "icenet.overlay", overlay, sizeof overlay);
	if (!strcmp(overlay, "off")) {
		infox("overlay disabled (icenet.overlay=off): root stays read-only");
		restore_clock(0); /* no data partition mounted: the build date is all there is */
		umount("/sys");
		umount("/proc");
		boot(argv);
	}

	data_device(cmdline, dev, sizeof dev);
	mark("data partition found");
	const char *upper = "tmpfs";
	if (*dev && !mnt(dev, "/overlay", "ext4", MS_NOATIME, 0)) {
		upper = dev;
		mark("data partition mounted");
		/* A card bigger than the image: the data partition (the last one) and its file
		 * system grow to fill it, once; later boots find nothing to do. */
		if (growfs_device(dev, "/overlay")) warnx("could not grow %s", dev);
		mark("data partition grown");
		if (!access("/overlay/.factory-reset", F_OK)) {
			infox("factory reset: wiping the writable layer on %s", dev);
			rm_rf("/overlay/upper");
			rm_rf("/overlay/work");
			unlink("/overlay/.factory-reset");
		}
		if (!stat("/overlay/upper", &st) && S_ISDIR(st.st_mode)) reconcile_etc();
		mark("etc reconciled");
	} else {
		warnx("no data partition%s%s%s: changes will not persist", *dev ? " (" : "", dev,
		    *dev ? " did not mount)" : "");
		mnt("tmpfs", "/overlay", "tmpfs", 0, "mode=0755");
	}
	umount("/sys");
	restore_clock(0);
	mark("clock restored");
	mkdir("/overlay/upper", 0755);
	mkdir("/overlay/work", 0755);
	/* The merged root is assembled on /mnt, then becomes / (the old root moves to /rom). */
	if (mnt("overlay", "/mnt", "overlay", 0, "lowerdir=/,upperdir=/overlay/upper,workdir=/overlay/work")) {
		warnx("overlay mount failed: root stays read-only");
		umount("/overlay");
		umount("/proc");
		boot(argv);
	}
	infox("root: squashfs + writable layer on %s", upper);
	if (chdir("/mnt") || mount("/overlay", "/mnt/overlay", 0, MS_MOVE, 0) ||
	    mount("/dev", "/mnt/dev", 0, MS_MOVE, 0)) {
		msg("fatal", "unable to move the mounts into the new root: %s", strerror(errno));
		boot(argv);
	}
	umount("/proc");
	/* pivot_root has no libc wrapper in musl. */
	if (syscall(SYS_pivot_root, ".", "rom") || chroot(".") || chdir("/")) {
		msg("fatal", "unable to switch to the overlay root: %s", strerror(errno));
		boot(argv);
	}
	mark("overlay root");
	boot(argv);
}

int main(int argc, char **argv)
{
	msg_prog("icenet-preinit");
	if (getpid() != 1 && argc >= 2 && !strcmp(argv[1], "--clock-restore"))
		return restore_clock(argc > 2 && !strcmp(argv[2], "--dry-run"));
	if (getpid() != 1 && argc == 3 && !strcmp(argv[1], "--find")) {
		char dev[256];
		if (findfs(argv[2], dev, sizeof dev)) {
			fprintf(stderr, "icenet-preinit: no device is %s\n", argv[2]);
			return 1;
		}
		puts(dev);
		return 0;
	}
	if (getpid() != 1) {
		fputs("usage: icenet-preinit (as PID 1) | --clock-restore [--dry-run] | --find SPEC\n", stderr);
		return 100;
	}
	return preinit(argv);
}
