#include "svc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gate.h"
#include "msg.h"

const char *const state_name[NSTATES] = {"stopped", "starting", "ready", "backoff",
					 "failed",  "done",     "stopping"};

typedef void action(struct sup *, struct svc *);

static void set_state(struct sup *sup, struct svc *s, enum state st)
{
	s->state = st;
	sup->changed = 1;
}

static void xclose(int *fd)
{
	if (*fd >= 0) close(*fd);
	*fd = -1;
}

static void a_none(struct sup *sup, struct svc *s)
{
	(void)sup, (void)s;
}

static void a_ready(struct sup *sup, struct svc *s)
{
	xclose(&s->notify_rd);
	s->deadline = 0;
	s->ready_ms = now_ms() - sup->t0;
	set_state(sup, s, ST_READY);
	infox("%s: ready after %lld ms", s->c->name, s->ready_ms - s->start_ms);
}

static void a_exited(struct sup *sup, struct svc *s);

static void a_spawn(struct sup *sup, struct svc *s)
{
	s->deadline = 0;
	s->reason[0] = 0;
	s->notify_warned = 0;
	s->start_ms = now_ms() - sup->t0;
	s->ready_ms = -1;
	pid_t pid = spawn_service(sup, s);
	if (pid < 0) {
		warnx("%s: unable to start: %s", s->c->name, strerror(errno));
		s->status = EXIT_SYS << 8;
		s->have_status = 1;
		a_exited(sup, s);
		return;
	}
	s->pid = pid;
	set_state(sup, s, ST_STARTING);
	infox("%s: started, pid %d", s->c->name, (int)pid);
	if (s->c->ready == RD_STARTED && !s->c->oneshot) a_ready(sup, s);
	else if (s->c->start_timeout_ms) s->deadline = now_ms() + s->c->start_timeout_ms;
}

/* activate = connect: a connection starts it, within its trigger limit. */
static void a_trigger(struct sup *sup, struct svc *s)
{
	long long now = now_ms();
	if (now - s->trig_start >= s->c->trigger_interval_ms) s->trig_start = now, s->trig_count = 0;
	if (++s->trig_count > s->c->trigger_burst) {
		snprintf(s->reason, sizeof s->reason,
			 "trigger limit hit: %d starts within %ld ms (trigger_limit)", s->c->trigger_burst,
			 s->c->trigger_interval_ms);
		set_state(sup, s, ST_FAILED);
		warnx("%s: %s", s->c->name, s->reason);
		return;
	}
	if (s->have_status) s->restarts++; /* it ran before: this start is a restart */
	infox("%s: connection: starting", s->c->name);
	a_spawn(sup, s);
}

static void describe(int st, char *buf, size_t cap)
{
	if (WIFSIGNALED(st)) snprintf(buf, cap, "killed by signal %d", WTERMSIG(st));
	else snprintf(buf, cap, "exited with status %d", WEXITSTATUS(st));
}

static void a_exited(struct sup *sup, struct svc *s)
{
	long long now = now_ms();
	char how[48];
	int ok = WIFEXITED(s->status) && WEXITSTATUS(s->status) == 0;
	xclose(&s->notify_rd);
	/* Whatever the main process leaves behind goes with it, before any restart. */
	if (s->pid > 0) group_signal(sup, s, s->pid, 0, SIGKILL);
	s->pid = 0;
	s->deadline = 0;
	describe(s->status, how, sizeof how);
	if (!s->want) {
		set_state(sup, s, ST_STOPPED);
	} else if (ok && s->c->lazy) {
		set_state(sup, s, ST_STOPPED); /* wait for the next connection */
	} else if (ok && (s->c->oneshot || s->c->restart != R_ALWAYS)) {
		if (s->c->oneshot) s->ready_ms = now - sup->t0;
		set_state(sup, s, ST_DONE);
		infox("%s: done", s->c->name);
	} else if (!ok && s->c->restart == R_NEVER) {
		snprintf(s->reason, sizeof s->reason, "%s", how);
		set_state(sup, s, ST_FAILED);
		warnx("%s: failed: %s", s->c->name, how);
	} else {
		/* Backoff: doubles on each quick crash, back to the minimum after a long run. */
		if (now - sup->t0 - s->start_ms >= s->c->backoff_reset_ms) s->backoff_ms = s->c->backoff_ms;
		long delay = s->backoff_ms;
		s->backoff_ms = delay * 2 > s->c->backoff_max_ms ? s->c->backoff_max_ms : delay * 2;
		s->deadline = now + delay;
		set_state(sup, s, ST_BACKOFF);
		warnx("%s: %s, restarting in %ld ms", s->c->name, how, delay);
	}
}

