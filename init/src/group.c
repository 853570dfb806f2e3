/*
 * A service's processes as one group, to signal and kill together: its own cgroup v2
 * (<init's cgroup>/icenet[.<pid>]/<name>) when cgroup2 is mounted, else its process
 * group (the service leads its own session; a process that calls setsid leaves it).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "msg.h"
#include "svc.h"

#define CGROUP2_MAGIC 0x63677270 /* CGROUP2_SUPER_MAGIC; the build has no linux/ headers */

/* Init's own cgroup: the "0::<path>" line of /proc/self/cgroup. */
static int own_cgroup(char *buf, size_t cap)
{
	char b[4096];
	int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	ssize_t r = read(fd, b, sizeof b - 1);
	int e = errno;
	close(fd);
	if (r < 0) return errno = e, -1;
	b[r] = 0;
	for (char *l = b; l; l = strchr(l, '\n'), l = l ? l + 1 : 0) {
		if (strncmp(l, "0::", 3)) continue;
		size_t n = strcspn(l + 3, "\n");
		if (n >= cap) return errno = ENAMETOOLONG, -1;
		memcpy(buf, l + 3, n);
		buf[n] = 0;
		return 0;
	}
	return errno = ENOENT, -1;
}

void group_setup(struct sup *sup)
{
	static const char *const mounts[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
	struct statfs f;
	const char *m = 0;
	char own[256], dir[400] = "";
	for (size_t i = 0; i < sizeof mounts / sizeof *mounts && !m; i++)
		if (!statfs(mounts[i], &f) && f.f_type == CGROUP2_MAGIC) m = mounts[i];
	if (!m) {
		infox("no cgroup2 mounted: each service runs in its own process group");
		return;
	}
	if (own_cgroup(own, sizeof own)) {
		warnx("unable to read /proc/self/cgroup: %s; each service runs in its own process group",
		      strerror(errno));
		return;
	}
	/* "icenet" as PID 1, else "icenet.<pid>"; an empty one left by a dead init is taken
	 * over, one with service cgroups in it (another init's) is not. */
	for (int k = 0; k < 8; k++) {
		int n = snprintf(dir, sizeof dir, "%s%s/icenet", m, strcmp(own, "/") ? own : "");
		if (!sup->pid1) n += snprintf(dir + n, sizeof dir - (size_t)n, ".%d", (int)getpid());
		if (k) snprintf(dir + n, sizeof dir - (size_t)n, ".%d", k);
		if (!mkdir(dir, 0755) || (errno == EEXIST && !rmdir(dir) && !mkdir(dir, 0755))) {
			if (!(sup->cg = strdup(dir))) break;
			infox("services run in cgroups under %s", dir);
			return;
		}
		if (errno != EEXIST && errno != EBUSY && errno != ENOTEMPTY) break;
	}
	warnx("unable to create %s: %s; each service runs in its own process group", dir,
	      strerror(errno));
}

int group_path(const struct sup *sup, const struct svc *s, char *buf, size_t cap)
{
	if (!sup->cg) return -1;
	int n = snprintf(buf, cap, "%s/%s", sup->cg, s->c->name);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* Signal the pids listed in the cgroup's cgroup.procs; 1 if `main` was among them. */
static int cgroup_signal(const struct svc *s, char *path, int sig, pid_t main)
{
	int seen = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
	char b[512];
	ssize_t r;
	long pid = 0;
	if (fd < 0) {
		warnx("%s: unable to open %s: %s", s->c->name, path, strerror(errno));
		return 0;
	}
	while ((r = read(fd, b, sizeof b)) > 0)
		for (ssize_t i = 0; i < r; i++) {
			if (b[i] >= '0' && b[i] <= '9') {
				pid = pid * 10 + (b[i] - '0');
				continue;
			}
			if (pid && kill((pid_t)pid, sig) && errno != ESRCH)
				warnx("%s: unable to send signal %d to %ld: %s", s->c->name, sig, pid,
				      strerror(errno));
			seen |= pid && pid == main;
			pid = 0;
		}
	if (r < 0) warnx("%s: unable to read %s: %s", s->c->name, path, strerror(errno));
	close(fd);
	return seen;
}

void group_signal(const struct sup *sup, const struct svc *s, pid_t pgid, pid_t main, int sig)
{
	char p[600];
	int r;
	if (s->incg && !group_path(sup, s, p, sizeof p - 16)) {
		/* Not cgroup.kill: after it, Linux (seen on 6.18) kills every process later
		 * created in that cgroup by clone3(CLONE_INTO_CGROUP), as spawn.c does. A second
		 * round of SIGKILL gets what was forked meanwhile. */
		strcat(p, "/cgroup.procs");
		int seen = cgroup_signal(s, p, sig, main);
		if (sig == SIGKILL) seen |= cgroup_signal(s, p, sig, main);
		/* The main process is signalled by pid too until it has joined its cgroup. */
		if (!seen && main > 0 && kill(main, sig) && errno != ESRCH)
			warnx("%s: unable to send signal %d to %d: %s", s->c->name, sig, (int)main,
			      strerror(errno));
		return;
	}
	/* Its group exists once it has called setsid: until then, the main process alone. */
	r = pgid > 0 ? kill(-pgid, sig) : 0;
	if (r && errno == ESRCH && main > 0) r = kill(main, sig);
	if (r && errno != ESRCH)
		warnx("%s: unable to send signal %d to process group %d: %s", s->c->name, sig,
		      (int)pgid, strerror(errno));
}

/* At exit: killed processes leave their cgroup a moment after the signal. */
static void remove_dir(const char *path)
{
	for (int tries = 40;; tries--) {
		if (!rmdir(path) || errno == ENOENT) return;
		if (errno != EBUSY || !tries) break;
		usleep(5000);
	}
	warnx("unable to remove %s: %s", path, strerror(errno));
}

void group_remove(struct sup *sup, struct svc *s)
{
	char p[600];
	if (!sup->cg) return;
	if (s) { /* a removed service: its leftovers may still be dying, then it stays */
		if (!group_path(sup, s, p, sizeof p) && rmdir(p) && errno != ENOENT && errno != EBUSY)
			warnx("%s: unable to remove %s: %s", s->c->name, p, strerror(errno));
		return;
	}
	DIR *d = opendir(sup->cg); /* also the cgroups of services removed by a reload */
	if (!d) {
		warnx("unable to open %s: %s", sup->cg, strerror(errno));
		return;
	}
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_type == DT_DIR && e->d_name[0] != '.' &&
		    (size_t)snprintf(p, sizeof p, "%s/%s", sup->cg, e->d_name) < sizeof p)
			remove_dir(p);
	closedir(d);
	remove_dir(sup->cg);
}
