/* Starting a service: per-start fds in the parent, then the child's set-up and exec. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "msg.h"
#include "svc.h"

static void child_fail(const struct svc *s, const char *what, const char *obj)
{
	msg("fatal", "%s: unable to %s %s: %s", s->c->name, what, obj, strerror(errno));
	_exit(what[0] == 'e' ? EXIT_EXEC : EXIT_SYS); /* "exec" */
}

static int id_of(const char *s, unsigned *id)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*end || end == s) return -1;
	*id = (unsigned)v;
	return 0;
}

static void drop_privileges(const struct svc *s)
{
	unsigned uid = 0, gid = 0;
	if (s->c->user) {
		struct passwd *pw = getpwnam(s->c->user);
		if (pw) uid = pw->pw_uid, gid = pw->pw_gid;
		else if (id_of(s->c->user, &uid)) errno = ENOENT, child_fail(s, "find user", s->c->user);
		else gid = uid;
	}
	if (s->c->group) {
		struct group *gr = getgrnam(s->c->group);
		if (gr) gid = gr->gr_gid;
		else if (id_of(s->c->group, &gid)) errno = ENOENT, child_fail(s, "find group", s->c->group);
	}
	gid_t g = gid;
	if (setgroups(1, &g)) child_fail(s, "setgroups", "");
	if (setgid(gid)) child_fail(s, "setgid", s->c->group ? s->c->group : s->c->user);
	if (s->c->user && setuid(uid)) child_fail(s, "setuid", s->c->user);
}

/* Close every fd from `lo` up: what init inherited when it started is not the service's. */
static void close_from(const struct svc *s, int lo)
{
#ifdef SYS_close_range
	if (!syscall(SYS_close_range, (unsigned)lo, ~0U, 0)) return;
	if (errno != ENOSYS) child_fail(s, "close", "inherited fds");
#endif
	struct rlimit r; /* kernels before 5.9 (getrlimit, as sysconf costs 1 KB here) */
	if (getrlimit(RLIMIT_NOFILE, &r) || r.rlim_max == RLIM_INFINITY || r.rlim_max > 1 << 20)
		r.rlim_max = 1 << 20;
	for (int fd = lo; fd < (int)r.rlim_max; fd++) close(fd);
	(void)s;
}

/* Runs in the child: never returns. `cg`: the cgroup.procs file to join, or 0. */
static void child(struct sup *sup, struct svc *s, int notify_wr, const char *cg)
{
	sigset_t none;
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, 0) || signal(SIGPIPE, SIG_DFL) == SIG_ERR)
		child_fail(s, "reset", "signals");
	if (setsid() < 0) child_fail(s, "create", "a session");
	if (cg) { /* before exec: everything it forks is in the cgroup too */
		int fd = open(cg, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1) child_fail(s, "join", cg);
		close(fd);
	}

	/* Target layout: 0 /dev/null, 1-2 log, 3.. listening sockets, then the notify fd.
	 * Copy every source above the targets first so no dup2 clobbers a source. */
	int nl = s->c->nlisten, top = 3 + nl + 1, n = 0;
	int src[3 + MAXLISTEN + 1], tgt[3 + MAXLISTEN + 1];
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0) child_fail(s, "open", "/dev/null");
	int out = s->c->log == LOG_NONE ? null : s->log_wr >= 0 ? s->log_wr : -1;
	src[n] = null, tgt[n++] = 0;
	if (out >= 0) src[n] = out, tgt[n++] = 1, src[n] = out, tgt[n++] = 2;
	for (int i = 0; i < nl; i++) src[n] = s->lfd[i], tgt[n++] = 3 + i;
	if (notify_wr >= 0) src[n] = notify_wr, tgt[n++] = 3 + nl;
	for (int i = 0; i < n; i++)
		if ((src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, top)) < 0) child_fail(s, "dup", "fd");
	for (int i = 0; i < n; i++)
		if (dup2(src[i], tgt[i]) < 0) child_fail(s, "dup2", "fd");
	close_from(s, 3 + nl + (notify_wr >= 0));

	static const char *const drop[] = {"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
					   "NOTIFY_SOCKET", "ICENET_NOTIFY_FD", 0};
	for (int i = 0; drop[i]; i++) unsetenv(drop[i]);
	if (!getenv("PATH")) setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
	for (int i = 0; i < s->c->nenv; i++) putenv(s->c->env[i]);
	char num[32], names[MAXLISTEN * 64 + 1] = "";
	if (nl) {
		snprintf(num, sizeof num, "%d", nl);
		setenv("LISTEN_FDS", num, 1);
		snprintf(num, sizeof num, "%d", (int)getpid());
		setenv("LISTEN_PID", num, 1);
		for (int i = 0; i < nl; i++) {
			if (i) strcat(names, ":");
			strcat(names, s->c->listen[i].name);
		}
		setenv("LISTEN_FDNAMES", names, 1);
	}
	if (notify_wr >= 0) {
		snprintf(num, sizeof num, "%d", 3 + nl);
		setenv("ICENET_NOTIFY_FD", num, 1);
	}
	if (s->c->ready == RD_SD_NOTIFY) {
		char path[256];
		snprintf(path, sizeof path, "%s/notify/%s", sup->rundir, s->c->name);
		setenv("NOTIFY_SOCKET", path, 1);
	}
	if (chdir(s->c->cwd ? s->c->cwd : "/")) child_fail(s, "chdir to", s->c->cwd);
	if (s->c->user || s->c->group) drop_privileges(s);
	umask(022);
	execvp(s->c->argv[0], s->c->argv);
	child_fail(s, "exec", s->c->argv[0]);
}

