#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "gate.h"
#include "msg.h"
#include "wdog.h"

static int addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof a->sun_path) return errno = ENAMETOOLONG, -1;
	strcpy(a->sun_path, path);
	return 0;
}

int ctl_open(struct ctl *ctl, const char *path)
{
	struct sockaddr_un a;
	char dir[sizeof a.sun_path];
	memset(ctl, 0, sizeof *ctl);
	for (int i = 0; i < CTL_MAXCLIENTS; i++) ctl->cl[i].fd = -1;
	ctl->fd = -1;
	if (addr(&a, path)) return -1;
	strcpy(dir, path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (mkdir(dir, 0755) && errno != EEXIST) return -1;
	}
	struct stat st; /* replace a stale socket, never another kind of file */
	if (!lstat(path, &st) && !S_ISSOCK(st.st_mode)) return errno = EEXIST, -1;
	if (unlink(path) && errno != ENOENT) return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) return -1;
	/* Created 0600 from the start: there is no window where others may connect. */
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&a, sizeof a);
	umask(old);
	if (r || listen(fd, 16)) {
		int e = errno;
		close(fd);
		return errno = e, -1;
	}
	ctl->fd = fd;
	return 0;
}

static int drop(struct ctl_client *c)
{
	close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = 0;
	c->inlen = c->outlen = c->outoff = 0;
	return 0;
}

void ctl_accept(struct ctl *ctl)
{
	int fd = accept4(ctl->fd, 0, 0, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) return;
	struct ucred cr;
	socklen_t len = sizeof cr;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) || cr.uid != 0) {
		static const char no[] = "error: permission denied: only root may control icenet-init\n";
		if (write(fd, no, sizeof no - 1) < 0) { /* the client is gone anyway */ }
		close(fd);
		return;
	}
	for (int i = 0; i < CTL_MAXCLIENTS; i++) {
		if (ctl->cl[i].fd >= 0) continue;
		ctl->cl[i].fd = fd;
		return;
	}
	static const char busy[] =
		"error: busy: " CTL_MAXCLIENTS_S " clients are connected, try again\n";
	if (write(fd, busy, sizeof busy - 1) < 0) { /* the client is gone anyway */ }
	close(fd);
}

short ctl_client_events(const struct ctl_client *c)
{
	return c->out ? POLLOUT : POLLIN;
}

static int reply(struct ctl_client *c, const char *fmt, const char *arg)
{
	size_t cap = strlen(fmt) + strlen(arg) + 1;
	c->out = malloc(cap);
	if (c->out) c->outlen = (size_t)snprintf(c->out, cap, fmt, arg);
	return 0;
}

static int run(struct sup *sup, struct ctl_client *c, char *line)
{
	char *verb = strtok(line, " \t"), *name = strtok(0, " \t");
	static const char *const power[] = {"poweroff", "reboot", "halt"};
	static const int cmds[] = {RB_POWER_OFF, RB_AUTOBOOT, RB_HALT_SYSTEM};
	if (!verb) return reply(c, "error: empty command\n", "");
	if (strtok(0, " \t")) return reply(c, "error: %s: too many arguments\n", verb);
	for (int i = 0; i < 5; i++) /* the verbs that take no name */
		if (name && !strcmp(verb, i < 3 ? power[i] : i == 3 ? "reload" : "boot"))
			return reply(c, "error: %s takes no arguments\n", verb);
	for (int i = 0; i < 3; i++) {
		if (strcmp(verb, power[i])) continue;
		sup_shutdown(sup, cmds[i]);
		return reply(c, "ok: %s\n", verb);
	}
	if (!strcmp(verb, "reload")) {
		if (sup->shutdown) return reply(c, "error: shutting down\n", "");
		return reply(c, sup_load(sup) ? "error: unable to reload %s\n" : "ok: reloaded %s\n",
			     sup->dir);
	}
	if (!strcmp(verb, "boot")) {
		size_t cap = 1024, n = 0;
		if (!(c->out = malloc(cap))) return 0;
		n += gate_boot_line(c->out, cap);
		n += gate_status(sup, c->out + n, cap - n);
		c->outlen = n + wdog_status(c->out + n, cap - n);
		return 0;
	}
	struct svc *s = name ? sup_find(sup, name) : 0;
	if (name && !s) return reply(c, "error: no service '%s'\n", name);
	if (!strcmp(verb, "status")) {
		size_t cap = (size_t)(s ? 1 : sup->n) * 512 + 1;
		c->out = malloc(cap);
		if (c->out) c->outlen = sup_status(sup, s, c->out, cap);
		return 0;
	}
	int (*const fn[])(struct sup *, struct svc *) = {sup_start, sup_stop, sup_restart};
	static const char *const verbs[] = {"start", "stop", "restart"};
	for (int i = 0; i < 3; i++) {
		if (strcmp(verb, verbs[i])) continue;
		if (!s) return reply(c, "error: %s needs a service name\n", verb);
		if (sup->shutdown && i != 1) return reply(c, "error: shutting down\n", "");
		fn[i](sup, s);
		return reply(c, "ok: %s\n", line);
	}
	return reply(c, "error: unknown command '%s' (status, start, stop, restart, reload, boot, poweroff, reboot, halt)\n",
		     verb);
}

