#include "gate.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "msg.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

enum gevent { GE_UP, GE_FAILED, GE_TIMEOUT, GE_PASS, GE_FAIL, GE_HTIMEOUT, GE_SHUTDOWN, NGEVENTS };

static const char *const gstate_name[NGSTATES] = {"off", "waiting", "health", "good", "bad",
						  "stopped"};

static void report(void *arg, const char *m)
{
	(void)arg;
	msg("error", "%s", m);
}

/* fork + exec of a gate command, no shell: stdin /dev/null, output to init's stderr (the
 * console). Its own session, so a timed-out health command goes with all it started. */
static pid_t run(const struct cmd *c, const char *what, const char *reason)
{
	pid_t pid = fork();
	if (pid < 0) warnx("boot gate: unable to start %s: %s", what, strerror(errno));
	if (pid) return pid;
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, 0);
	signal(SIGPIPE, SIG_DFL);
	setsid();
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) dup2(null, 0);
#ifdef SYS_close_range
	syscall(SYS_close_range, 3U, ~0U, 0); /* what init inherited; the rest is CLOEXEC */
#endif
	if (!getenv("PATH")) setenv("PATH", DEFAULT_PATH, 1);
	if (reason) setenv("ICENET_BOOT_REASON", reason, 1);
	umask(022);
	execvp(c->argv[0], c->argv);
	msg("fatal", "boot gate: unable to exec %s: %s", c->argv[0], strerror(errno));
	_exit(EXIT_EXEC);
}

static void enter(struct sup *sup, struct gate *g, enum gstate st)
{
	g->state = st;
	g->at = now_ms() - sup->t0;
}

static void kill_health(struct gate *g)
{
	if (g->health > 0) kill(-g->health, SIGKILL); /* reaped later, as any child */
}

static void g_none(struct sup *sup, struct gate *g)
{
	(void)sup, (void)g;
}

static void g_good(struct sup *sup, struct gate *g)
{
	enter(sup, g, G_GOOD);
	g->reason[0] = 0;
	infox("boot gate: good after %lld ms: running %s", g->at, g->conf.on_good.argv[0]);
	g->act = run(&g->conf.on_good, "on_good", 0);
}

static void g_bad(struct sup *sup, struct gate *g)
{
	kill_health(g);
	enter(sup, g, G_BAD);
	warnx("boot gate: bad: %s: running %s", g->reason, g->conf.on_bad.argv[0]);
	g->act = run(&g->conf.on_bad, "on_bad", g->reason);
}

static void g_health(struct sup *sup, struct gate *g)
{
	if (!g->conf.health.argc) {
		g_good(sup, g);
		return;
	}
	enter(sup, g, G_HEALTH);
	infox("boot gate: every service is up: running %s", g->conf.health.argv[0]);
	g->hdeadline = now_ms() + g->conf.health_timeout_ms;
	if ((g->health = run(&g->conf.health, "health", 0)) < 0) {
		snprintf(g->reason, sizeof g->reason, "unable to start the health command");
		g_bad(sup, g);
	}
}

static void g_failed(struct sup *sup, struct gate *g)
{
	const struct svc *s;
	sup_all_up(sup, &s);
	snprintf(g->reason, sizeof g->reason, "service '%s' failed: %s", s ? s->c->name : "?",
		 s ? s->reason : "");
	g_bad(sup, g);
}

static void g_timeout(struct sup *sup, struct gate *g)
{
	const struct svc *s;
	sup_all_up(sup, &s);
	if (g->state == G_HEALTH)
		snprintf(g->reason, sizeof g->reason, "health command still running at the timeout (%ld ms)",
			 g->conf.timeout_ms);
	else
		snprintf(g->reason, sizeof g->reason, "not every service up within %ld ms (timeout): '%s' is %s",
			 g->conf.timeout_ms, s ? s->c->name : "?", s ? state_name[s->state] : "?");
	g_bad(sup, g);
}

static void g_htimeout(struct sup *sup, struct gate *g)
{
	snprintf(g->reason, sizeof g->reason, "health command not done within %ld ms (health_timeout)",
		 g->conf.health_timeout_ms);
	g_bad(sup, g);
}

/* A shutdown is no verdict: whoever asked for it knows why. */
static void g_stop(struct sup *sup, struct gate *g)
{
	kill_health(g);
	enter(sup, g, G_STOPPED);
	snprintf(g->reason, sizeof g->reason, "shutting down before the verdict");
}

typedef void gaction(struct sup *, struct gate *);
static gaction *const table[NGSTATES][NGEVENTS] = {
	/*              UP        FAILED    TIMEOUT    PASS    FAIL    HTIMEOUT    SHUTDOWN */
	[G_OFF] = {g_none, g_none, g_none, g_none, g_none, g_none, g_none},
	[G_WAITING] = {g_health, g_failed, g_timeout, g_none, g_none, g_none, g_stop},
	[G_HEALTH] = {g_none, g_failed, g_timeout, g_good, g_bad, g_htimeout, g_stop},
	[G_GOOD] = {g_none, g_none, g_none, g_none, g_none, g_none, g_none},
	[G_BAD] = {g_none, g_none, g_none, g_none, g_none, g_none, g_none},
	[G_STOPPED] = {g_none, g_none, g_none, g_none, g_none, g_none, g_none},
};

static void event(struct sup *sup, enum gevent ev)
{
	table[sup->gate->state][ev](sup, sup->gate);
}

