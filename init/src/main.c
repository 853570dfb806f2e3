/*
 * icenet-init: PID 1 and service supervisor. One poll loop; signals arrive through
 * a signalfd; every service event goes through the table in svc.c.
 *
 * Failure policy: during set-up (arguments, signalfd, control socket) it may die
 * (as PID 1: an emergency shell); in the main loop it never does — it warns and
 * goes on.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "gate.h"
#include "msg.h"
#include "pid1.h"
#include "svc.h"
#include "wdog.h"

enum { T_SIG, T_CTL, T_CLIENT, T_LOG, T_NFD, T_NSOCK, T_LISTEN };

struct loop {
	struct pollfd *pfd;
	struct { int kind; void *p; } *tag;
	size_t cap, n;
};

static void add(struct loop *l, int fd, short ev, int kind, void *p)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		void *a = realloc(l->pfd, cap * sizeof *l->pfd), *b = realloc(l->tag, cap * sizeof *l->tag);
		if (a) l->pfd = a;
		if (b) l->tag = b;
		if (!a || !b) return; /* a missed fd this round is retried on the next */
		l->cap = cap;
	}
	l->pfd[l->n] = (struct pollfd){fd, ev, 0};
	l->tag[l->n].kind = kind;
	l->tag[l->n++].p = p;
}

static void build(struct loop *l, int sfd, struct ctl *ctl, struct sup *sup)
{
	l->n = 0;
	add(l, sfd, POLLIN, T_SIG, 0);
	/* Clients before the listening socket: those that hung up free their slots before
	 * a connection of the same round is accepted (else: "busy"). */
	for (int i = 0; i < CTL_MAXCLIENTS; i++)
		if (ctl->cl[i].fd >= 0) add(l, ctl->cl[i].fd, ctl_client_events(&ctl->cl[i]), T_CLIENT, &ctl->cl[i]);
	if (ctl->fd >= 0) add(l, ctl->fd, POLLIN, T_CTL, 0);
	for (int i = 0; i < sup->n; i++) {
		struct svc *s = sup->v[i];
		if (s->log_rd >= 0) add(l, s->log_rd, POLLIN, T_LOG, s);
		if (s->notify_rd >= 0) add(l, s->notify_rd, POLLIN, T_NFD, s);
		if (s->notify_sock >= 0) add(l, s->notify_sock, POLLIN, T_NSOCK, s);
		if (s->armed && s->want && s->state == ST_STOPPED && !sup->shutdown)
			for (int k = 0; k < s->c->nlisten; k++)
				if (s->lfd[k] >= 0) add(l, s->lfd[k], POLLIN, T_LISTEN, s);
	}
}

static void on_signal(int sfd, struct sup *sup)
{
	struct signalfd_siginfo si;
	while (read(sfd, &si, sizeof si) == sizeof si) {
		switch (si.ssi_signo) {
		case SIGCHLD: sup_reap(sup); break;
		case SIGHUP: if (!sup->shutdown) sup_load(sup); break;
		/* busybox's halt/poweroff/reboot signal PID 1 this way */
		case SIGUSR1: sup_shutdown(sup, RB_HALT_SYSTEM); break;
		case SIGUSR2: sup_shutdown(sup, RB_POWER_OFF); break;
		case SIGTERM: sup_shutdown(sup, sup->boot ? RB_AUTOBOOT : RB_POWER_OFF); break;
		case SIGINT: sup_shutdown(sup, RB_AUTOBOOT); break;
		}
	}
}

/* The sooner of two poll timeouts (-1: none). */
static int min_timeout(int a, int b)
{
	return a < 0 ? b : b < 0 || a < b ? a : b;
}

static void usage(void)
{
	fputs("usage: icenet-init [--supervise DIR] [--control SOCKET] [--log-dir DIR] [--run-dir DIR]\n"
	      "                   [--boot-conf FILE]\n"
	      "       icenetctl [-s SOCKET] status|start|stop|restart|reload|boot|poweroff|reboot|halt [name]\n",
	      stderr);
	exit(EXIT_USAGE);
}