/* The NOTIFY_SOCKET of a service: <rundir>/notify/<name>, made once. */
static int notify_socket(struct sup *sup, struct svc *s)
{
	if (s->notify_sock >= 0) return 0;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char dir[200];
	snprintf(dir, sizeof dir, "%s/notify", sup->rundir);
	if (mkdir(dir, 0755) && errno != EEXIST) return -1;
	if ((size_t)snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", dir, s->c->name) >=
	    sizeof a.sun_path)
		return errno = ENAMETOOLONG, -1;
	int one = 1, fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) return -1;
	/* Any user may send (services drop privileges): the sender's pid, which comes with
	 * SO_PASSCRED, says whether it is the service's main process. */
	if ((unlink(a.sun_path) && errno != ENOENT) || bind(fd, (struct sockaddr *)&a, sizeof a) ||
	    chmod(a.sun_path, 0666) || setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one)) {
		int e = errno;
		close(fd);
		return errno = e, -1;
	}
	s->notify_sock = fd;
	return 0;
}

/* The log pipe (kept across restarts, so nothing is lost between two runs) and file. */
static void log_open(struct sup *sup, struct svc *s)
{
	if (s->log_rd >= 0) return;
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.log", sup->logdir, s->c->name);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	struct stat st;
	int p[2];
	if (fd < 0 || fstat(fd, &st)) {
		warnx("%s: unable to open %s: %s; logging to the console", s->c->name, path,
		      strerror(errno));
		if (fd >= 0) close(fd);
		return;
	}
	if (pipe2(p, O_CLOEXEC)) {
		warnx("%s: unable to create a pipe: %s; logging to the console", s->c->name,
		      strerror(errno));
		close(fd);
		return;
	}
	if (fcntl(p[0], F_SETFL, O_NONBLOCK))
		warnx("%s: unable to make its log pipe non-blocking: %s", s->c->name, strerror(errno));
	s->log_rd = p[0], s->log_wr = p[1], s->log_fd = fd, s->log_size = st.st_size;
}

/* Its own cgroup (made at its first start): its path into buf (0), or -1 (then its
 * process group stands in). */
static int cgroup(struct sup *sup, struct svc *s, char *buf, size_t cap)
{
	if (group_path(sup, s, buf, cap - sizeof "/cgroup.procs")) return -1;
	if (mkdir(buf, 0755) && errno != EEXIST) {
		warnx("%s: unable to create %s: %s; using its process group", s->c->name, buf,
		      strerror(errno));
		return -1;
	}
	return 0;
}

/* fork() straight into the cgroup `dir`: clone3 with CLONE_INTO_CGROUP (Linux 5.7). Moving
 * the child there afterwards (cgroup.procs) makes every other fork wait for an RCU grace
 * period. The child returns 0 as from fork: nothing of libc's thread state is used in it
 * that a single-threaded fork would have to reset. -1 if the kernel cannot. */
static pid_t fork_into(const char *dir)
{
#ifdef SYS_clone3
	struct { unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal, stack,
		 stack_size, tls, set_tid, set_tid_size, cgroup; } a = {0};
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) return -1;
	a.flags = 0x200000000ULL; /* CLONE_INTO_CGROUP */
	a.exit_signal = SIGCHLD;
	a.cgroup = (unsigned)fd;
	long pid = syscall(SYS_clone3, &a, sizeof a);
	if (pid) close(fd);
	return (pid_t)pid;
#else
	(void)dir;
	return -1;
#endif
}

pid_t spawn_service(struct sup *sup, struct svc *s)
{
	int p[2] = {-1, -1};
	char cg[600];
	for (int i = 0; i < s->c->nlisten; i++)
		if (s->lfd[i] < 0) return errno = EBADF, -1; /* not bound: the scheduler says why */
	if (s->c->log == LOG_FILE) log_open(sup, s);
	if (s->c->ready == RD_SD_NOTIFY && notify_socket(sup, s)) {
		warnx("%s: unable to create its NOTIFY_SOCKET: %s", s->c->name, strerror(errno));
		return -1;
	}
	if (s->c->ready == RD_NOTIFY_FD && pipe2(p, O_CLOEXEC)) return -1;
	pid_t pid = -1;
	const char *join = 0; /* the child joins its cgroup itself (clone3 failed) */
	if ((s->incg = !cgroup(sup, s, cg, sizeof cg)) && (pid = fork_into(cg)) < 0)
		join = strcat(cg, "/cgroup.procs");
	if (pid < 0) pid = fork();
	if (pid == 0) child(sup, s, p[1], join);
	if (p[1] >= 0) close(p[1]);
	if (pid < 0) {
		if (p[0] >= 0) close(p[0]);
		return -1;
	}
	if (p[0] >= 0 && fcntl(p[0], F_SETFL, O_NONBLOCK))
		warnx("%s: unable to make its notify pipe non-blocking: %s", s->c->name, strerror(errno));
	s->notify_rd = p[0];
	return pid;
}