static void a_retry(struct sup *sup, struct svc *s)
{
	/* A lazy service waits for a connection (that start counts as the restart); a file
	 * that became invalid meanwhile is reported by the scheduler. */
	if (s->c->lazy || s->bad[0]) {
		s->deadline = 0;
		set_state(sup, s, ST_STOPPED);
		return;
	}
	s->restarts++;
	a_spawn(sup, s);
}

/* The service leads its own session (setsid), so its process group id is its pid. */
static void signal_all(struct sup *sup, struct svc *s, int sig)
{
	group_signal(sup, s, s->pid, s->pid, sig);
}

static void a_term(struct sup *sup, struct svc *s)
{
	signal_all(sup, s, SIGTERM);
	signal_all(sup, s, SIGCONT);
	s->deadline = now_ms() + s->c->stop_timeout_ms;
	s->stop_sent = now_ms() - sup->t0;
	set_state(sup, s, ST_STOPPING);
}

static void a_kill(struct sup *sup, struct svc *s)
{
	warnx("%s: still running %ld ms after SIGTERM, sending SIGKILL", s->c->name,
	      s->c->stop_timeout_ms);
	signal_all(sup, s, SIGKILL);
	s->deadline = 0;
}

/* Not ready within start_timeout: stopped, then failed (a_stopped, as reason is set). */
static void a_timeout(struct sup *sup, struct svc *s)
{
	snprintf(s->reason, sizeof s->reason, "not ready within %ld ms (start_timeout)",
		 s->c->start_timeout_ms);
	warnx("%s: %s, stopping it", s->c->name, s->reason);
	a_term(sup, s);
}

static void a_stopped(struct sup *sup, struct svc *s)
{
	xclose(&s->notify_rd);
	group_signal(sup, s, s->pid, 0, SIGKILL); /* leftovers; usually none */
	s->pid = 0;
	s->deadline = 0;
	int failed = s->reason[0] && s->want;
	set_state(sup, s, failed ? ST_FAILED : ST_STOPPED);
	char how[48];
	describe(s->status, how, sizeof how);
	if (failed) warnx("%s: failed: %s (%s)", s->c->name, s->reason, how);
	else infox("%s: stopped (%s)", s->c->name, how);
}

static void a_tostopped(struct sup *sup, struct svc *s)
{
	s->deadline = 0;
	set_state(sup, s, ST_STOPPED);
}

static void a_depfail(struct sup *sup, struct svc *s)
{
	set_state(sup, s, ST_FAILED);
	warnx("%s: not started: %s", s->c->name, s->reason);
}

static action *const table[NSTATES][NEVENTS] = {
	/*               UP       DOWN         READY    EXIT       TIMER      DEPFAIL    CONNECT */
	[ST_STOPPED] = {a_spawn, a_none, a_none, a_none, a_none, a_depfail, a_trigger},
	[ST_STARTING] = {a_none, a_term, a_ready, a_exited, a_timeout, a_none, a_none},
	[ST_READY] = {a_none, a_term, a_none, a_exited, a_none, a_none, a_none},
	[ST_BACKOFF] = {a_none, a_tostopped, a_none, a_none, a_retry, a_depfail, a_none},
	[ST_FAILED] = {a_none, a_none, a_none, a_none, a_none, a_none, a_none},
	[ST_DONE] = {a_none, a_none, a_none, a_none, a_none, a_none, a_none},
	[ST_STOPPING] = {a_none, a_none, a_none, a_stopped, a_kill, a_none, a_none},
};

void sup_event(struct sup *sup, struct svc *s, enum event ev)
{
	table[s->state][ev](sup, s);
}

static int alive(const struct svc *s)
{
	return s->state == ST_STARTING || s->state == ST_READY || s->state == ST_STOPPING;
}

int sup_busy(const struct sup *sup)
{
	for (int i = 0; i < sup->n; i++)
		if (alive(sup->v[i]) || sup->v[i]->state == ST_BACKOFF) return 1;
	return 0;
}

/* Dependents may start: the service is ready, done, or listening on its behalf. */
static int up(const struct svc *s)
{
	return s->state == ST_READY || s->state == ST_DONE ||
	       (s->c->lazy && s->want && s->armed && s->state != ST_FAILED);
}

int sup_all_up(const struct sup *sup, const struct svc **which)
{
	int r = 1;
	*which = 0;
	for (int i = 0; i < sup->n; i++) {
		const struct svc *s = sup->v[i];
		if (!s->want || s->removed || up(s)) continue;
		if (s->state == ST_FAILED) return *which = s, -1;
		if (r) *which = s, r = 0;
	}
	return r;
}

