#include "pid1.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmdline.h"
#include "msg.h"
#include "wdog.h"

static void mnt(const char *src, const char *dir, const char *type, unsigned long flags,
		const char *data)
{
	if (mkdir(dir, 0755) && errno != EEXIST) warnx("unable to create %s: %s", dir, strerror(errno));
	if (mount(src, dir, type, flags, data) && errno != EBUSY)
		warnx("unable to mount %s on %s: %s", type, dir, strerror(errno));
}

static void hostname(void)
{
	char name[65] = "";
	int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
	if (fd < 0) return;
	ssize_t r = read(fd, name, sizeof name - 1);
	close(fd);
	if (r <= 0) return;
	name[r] = 0;
	name[strcspn(name, " \t\r\n")] = 0;
	if (*name && sethostname(name, strlen(name))) warnx("unable to set the hostname: %s", strerror(errno));
}

/* mount(8)'s usual options; the rest goes to the filesystem as data. */
static unsigned long options(const char *opts, char *data, size_t cap)
{
	static const struct { const char *name; unsigned long flag; } o[] = {
		{"ro", MS_RDONLY}, {"nosuid", MS_NOSUID}, {"nodev", MS_NODEV}, {"noexec", MS_NOEXEC},
		{"noatime", MS_NOATIME}, {"nodiratime", MS_NODIRATIME}, {"relatime", MS_RELATIME},
		{"sync", MS_SYNCHRONOUS}, {"remount", MS_REMOUNT}, {"bind", MS_BIND},
	};
	unsigned long flags = 0;
	char buf[512];
	snprintf(buf, sizeof buf, "%s", opts);
	data[0] = 0;
	for (char *save, *w = strtok_r(buf, ",", &save); w; w = strtok_r(0, ",", &save)) {
		size_t k = 0;
		while (k < sizeof o / sizeof *o && strcmp(w, o[k].name)) k++;
		if (k < sizeof o / sizeof *o) flags |= o[k].flag;
		else if (strcmp(w, "defaults") && strcmp(w, "rw") && strcmp(w, "auto") &&
			 strncmp(w, "x-", 2) && strcmp(w, "nofail")) {
			size_t l = strlen(data);
			snprintf(data + l, cap - l, "%s%s", l ? "," : "", w);
		}
	}
	return flags;
}

/* Split a fstab or /proc/mounts line into its first fields, decoding \040-style
 * escapes (a hand-written reader: getmntent would pull scanf into a static binary). */
static int fields(char *line, char **f, int max)
{
	int n = 0;
	for (char *p = line; *p && n < max;) {
		while (*p == ' ' || *p == '\t' || *p == '\n') p++;
		if (!*p || *p == '#') break;
		f[n++] = p;
		char *w = p;
		for (; *p && *p != ' ' && *p != '\t' && *p != '\n'; p++) {
			if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
			    p[3] >= '0' && p[3] <= '7') {
				*w++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
				p += 3;
			} else *w++ = *p;
		}
		if (*p) p++;
		*w = 0;
	}
	return n;
}

static int has_opt(const char *opts, const char *o)
{
	size_t l = strlen(o);
	for (const char *p = opts; (p = strstr(p, o)); p += l)
		if ((p == opts || p[-1] == ',') && (p[l] == ',' || !p[l])) return 1;
	return 0;
}

static void fstab(void)
{
	FILE *f = fopen("/etc/fstab", "re");
	char line[1024];
	if (!f) return;
	for (int ln = 1; fgets(line, sizeof line, f); ln++) {
		char *m[4], data[512];
		int n = fields(line, m, 4);
		if (n == 0) continue;
		if (n < 3) {
			warnx("/etc/fstab:%d: expected 'device dir type [options]'", ln);
			continue;
		}
		const char *opts = n > 3 ? m[3] : "defaults";
		if (has_opt(opts, "noauto") || !strcmp(m[2], "swap")) continue;
		unsigned long flags = options(opts, data, sizeof data);
		if (mkdir_p(m[1], 0755)) { /* the mount below reports it */ }
		if (mount(m[0], m[1], m[2], flags, data[0] ? data : 0) &&
		    !(errno == EBUSY && !(flags & MS_REMOUNT)))
			warnx("/etc/fstab:%d: unable to mount %s on %s: %s", ln, m[0], m[1], strerror(errno));
	}
	fclose(f);
}