int main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	if (!strcmp(base, "icenetctl")) return ctl_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "ctl")) return ctl_main(argc - 1, argv + 1);

	static struct gate gate;
	struct sup sup = {.dir = 0, .logdir = "/var/log", .rundir = "/run/icenet", .gate = &gate};
	const char *ctlpath = 0, *bootconf = 0;
	for (int i = 1; i < argc; i++) {
		/* The kernel hands init every command-line word it does not know ("single",
		 * "nokaslr" on a kernel without KASLR): as PID 1 they are no reason to exit,
		 * which would panic the kernel. */
		if (argv[i][0] != '-' && getpid() == 1) {
			infox("ignoring argument \"%s\" from the kernel command line", argv[i]);
			continue;
		}
		const char **opt = !strcmp(argv[i], "--supervise") ? &sup.dir
				 : !strcmp(argv[i], "--control") ? &ctlpath
				 : !strcmp(argv[i], "--log-dir") ? &sup.logdir
				 : !strcmp(argv[i], "--run-dir") ? &sup.rundir
				 : !strcmp(argv[i], "--boot-conf") ? &bootconf : 0;
		if (!opt || i + 1 >= argc) usage();
		*opt = argv[++i];
	}
	sup.pid1 = getpid() == 1;
	int boot = sup.boot = !sup.dir;
	if (boot && !sup.pid1) {
		msg("fatal", "not PID 1: use --supervise DIR");
		return EXIT_USAGE;
	}
	if (boot) sup.dir = "/etc/icenet/services";
	if (boot && !bootconf) bootconf = BOOTCONF_PATH;
	if (!ctlpath) {
		static char buf[256];
		snprintf(buf, sizeof buf, "%s/control", sup.rundir);
		ctlpath = buf;
	}
	sup.t0 = now_ms();
	int machine = boot && pid1_setup();
	if (!boot && !sup.pid1 && prctl(PR_SET_CHILD_SUBREAPER, 1)) warnx("unable to become a subreaper: %s", strerror(errno));

	sigset_t set;
	sigemptyset(&set);
	int sigs[] = {SIGCHLD, SIGHUP, SIGUSR1, SIGUSR2, SIGTERM, SIGINT};
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaddset(&set, sigs[i]);
	signal(SIGPIPE, SIG_IGN);
	int sfd = sigprocmask(SIG_BLOCK, &set, 0) ? -1 : signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0) {
		if (sup.pid1) pid1_emergency();
		die_sys("unable to create a signalfd");
	}
	/* After the signalfd: once armed, no set-up failure can leave it unfed unnoticed. */
	gate_setup(&sup, bootconf);
	/* A container's /dev may show the host's watchdog: never arm the host's. */
	if (machine) wdog_open(wdog_timeout(gate.conf.watchdog_s));
	else if (boot) wdog_none("PID 1 of a PID namespace (a container), not of the machine");
	if (mkdir_p(sup.rundir, 0755)) warnx("unable to create %s: %s", sup.rundir, strerror(errno));
	if (mkdir_p(sup.logdir, 0755)) warnx("unable to create %s: %s", sup.logdir, strerror(errno));
	group_setup(&sup);
	struct ctl ctl;
	if (ctl_open(&ctl, ctlpath)) warnx("unable to open the control socket %s: %s", ctlpath, strerror(errno));
	if (sup_load(&sup)) {
		if (!sup.pid1) return EXIT_SYS;
		warnx("no services: only reaping");
	}

	struct loop l = {0};
	for (;;) {
		sup_gc(&sup);
		sup_schedule(&sup);
		int gt = gate_check(&sup);
		if (sup.shutdown && !sup_busy(&sup)) break;
		int timeout = sup_timers(&sup);
		if (sup.changed) continue; /* a timer fired: schedule again before sleeping */
		timeout = min_timeout(min_timeout(timeout, gt), wdog_timer());
		build(&l, sfd, &ctl, &sup);
		int r = poll(l.pfd, l.n, timeout);
		if (r < 0) {
			if (errno != EINTR) {
				warnx("poll failed: %s", strerror(errno));
				sleep(1); /* the stated delay before retrying */
			}
			continue;
		}
		for (size_t i = 0; i < l.n; i++) {
			short re = l.pfd[i].revents;
			void *p = l.tag[i].p;
			if (!re) continue;
			switch (l.tag[i].kind) {
			case T_SIG: on_signal(sfd, &sup); break;
			case T_CTL: ctl_accept(&ctl); break;
			case T_CLIENT: ctl_client_io(&ctl, &sup, p, re); break;
			case T_LOG: svc_log_readable(&sup, p); break;
			case T_NFD: if (((struct svc *)p)->notify_rd >= 0) svc_notify_fd_readable(&sup, p); break;
			case T_NSOCK: svc_notify_sock_readable(&sup, p); break;
			case T_LISTEN: sup_event(&sup, p, EV_CONNECT); break;
			}
		}
	}
	/* Drain what the services logged last, and close the logs: files open for writing
	 * would keep / (over the data partition) from going read-only at shutdown. */
	for (int i = 0; i < sup.n; i++) {
		struct svc *s = sup.v[i];
		if (s->log_rd >= 0) svc_log_readable(&sup, s);
		if (s->log_fd >= 0) close(s->log_fd);
		s->log_fd = -1;
	}
	infox("all services stopped");
	group_remove(&sup, 0);
	if (ctl.fd >= 0 && unlink(ctlpath)) warnx("unable to remove %s: %s", ctlpath, strerror(errno));
	if (sup.pid1) pid1_finish(sup.shutdown, boot);
	return 0;
}