/* execvp's lookup, to know whether an image has the updater at all. */
static int program_exists(const char *name)
{
	if (strchr(name, '/')) return !access(name, X_OK);
	const char *path = getenv("PATH");
	char buf[4096];
	for (const char *p = path ? path : DEFAULT_PATH, *e; *p; p = *e ? e + 1 : e) {
		e = strchrnul(p, ':');
		snprintf(buf, sizeof buf, "%.*s/%s", (int)(e - p), p, name);
		if (e > p && !access(buf, X_OK)) return 1;
	}
	return 0;
}

void gate_setup(struct sup *sup, const char *file)
{
	struct gate *g = sup->gate;
	memset(g, 0, sizeof *g);
	if (!file) {
		bootconf_parse_buf(&g->conf, "-", "", 0, 0, 0);
		snprintf(g->reason, sizeof g->reason, "no --boot-conf");
		return;
	}
	int e = bootconf_parse_file(&g->conf, file, report, 0) ? errno : 0;
	if (e == ENOENT && !program_exists(g->conf.on_good.argv[0])) {
		/* An image without the updater boots as it always did. */
		snprintf(g->reason, sizeof g->reason, "no %s, and no %s to run", file,
			 g->conf.on_good.argv[0]);
		infox("boot gate: off: %s", g->reason);
		return;
	}
	enter(sup, g, G_WAITING);
	g->deadline = now_ms() + g->conf.timeout_ms;
	if (e && e != ENOENT) {
		snprintf(g->reason, sizeof g->reason, "unable to read %s: %s", file, strerror(e));
		msg("error", "%s", g->reason);
	} else if (g->conf.errors) {
		snprintf(g->reason, sizeof g->reason, "invalid %s", file);
	} else {
		infox("boot gate: waiting for every service (timeout %ld ms)", g->conf.timeout_ms);
		return;
	}
	/* A boot.conf that cannot be trusted is a broken system: bad at once. */
	g_bad(sup, g);
}

static int until(long long deadline, long long now, int t)
{
	int left = deadline <= now ? 0 : deadline - now > 60000 ? 60000 : (int)(deadline - now);
	return t < 0 || left < t ? left : t;
}

int gate_check(struct sup *sup)
{
	struct gate *g = sup->gate;
	const struct svc *s;
	if (sup->shutdown) event(sup, GE_SHUTDOWN);
	if (g->state == G_WAITING || g->state == G_HEALTH) {
		int r = sup_all_up(sup, &s);
		if (r) event(sup, r > 0 ? GE_UP : GE_FAILED);
	}
	long long now = now_ms();
	if ((g->state == G_WAITING || g->state == G_HEALTH) && g->deadline <= now) event(sup, GE_TIMEOUT);
	if (g->state == G_HEALTH && g->hdeadline <= now) event(sup, GE_HTIMEOUT);
	int t = -1;
	if (g->state == G_WAITING || g->state == G_HEALTH) t = until(g->deadline, now, t);
	if (g->state == G_HEALTH) t = until(g->hdeadline, now, t);
	return t;
}

static void describe(int st, char *buf, size_t cap)
{
	if (WIFSIGNALED(st)) snprintf(buf, cap, "signal:%d", WTERMSIG(st));
	else snprintf(buf, cap, "exit:%d", WEXITSTATUS(st));
}

int gate_reaped(struct sup *sup, pid_t pid, int st)
{
	struct gate *g = sup->gate;
	if (!g || pid <= 0) return 0;
	char how[32];
	describe(st, how, sizeof how);
	if (pid == g->health) {
		g->health = 0;
		if (g->state != G_HEALTH) return 1; /* killed: the verdict is in already */
		int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
		if (!ok) snprintf(g->reason, sizeof g->reason, "health command failed (%s)", how); /* for g_bad */
		event(sup, ok ? GE_PASS : GE_FAIL);
		return 1;
	}
	if (pid != g->act) return 0;
	g->act = 0;
	g->act_status = st;
	g->act_done = 1;
	const char *what = g->state == G_GOOD ? "on_good" : "on_bad";
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) infox("boot gate: %s done", what);
	else warnx("boot gate: %s failed (%s)", what, how);
	return 1;
}

size_t gate_status(const struct sup *sup, char *buf, size_t cap)
{
	const struct gate *g = sup->gate;
	char act[48] = "";
	if (g->state == G_GOOD || g->state == G_BAD) {
		char how[32] = "running";
		if (g->act_done) describe(g->act_status, how, sizeof how);
		else if (g->act < 0) snprintf(how, sizeof how, "unstarted");
		snprintf(act, sizeof act, " %s=%s", g->state == G_GOOD ? "on_good" : "on_bad", how);
	} else if (g->state == G_HEALTH) {
		snprintf(act, sizeof act, " pid=%d", (int)g->health);
	}
	int n = snprintf(buf, cap, "gate %s at=%lldms timeout=%ldms%s%s%s%s\n", gstate_name[g->state],
			 g->at, g->conf.timeout_ms, act, g->reason[0] ? " reason=\"" : "", g->reason,
			 g->reason[0] ? "\"" : "");
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

size_t gate_boot_line(char *buf, size_t cap)
{
	char text[4096], slot[16] = "none", trial[4] = "0", version[64] = "unknown";
	size_t len;
	if (!conf_read("/proc/cmdline", text, sizeof text - 1, &len)) {
		text[len] = 0;
		boot_cmdline_arg(text, "icenet.slot", slot, sizeof slot);
		boot_cmdline_arg(text, "icenet.trial", trial, sizeof trial);
	}
	if (!conf_read("/etc/os-release", text, sizeof text - 1, &len)) {
		text[len] = 0;
		boot_os_release(text, "VERSION_ID", version, sizeof version);
	}
	int n = snprintf(buf, cap, "boot slot=%s trial=%s version=%s\n", slot, trial, version);
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}
