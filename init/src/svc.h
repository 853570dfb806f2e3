/*
 * The supervisor: services as a table of states x events pointing at small actions
 * (s6-supervise style). All state lives in one `struct sup`, passed around.
 */
#ifndef ICENET_SVC_H
#define ICENET_SVC_H

#include <sys/types.h>

#include "conf.h"
#include "graph.h"

enum state { ST_STOPPED, ST_STARTING, ST_READY, ST_BACKOFF, ST_FAILED, ST_DONE, ST_STOPPING,
	     NSTATES };
/* EV_CONNECT: a connection (or datagram) on the sockets of an `activate = connect` service. */
enum event { EV_UP, EV_DOWN, EV_READY, EV_EXIT, EV_TIMER, EV_DEPFAIL, EV_CONNECT, NEVENTS };

extern const char *const state_name[NSTATES];

struct svc {
	struct svc_conf *c;
	enum state state;
	int want; /* 1: should be up */
	int removed; /* its file is gone: freed once it has stopped */
	int armed; /* activate = connect: waiting for the first connection */
	pid_t pid;
	unsigned restarts;
	int status, have_status; /* last wait(2) status */
	long long start_ms, ready_ms, deadline, stop_sent;
	long backoff_ms; /* next backoff delay */
	long long trig_start; /* trigger limit: start of the current window ... */
	int trig_count; /* ... and the starts by connections within it */
	int notify_rd; /* ICENET_NOTIFY_FD pipe, read end, while starting */
	int notify_sock; /* NOTIFY_SOCKET datagram socket (ready = sd-notify) */
	int notify_warned; /* a foreign READY=1 was reported for this run */
	int incg; /* its processes are in its own cgroup (else: its process group) */
	int log_rd, log_wr, log_fd; /* log = file: pipe kept across restarts, and the file */
	long log_size;
	int lfd[MAXLISTEN]; /* socket of c->listen[i], -1 while not bound */
	char bad[200]; /* non-empty: cannot start (bad file, socket, graph) */
	char reason[240]; /* why it is failed, for status */
};

struct gate;

struct sup {
	const char *dir, *logdir, *rundir;
	struct gate *gate; /* the boot health gate (gate.c) */
	struct svc **v;
	int n;
	struct gnode *g;
	int *order;
	int shutdown; /* 0, or the reboot(2) command once shutting down */
	int pid1; /* we are PID 1: orphans come to us */
	int boot; /* boot mode (PID 1 of the machine): SIGTERM means reboot */
	int changed; /* set by actions: the scheduler runs again */
	long long t0;
	unsigned orphans; /* reaped processes that were no service's */
	char *cg; /* cgroup v2 directory holding one cgroup per service, or 0 */
};

/* Scan sup->dir and (re)load the services; binds new listening sockets. */
int sup_load(struct sup *sup);
/* Free services that were removed and have stopped. */
void sup_gc(struct sup *sup);
/* Send one event to a service (the states x events table). */
void sup_event(struct sup *sup, struct svc *s, enum event ev);
/* Start what can start, fail what cannot, stop in reverse order when shutting down. */
void sup_schedule(struct sup *sup);
/* Reap every exited child; orphans are counted. */
void sup_reap(struct sup *sup);
/* Fire due timers; returns the poll timeout in ms (-1: none). */
int sup_timers(struct sup *sup);
/* Every enabled service is up (ready, done, or listening for its first connection): 1;
 * not yet: 0 (*which: the first that is not); one has failed: -1 (*which: it). */
int sup_all_up(const struct sup *sup, const struct svc **which);
/* A process is alive or a restart is pending. */
int sup_busy(const struct sup *sup);
struct svc *sup_find(const struct sup *sup, const char *name);
/* Begin shutdown with a reboot(2) command. */
void sup_shutdown(struct sup *sup, int cmd);
/* icenetctl verbs. Return 0 or -1 with a message in err. */
int sup_start(struct sup *sup, struct svc *s);
int sup_stop(struct sup *sup, struct svc *s);
int sup_restart(struct sup *sup, struct svc *s);
/* One status line per service into buf; returns the length. */
size_t sup_status(const struct sup *sup, const struct svc *only, char *buf, size_t cap);

/* I/O readiness of a service's fds (from the poll loop). */
void svc_log_readable(struct sup *sup, struct svc *s);
void svc_notify_fd_readable(struct sup *sup, struct svc *s);
void svc_notify_sock_readable(struct sup *sup, struct svc *s);

/* spawn.c: prepare fds and fork the service. Returns the pid or -1. */
pid_t spawn_service(struct sup *sup, struct svc *s);

/* group.c: a service's processes as one group, a cgroup v2 when one is mounted (and
 * writable), else its process group (it leads its own session). */
/* Find cgroup2 and make init's directory in it (sup->cg); else say process groups. */
void group_setup(struct sup *sup);
/* The service's cgroup path into buf (0), or -1 when it has none (process group). */
int group_path(const struct sup *sup, const struct svc *s, char *buf, size_t cap);
/* Signal every process of the service. `main` is its main pid while that one is not
 * reaped yet (signalled even before it made its group), else 0. */
void group_signal(const struct sup *sup, const struct svc *s, pid_t pgid, pid_t main, int sig);
/* Remove the service's cgroup (once its processes are gone); all of them with s = 0. */
void group_remove(struct sup *sup, struct svc *s);

#endif