int pid1_setup(void)
{
	mnt("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0);
	mnt("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0);
	/* Services get a cgroup each under /sys/fs/cgroup/icenet (group.c). */
	mnt("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0);
	mnt("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	/* The kernel found no /dev/console before devtmpfs: give ourselves stdio now. */
	if (fcntl(2, F_GETFD) < 0) {
		int fd = open("/dev/console", O_RDWR | O_NOCTTY);
		for (int i = 0; fd >= 0 && i < 3; i++)
			if (i != fd) dup2(fd, i);
		if (fd > 2) close(fd);
	}
	mnt("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=0620,ptmxmode=0666");
	mnt("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
	mnt("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	msg_kmsg();
	/* Fails (EINVAL) in a PID namespace: a container, whose ctrl-alt-del is not ours. */
	int machine = !reboot(RB_DISABLE_CAD);
	/* A container's /proc/cmdline is the host's: its `quiet` is not ours either. */
	char cmdline[4096];
	if (machine && !boot_cmdline_read(cmdline, sizeof cmdline) && boot_cmdline_flag(cmdline, "quiet"))
		msg_quiet();
	hostname();
	fstab();
	return machine;
}

/* Reap until nothing is left or `ms` passed. */
static void drain(int ms)
{
	for (int t = 0; t < ms; t += 10) {
		wdog_feed(); /* until reboot(2): only a hang stops the feeding */
		while (waitpid(-1, 0, WNOHANG) > 0) {}
		if (waitpid(-1, 0, WNOHANG) < 0 && errno == ECHILD) return;
		usleep(10000);
	}
}

/* The mount under `dirs` holding `path` (the longest prefix), or -1. */
static int mount_of(char **dirs, int n, const char *path)
{
	int best = -1;
	size_t blen = 0;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(dirs[i]);
		if (l > blen && !strncmp(path, dirs[i], l) && (path[l] == '/' || !path[l]))
			best = i, blen = l;
	}
	return best;
}

static void unmount_all(void)
{
	/* Reverse order of /proc/mounts: children before their parents. */
	char *dirs[256], line[1024], upper[512] = "";
	int n = 0;
	FILE *f = fopen("/proc/mounts", "re");
	while (f && n < 256 && fgets(line, sizeof line, f)) {
		char *m[4];
		if (fields(line, m, 4) != 4) continue;
		const char *u = strcmp(m[1], "/") || strcmp(m[2], "overlay") ? 0 : strstr(m[3], "upperdir=");
		if (u) snprintf(upper, sizeof upper, "%.*s", (int)strcspn(u + 9, ","), u + 9);
		if (strcmp(m[1], "/") && (dirs[n] = strdup(m[1]))) n++;
	}
	if (f) fclose(f);
	/* The file system / writes to (the data partition under the overlay) cannot be
	 * unmounted (unmounting /overlay only detaches it): read-only, its journal is clean
	 * and the next boot needs no recovery. */
	int u = *upper ? mount_of(dirs, n, upper) : -1;
	if (u >= 0 && mount(0, dirs[u], 0, MS_REMOUNT | MS_RDONLY, 0) && errno != EROFS)
		warnx("unable to remount %s read-only: %s", dirs[u], strerror(errno));
	while (n-- > 0) {
		if (umount2(dirs[n], 0) && errno != EINVAL && errno != EBUSY)
			warnx("unable to unmount %s: %s", dirs[n], strerror(errno));
		free(dirs[n]);
	}
	if (mount(0, "/", 0, MS_REMOUNT | MS_RDONLY, 0) && errno != EROFS)
		warnx("unable to remount / read-only: %s", strerror(errno));
}

void pid1_finish(int cmd, int unmount)
{
	kill(-1, SIGTERM);
	kill(-1, SIGCONT);
	drain(2000);
	kill(-1, SIGKILL);
	drain(1000);
	wdog_feed();
	sync();
	wdog_feed();
	if (unmount) unmount_all();
	sync();
	wdog_feed();
	infox("%s", cmd == RB_AUTOBOOT ? "rebooting" : cmd == (int)RB_HALT_SYSTEM ? "halting" : "powering off");
	reboot(cmd);
	/* In a PID namespace reboot(2) ends us; elsewhere it only returns on error. */
	warnx("unable to reboot: %s", strerror(errno));
	if (!unmount) _exit(0); /* --supervise: nothing depends on us staying */
	for (;;) pause();
}

void pid1_emergency(void)
{
	msg("fatal", "starting an emergency shell");
	execl("/bin/sh", "sh", (char *)0);
	msg("fatal", "unable to exec /bin/sh: %s", strerror(errno));
	for (;;) pause();
}