/* 1: may start, 0: wait, -1: a hard dependency failed (reason set). */
static int deps_ok(struct sup *sup, int i)
{
	struct svc *s = sup->v[i];
	const struct gnode *g = &sup->g[i];
	int ok = 1;
	for (int k = 0; k < g->ndeps; k++) {
		struct svc *d = sup->v[g->deps[k]];
		if (d->state == ST_FAILED) {
			snprintf(s->reason, sizeof s->reason, "dependency '%s' failed", d->c->name);
			return -1;
		}
		if (!up(d)) ok = 0;
	}
	for (int k = 0; k < g->nafter; k++) {
		struct svc *d = sup->v[g->after[k]];
		if (d->want && !up(d) && d->state != ST_FAILED) ok = 0;
	}
	return ok;
}

/* A running service that depends on (or is ordered after) s. */
static int has_live_dependent(const struct sup *sup, int i)
{
	for (int j = 0; j < sup->n; j++) {
		const struct gnode *g = &sup->g[j];
		if (!alive(sup->v[j])) continue;
		for (int k = 0; k < g->ndeps; k++)
			if (g->deps[k] == i) return 1;
		for (int k = 0; k < g->nafter; k++)
			if (g->after[k] == i) return 1;
	}
	return 0;
}

void sup_schedule(struct sup *sup)
{
	do {
		sup->changed = 0;
		for (int k = 0; k < sup->n; k++) {
			int i = sup->order[k];
			struct svc *s = sup->v[i];
			if (sup->shutdown || !s->want || s->state != ST_STOPPED) continue;
			if (s->bad[0]) {
				snprintf(s->reason, sizeof s->reason, "%s", s->bad);
				sup_event(sup, s, EV_DEPFAIL);
				continue;
			}
			int ok = deps_ok(sup, i);
			if (ok < 0) sup_event(sup, s, EV_DEPFAIL);
			else if (ok && s->c->lazy && !s->armed) {
				s->armed = 1;
				sup->changed = 1;
				infox("%s: waiting for a connection", s->c->name);
			} else if (ok && !s->c->lazy) sup_event(sup, s, EV_UP);
		}
		if (!sup->shutdown) continue;
		for (int k = sup->n - 1; k >= 0; k--) {
			int i = sup->order[k];
			struct svc *s = sup->v[i];
			if (s->state == ST_STOPPING) continue;
			if (s->state == ST_BACKOFF || (alive(s) && !has_live_dependent(sup, i)))
				sup_event(sup, s, EV_DOWN);
		}
	} while (sup->changed);
}

void sup_reap(struct sup *sup)
{
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid <= 0) {
			if (pid < 0 && errno == EINTR) continue;
			return;
		}
		struct svc *s = 0;
		for (int i = 0; i < sup->n && !s; i++)
			if (sup->v[i]->pid == pid && alive(sup->v[i])) s = sup->v[i];
		if (!s) {
			if (!gate_reaped(sup, pid, st)) sup->orphans++;
			continue;
		}
		s->status = st;
		s->have_status = 1;
		sup_event(sup, s, EV_EXIT);
	}
}

int sup_timers(struct sup *sup)
{
	long long now = now_ms(), next = -1;
	for (int i = 0; i < sup->n; i++) {
		struct svc *s = sup->v[i];
		if (s->deadline && s->deadline <= now) {
			s->deadline = 0; /* an action that needs another sets it */
			sup_event(sup, s, EV_TIMER);
		}
		if (s->deadline && (next < 0 || s->deadline < next)) next = s->deadline;
	}
	if (next < 0) return -1;
	now = now_ms();
	return next <= now ? 0 : next - now > 60000 ? 60000 : (int)(next - now);
}

struct svc *sup_find(const struct sup *sup, const char *name)
{
	for (int i = 0; i < sup->n; i++)
		if (!strcmp(sup->v[i]->c->name, name) && !sup->v[i]->removed) return sup->v[i];
	return 0;
}

void sup_shutdown(struct sup *sup, int cmd)
{
	if (!sup->shutdown) infox("stopping services");
	sup->shutdown = cmd;
	for (int i = 0; i < sup->n; i++) sup->v[i]->want = 0;
}

int sup_start(struct sup *sup, struct svc *s)
{
	if (s->state == ST_FAILED || s->state == ST_DONE) {
		s->backoff_ms = s->c->backoff_ms;
		s->trig_count = 0;
		set_state(sup, s, ST_STOPPED);
	}
	if (s->state == ST_STOPPING) s->reason[0] = 0; /* stopping after a timeout: start again */
	s->want = 1;
	return 0;
}

int sup_stop(struct sup *sup, struct svc *s)
{
	s->want = 0;
	s->armed = 0;
	sup_event(sup, s, EV_DOWN);
	return 0;
}

