#include "pid1.h"

#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "msg.h"

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

static void fstab(void)
{
	FILE *f = setmntent("/etc/fstab", "re");
	if (!f) return;
	for (struct mntent *m; (m = getmntent(f));) {
		char data[512];
		if (hasmntopt(m, "noauto") || !strcmp(m->mnt_type, "swap")) continue;
		unsigned long flags = options(m->mnt_opts, data, sizeof data);
		if (mkdir(m->mnt_dir, 0755) && errno != EEXIST && errno != EROFS) { /* mount reports it */ }
		if (mount(m->mnt_fsname, m->mnt_dir, m->mnt_type, flags, data[0] ? data : 0) &&
		    !(errno == EBUSY && !(flags & MS_REMOUNT)))
			warnx("/etc/fstab: unable to mount %s on %s: %s", m->mnt_fsname, m->mnt_dir,
			      strerror(errno));
	}
	endmntent(f);
}

void pid1_setup(void)
{
	mnt("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0);
	mnt("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0);
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
	hostname();
	fstab();
	if (reboot(RB_DISABLE_CAD)) { /* in a container: ctrl-alt-del is not ours anyway */ }
}

/* Reap until nothing is left or `ms` passed. */
static void drain(int ms)
{
	for (int t = 0; t < ms; t += 10) {
		while (waitpid(-1, 0, WNOHANG) > 0) {}
		if (waitpid(-1, 0, WNOHANG) < 0 && errno == ECHILD) return;
		usleep(10000);
	}
}

static void unmount_all(void)
{
	/* Reverse order of /proc/mounts: children before their parents. */
	char *dirs[256];
	int n = 0;
	FILE *f = setmntent("/proc/mounts", "re");
	for (struct mntent *m; f && n < 256 && (m = getmntent(f));)
		if (strcmp(m->mnt_dir, "/") && (dirs[n] = strdup(m->mnt_dir))) n++;
	if (f) endmntent(f);
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
	sync();
	if (unmount) unmount_all();
	sync();
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