void ctl_client_io(struct ctl *ctl, struct sup *sup, struct ctl_client *c, short revents)
{
	(void)ctl;
	if (!c->out && (revents & (POLLIN | POLLHUP | POLLERR))) {
		ssize_t r = read(c->fd, c->in + c->inlen, sizeof c->in - 1 - c->inlen);
		if (r <= 0 && !(r < 0 && errno == EAGAIN)) {
			if (r == 0 && c->inlen) goto line; /* no final newline */
			drop(c);
			return;
		}
		if (r < 0) return;
		c->inlen += (size_t)r;
		c->in[c->inlen] = 0;
		char *nl = strchr(c->in, '\n');
		if (!nl && c->inlen < sizeof c->in - 1) return;
		if (nl) *nl = 0;
	line:
		c->in[c->inlen < sizeof c->in ? c->inlen : sizeof c->in - 1] = 0;
		c->in[strcspn(c->in, "\n")] = 0;
		run(sup, c, c->in);
		if (!c->out) {
			drop(c);
			return;
		}
		revents = POLLOUT;
	}
	if (c->out && (revents & (POLLOUT | POLLHUP | POLLERR))) {
		ssize_t w = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
		if (w < 0 && errno == EAGAIN) return;
		if (w <= 0) {
			drop(c);
			return;
		}
		c->outoff += (size_t)w;
		if (c->outoff == c->outlen) drop(c);
	}
}

static int usage(const char *verb, const char *why)
{
	if (verb) fprintf(stderr, "icenetctl: fatal: %s: %s\n", verb, why);
	fputs("usage: icenetctl [-s socket] status [name] | start name | stop name | restart name | "
	      "reload | boot | poweroff | reboot | halt\n",
	      stderr);
	return EXIT_USAGE;
}

/* Refuse a known verb with the wrong number of arguments before sending anything. */
static int check_args(const char *verb, int nargs)
{
	static const char *const why[] = {"takes one service name", "takes no arguments",
					  "takes at most one service name"};
	static const struct { const char *verb; int max; } v[] = {
		{"start", -1}, {"stop", -1},    {"restart", -1}, {"reload", 0},
		{"poweroff", 0}, {"reboot", 0}, {"halt", 0},     {"status", 1},
		{"boot", 0},
	}; /* max -1: exactly one */
	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		if (strcmp(verb, v[i].verb)) continue;
		int bad = v[i].max < 0 ? nargs != 1 : nargs > v[i].max;
		return bad ? usage(verb, why[v[i].max + 1]) : 0;
	}
	return 0; /* unknown: init answers */
}

int ctl_main(int argc, char **argv)
{
	const char *path = getenv("ICENET_CONTROL");
	int i = 1;
	if (i < argc && !strcmp(argv[i], "-s")) {
		if (i + 1 >= argc) return usage("-s", "needs the socket's path");
		path = argv[i + 1], i += 2;
	}
	if (!path || !*path) path = CTL_DEFAULT;
	if (i >= argc) return usage(0, 0);
	if (check_args(argv[i], argc - i - 1)) return EXIT_USAGE;
	/* A refused or busy socket closes early: say so rather than die of SIGPIPE. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		fprintf(stderr, "icenetctl: fatal: unable to ignore SIGPIPE: %s\n", strerror(errno));
		return EXIT_SYS;
	}
	char line[256] = "";
	for (; i < argc; i++) {
		if (strlen(line) + strlen(argv[i]) + 2 > sizeof line) {
			fputs("icenetctl: fatal: command too long\n", stderr);
			return EXIT_USAGE;
		}
		strcat(line, argv[i]);
		strcat(line, i + 1 < argc ? " " : "\n");
	}
	struct sockaddr_un a;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || addr(&a, path) || connect(fd, (struct sockaddr *)&a, sizeof a)) {
		fprintf(stderr, "icenetctl: fatal: unable to connect to %s: %s\n", path, strerror(errno));
		return EXIT_SYS;
	}
	/* If init refused us it wrote why before closing: read that even if writing failed. */
	int werr = 0;
	for (size_t off = 0, len = strlen(line); off < len && !werr;) {
		ssize_t w = write(fd, line + off, len - off);
		if (w < 0 && errno != EINTR) werr = errno;
		else if (w > 0) off += (size_t)w;
	}
	if (!werr && shutdown(fd, SHUT_WR)) werr = errno;
	char buf[4096];
	ssize_t r, total = 0;
	int error = 0;
	while ((r = read(fd, buf, sizeof buf)) > 0 || (r < 0 && errno == EINTR)) {
		if (r < 0) continue;
		if (total == 0 && r >= 6 && !memcmp(buf, "error:", 6)) error = 1;
		if (fwrite(buf, 1, (size_t)r, stdout) != (size_t)r) break;
		total += r;
	}
	int rerr = r < 0 ? errno : 0;
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "icenetctl: fatal: unable to write to stdout: %s\n", strerror(errno));
		return EXIT_SYS;
	}
	/* Init closes a refused connection with our command unread: a reset after its answer. */
	if (rerr && !(total && rerr == ECONNRESET)) {
		fprintf(stderr, "icenetctl: fatal: unable to read from %s: %s\n", path, strerror(rerr));
		return EXIT_SYS;
	}
	if (total == 0) {
		if (werr) fprintf(stderr, "icenetctl: fatal: unable to write to %s: %s\n", path,
				  strerror(werr));
		else fprintf(stderr, "icenetctl: fatal: %s closed the connection\n", path);
		return EXIT_SYS;
	}
	return error;
}