int sup_restart(struct sup *sup, struct svc *s)
{
	sup_start(sup, s);
	sup_event(sup, s, EV_DOWN); /* it comes back up once stopped, as want = 1 */
	return 0;
}

size_t sup_status(const struct sup *sup, const struct svc *only, char *buf, size_t cap)
{
	size_t n = 0;
	long long now = now_ms() - sup->t0;
	for (int i = 0; i < sup->n && n + 1 < cap; i++) {
		const struct svc *s = sup->v[i];
		if ((only && s != only) || s->removed) continue;
		char last[48] = "-";
		if (s->have_status)
			snprintf(last, sizeof last, WIFSIGNALED(s->status) ? "signal:%d" : "exit:%d",
				 WIFSIGNALED(s->status) ? WTERMSIG(s->status) : WEXITSTATUS(s->status));
		int r = snprintf(buf + n, cap - n,
				 "%s %s pid=%d up=%lldms restarts=%u last=%s start=%lldms ready=%lldms%s%s%s\n",
				 s->c->name, state_name[s->state], (int)s->pid,
				 alive(s) ? now - s->start_ms : 0, s->restarts, last,
				 s->pid || s->start_ms ? s->start_ms : -1, s->ready_ms,
				 s->reason[0] ? " reason=\"" : "", s->reason, s->reason[0] ? "\"" : "");
		if (r < 0) break;
		n += (size_t)r;
	}
	return n < cap ? n : cap - 1;
}

/* Append what the service wrote to its log file; rotate to <name>.log.1 at the cap. */
static int log_rotate(struct sup *sup, struct svc *s)
{
	char a[4096], b[4096];
	snprintf(a, sizeof a, "%s/%s.log", sup->logdir, s->c->name);
	snprintf(b, sizeof b, "%s/%s.log.1", sup->logdir, s->c->name);
	if (rename(a, b)) warnx("%s: unable to rotate %s: %s", s->c->name, a, strerror(errno));
	close(s->log_fd);
	s->log_fd = open(a, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	s->log_size = 0;
	if (s->log_fd < 0) warnx("%s: unable to open %s: %s", s->c->name, a, strerror(errno));
	return s->log_fd;
}

void svc_log_readable(struct sup *sup, struct svc *s)
{
	static char buf[4096]; /* one static buffer: no allocation per line */
	ssize_t r = read(s->log_rd, buf, sizeof buf);
	for (ssize_t off = 0; r > 0 && off < r && s->log_fd >= 0;) {
		if (s->log_size >= s->c->log_max && log_rotate(sup, s) < 0) return;
		long room = s->c->log_max - s->log_size;
		ssize_t n = r - off < room ? r - off : room;
		ssize_t w = write(s->log_fd, buf + off, (size_t)n);
		if (w <= 0) return; /* full disk: drop this chunk rather than block */
		s->log_size += w;
		off += w;
	}
}

void svc_notify_fd_readable(struct sup *sup, struct svc *s)
{
	char buf[256];
	ssize_t r = read(s->notify_rd, buf, sizeof buf);
	if (r > 0 && memchr(buf, '\n', (size_t)r)) sup_event(sup, s, EV_READY);
	else if (r == 0) xclose(&s->notify_rd); /* closed without a line: not ready yet */
}

/* sd_notify: only the main process may say READY=1 (systemd's NotifyAccess=main). The
 * socket is open to all (services drop privileges); SO_PASSCRED gives the sender's pid. */
void svc_notify_sock_readable(struct sup *sup, struct svc *s)
{
	char buf[4097];
	/* Room for the credentials only: fds sent along are then never installed here. */
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(struct ucred))];
	} cm;
	struct iovec iov = {buf, sizeof buf - 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = &cm,
			    .msg_controllen = sizeof cm};
	ssize_t r = recvmsg(s->notify_sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (r < 0) {
		if (errno != EAGAIN && errno != EINTR)
			warnx("%s: unable to read its NOTIFY_SOCKET: %s", s->c->name, strerror(errno));
		return;
	}
	pid_t from = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred u;
			memcpy(&u, CMSG_DATA(c), sizeof u);
			from = u.pid;
		}
	buf[r] = 0;
	for (char *line = buf, *nl; line; line = nl) {
		nl = strchr(line, '\n');
		if (nl) *nl++ = 0;
		if (strcmp(line, "READY=1")) continue;
		if (from > 0 && from == s->pid) sup_event(sup, s, EV_READY);
		else if (!s->notify_warned) { /* once per run: others must not flood the log */
			s->notify_warned = 1;
			warnx("%s: ignoring READY=1 from pid %d, not its main process %d", s->c->name,
			      (int)from, (int)s->pid);
		}
	}
}
