#include "conf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ctx {
	struct svc_conf *c;
	const char *file;
	int line;
	conf_report_fn *report;
	void *arg;
	unsigned seen; /* bit per single-valued key, for duplicates */
	int activate_line;
};

static void err(struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void err(struct ctx *x, const char *fmt, ...)
{
	char buf[512];
	int n = x->line ? snprintf(buf, sizeof buf, "%s:%d: ", x->file, x->line)
			: snprintf(buf, sizeof buf, "%s: ", x->file);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	va_end(ap);
	x->c->errors++;
	if (x->report) x->report(x->arg, buf);
}

int conf_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 63 || name[0] == '.') return 0;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_.@-", *p)) return 0;
	return 1;
}

int conf_split(const char *s, char **argv, int max, char **out)
{
	char *buf = malloc(strlen(s) + 1), *w = buf;
	int argc = 0;
	*out = buf;
	if (!buf) return -3;
	for (;;) {
		while (*s == ' ' || *s == '\t') s++;
		if (!*s) break;
		if (argc == max) return -2;
		argv[argc++] = w;
		char q = 0;
		for (; *s; s++) {
			if (q) {
				if (*s == q) q = 0;
				else if (*s == '\\' && q == '"' && s[1]) *w++ = *++s;
				else *w++ = *s;
			} else if (*s == '"' || *s == '\'') q = *s;
			else if (*s == '\\' && s[1]) *w++ = *++s;
			else if (*s == ' ' || *s == '\t') break;
			else *w++ = *s;
		}
		if (q) return -1;
		*w++ = 0;
	}
	argv[argc] = 0;
	return argc;
}

int conf_duration(const char *v, long *ms)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (end == v || n < 0 || errno) return -1;
	long mul = !strcmp(end, "ms") ? 1 : (!*end || !strcmp(end, "s")) ? 1000
		 : !strcmp(end, "m") ? 60000 : 0;
	if (!mul || n > 86400000L / mul) return -1;
	*ms = n * mul;
	return 0;
}

/* "1048576", "64K", "1M". */
static int size(const char *v, long *out)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (end == v || n <= 0 || errno) return -1;
	long mul = !*end ? 1 : !strcmp(end, "K") ? 1024 : !strcmp(end, "M") ? 1048576 : 0;
	if (!mul || n > (1L << 30) / mul) return -1;
	*out = n * mul;
	return 0;
}

static int pick(const char *v, const char *const *words)
{
	for (int i = 0; words[i]; i++)
		if (!strcmp(v, words[i])) return i;
	return -1;
}

static char *sdup(struct ctx *x, const char *s)
{
	char *d = strdup(s);
	if (!d) err(x, "out of memory");
	return d;
}

static int addr_ok(enum ltype t, const char *a)
{
	if (t == L_UNIX) return a[0] == '/' && strlen(a) < 108;
	const char *colon = strrchr(a, ':');
	if (!colon || colon == a) return 0;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 1 || port > 65535) return 0;
	char host[64];
	size_t hl = (size_t)(colon - a);
	unsigned char bin[16];
	if (a[0] == '[') {
		if (hl < 3 || a[hl - 1] != ']' || hl - 2 >= sizeof host) return 0;
		memcpy(host, a + 1, hl - 2);
		host[hl - 2] = 0;
		return inet_pton(AF_INET6, host, bin) == 1;
	}
	if (hl >= sizeof host) return 0;
	memcpy(host, a, hl);
	host[hl] = 0;
	return inet_pton(AF_INET, host, bin) == 1;
}

static void parse_listen(struct ctx *x, const char *v)
{
	struct svc_conf *c = x->c;
	char *words[8], *buf;
	int n = conf_split(v, words, 7, &buf);
	if (n < 2) {
		err(x, "listen: expected 'tcp|udp ADDR:PORT' or 'unix PATH' [mode=0660] [name=NAME]");
		goto out;
	}
	static const char *const types[] = {"tcp", "udp", "unix", 0};
	int t = pick(words[0], types);
	if (t < 0) {
		err(x, "listen: unknown socket type '%s' (want tcp, udp or unix)", words[0]);
		goto out;
	}
	if (!addr_ok((enum ltype)t, words[1])) {
		err(x, t == L_UNIX ? "listen: bad unix path '%s' (absolute, under 108 bytes)"
				   : "listen: bad address '%s' (want IPv4:PORT or [IPv6]:PORT)",
		    words[1]);
		goto out;
	}
	if (c->nlisten == MAXLISTEN) {
		err(x, "listen: too many sockets (max %d)", MAXLISTEN);
		goto out;
	}
	struct listen_conf l = {(enum ltype)t, 0, 0, 0600};
	for (int i = 2; i < n; i++) {
		char *e;
		if (!strncmp(words[i], "mode=", 5) && t == L_UNIX) {
			l.mode = (unsigned)strtoul(words[i] + 5, &e, 8);
			if (*e || e == words[i] + 5 || l.mode > 07777) {
				err(x, "listen: bad mode '%s' (octal, like 0660)", words[i] + 5);
				goto out;
			}
		} else if (!strncmp(words[i], "name=", 5) && conf_name_ok(words[i] + 5)) {
			l.name = words[i] + 5;
		} else {
			err(x, "listen: bad option '%s'", words[i]);
			goto out;
		}
	}
	l.addr = sdup(x, words[1]);
	l.name = sdup(x, l.name ? l.name : c->name);
	c->listen[c->nlisten++] = l;
out:
	free(buf);
}

static void parse_names(struct ctx *x, const char *key, const char *v, char **list, int *n)
{
	char *words[MAXDEPS + 1], *buf;
	int k = conf_split(v, words, MAXDEPS, &buf);
	if (k < 0) err(x, "%s: bad list", key);
	for (int i = 0; i < k; i++) {
		if (!conf_name_ok(words[i])) err(x, "%s: bad service name '%s'", key, words[i]);
		else if (!strcmp(words[i], x->c->name)) err(x, "%s: a service cannot wait for itself", key);
		else if (*n == MAXDEPS) err(x, "%s: too many services (max %d)", key, MAXDEPS);
		else list[(*n)++] = sdup(x, words[i]);
	}
	free(buf);
}

static const char *const keys[] = {"command", "cwd", "user", "group", "type", "restart",
				   "ready", "stop_timeout", "backoff", "backoff_max",
				   "backoff_reset", "log", "log_max", "activate", "start_timeout",
				   "trigger_limit", "env", "depends", "after", "listen", 0};
enum { K_COMMAND, K_CWD, K_USER, K_GROUP, K_TYPE, K_RESTART, K_READY, K_STOP_TIMEOUT,
       K_BACKOFF, K_BACKOFF_MAX, K_BACKOFF_RESET, K_LOG, K_LOG_MAX, K_ACTIVATE,
       K_START_TIMEOUT, K_TRIGGER_LIMIT, K_ENV, K_DEPENDS, K_AFTER, K_LISTEN,
       K_SINGLE_END = K_ENV };

static void parse_line(struct ctx *x, char *line)
{
	struct svc_conf *c = x->c;
	char *k, *v;
	if (conf_kv(line, &k, &v)) {
		err(x, "expected 'key = value'");
		return;
	}
	int key = pick(k, keys);
	if (key < 0) {
		err(x, "unknown key '%s'", k);
		return;
	}
	if (!*v) {
		err(x, "empty value for '%s'", k);
		return;
	}
	if (key < K_SINGLE_END) {
		if (x->seen & (1u << key)) {
			err(x, "duplicate key '%s'", k);
			return;
		}
		x->seen |= 1u << key;
	}
	static const char *const types[] = {"longrun", "oneshot", 0};
	static const char *const restarts[] = {"always", "on-failure", "never", 0};
	static const char *const readys[] = {"started", "notify-fd", "sd-notify", 0};
	static const char *const logs[] = {"file", "console", "none", 0};
	static const char *const activates[] = {"boot", "connect", 0};
	int i;
	long *dur = 0;
	switch (key) {
	case K_COMMAND: {
		char *buf;
		int n = conf_split(v, c->argv, MAXARGS, &buf);
		if (n < 0) {
			err(x, n == -1 ? "command: unterminated quote" : "command: too many arguments (max %d)",
			    MAXARGS);
			free(buf);
			c->argv[0] = 0;
			return;
		}
		/* argv words live in one buffer owned by argv[0]; keep it even if n == 0 */
		c->argc = n;
		if (!n) free(buf);
		break;
	}
	case K_CWD:
		if (v[0] != '/') err(x, "cwd: must be an absolute path");
		else c->cwd = sdup(x, v);
		break;
	case K_USER:
	case K_GROUP:
		if (strpbrk(v, " \t:")) err(x, "%s: bad name '%s'", k, v);
		else if (key == K_USER) c->user = sdup(x, v);
		else c->group = sdup(x, v);
		break;
	case K_TYPE:
		if ((i = pick(v, types)) < 0) err(x, "type: '%s' is not longrun or oneshot", v);
		else c->oneshot = i;
		break;
	case K_RESTART:
		if ((i = pick(v, restarts)) < 0)
			err(x, "restart: '%s' is not always, on-failure or never", v);
		else c->restart = (enum restart)i;
		break;
	case K_READY:
		if ((i = pick(v, readys)) < 0)
			err(x, "ready: '%s' is not started, notify-fd or sd-notify", v);
		else c->ready = (enum ready)i;
		break;
	case K_STOP_TIMEOUT: dur = &c->stop_timeout_ms; break;
	case K_START_TIMEOUT: dur = &c->start_timeout_ms; break;
	case K_TRIGGER_LIMIT: {
		/* "20/2s": at most 20 starts by connections within 2 s */
		char *end;
		long n = strtol(v, &end, 10);
		if (end == v || *end != '/' || n < 1 || n > 1000000 ||
		    conf_duration(end + 1, &c->trigger_interval_ms) || !c->trigger_interval_ms)
			err(x, "trigger_limit: bad value '%s' (starts/interval, like 20/2s)", v);
		else c->trigger_burst = (int)n;
		break;
	}
	case K_BACKOFF: dur = &c->backoff_ms; break;
	case K_BACKOFF_MAX: dur = &c->backoff_max_ms; break;
	case K_BACKOFF_RESET: dur = &c->backoff_reset_ms; break;
	case K_LOG:
		if ((i = pick(v, logs)) < 0) err(x, "log: '%s' is not file, console or none", v);
		else c->log = (enum logto)i;
		break;
	case K_LOG_MAX:
		if (size(v, &c->log_max)) err(x, "log_max: bad size '%s' (like 65536, 64K, 1M)", v);
		break;
	case K_ACTIVATE:
		if ((i = pick(v, activates)) < 0) err(x, "activate: '%s' is not boot or connect", v);
		else c->lazy = i, x->activate_line = x->line;
		break;
	case K_ENV: {
		const char *p = v;
		if (!isalpha((unsigned char)*p) && *p != '_') p = "";
		else
			while (isalnum((unsigned char)*p) || *p == '_') p++;
		if (*p != '=') err(x, "env: expected NAME=value");
		else if (c->nenv == MAXENV) err(x, "env: too many variables (max %d)", MAXENV);
		else c->env[c->nenv++] = sdup(x, v);
		break;
	}
	case K_DEPENDS: parse_names(x, k, v, c->depends, &c->ndepends); break;
	case K_AFTER: parse_names(x, k, v, c->after, &c->nafter); break;
	case K_LISTEN: parse_listen(x, v); break;
	}
	if (dur && conf_duration(v, dur)) err(x, "%s: bad duration '%s' (like 500ms, 5s, 1m)", k, v);
}

static void on_line(void *arg, int line, char *text, const char *why)
{
	struct ctx *x = arg;
	x->line = line;
	if (why) err(x, "%s", why);
	else parse_line(x, text);
}

void conf_lines(const char *buf, size_t len, conf_line_fn *fn, void *arg)
{
	char line[1024];
	int ln = 0;
	for (size_t i = 0, j; i < len; i = j + 1) {
		for (j = i; j < len && buf[j] != '\n';) j++;
		size_t n = j - i;
		ln++;
		if (n >= sizeof line) {
			fn(arg, ln, 0, "line too long (max 1023 bytes)");
		} else if (memchr(buf + i, 0, n)) {
			fn(arg, ln, 0, "NUL byte in line");
		} else {
			memcpy(line, buf + i, n);
			while (n && isspace((unsigned char)line[n - 1])) n--;
			line[n] = 0;
			char *p = line;
			while (isspace((unsigned char)*p)) p++;
			if (*p && *p != '#') fn(arg, ln, p, 0);
		}
	}
}

int conf_kv(char *line, char **k, char **v)
{
	char *eq = strchr(line, '=');
	if (!eq) return -1;
	char *ke = eq;
	while (ke > line && isspace((unsigned char)ke[-1])) ke--;
	*ke = 0;
	for (eq++; isspace((unsigned char)*eq);) eq++;
	*k = line, *v = eq;
	return 0;
}

int conf_read(const char *path, char *buf, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r = 0;
	if (fd < 0) return -1;
	for (*len = 0; *len < cap && (r = read(fd, buf + *len, cap - *len)) > 0;) *len += (size_t)r;
	int e = errno;
	close(fd);
	if (r < 0) return errno = e, -1;
	return *len == cap ? (errno = EFBIG, -1) : 0;
}

struct svc_conf *conf_parse_buf(const char *file, const char *name, const char *buf,
				size_t len, conf_report_fn *report, void *arg)
{
	struct svc_conf *c = calloc(1, sizeof *c);
	if (!c) return 0;
	c->stop_timeout_ms = 5000;
	c->start_timeout_ms = -1; /* the default depends on the type */
	c->trigger_burst = 20; /* systemd's TriggerLimitBurst and ...IntervalSec */
	c->trigger_interval_ms = 2000;
	c->backoff_ms = 100;
	c->backoff_max_ms = 30000;
	c->backoff_reset_ms = 10000;
	c->log_max = 1048576;
	c->restart = (enum restart)-1;
	struct ctx x = {c, file, 0, report, arg, 0, 0};
	c->name = sdup(&x, name);
	c->file = sdup(&x, file);
	if (!conf_name_ok(name)) err(&x, "bad service name '%s'", name);
	conf_lines(buf, len, on_line, &x);
	x.line = 0;
	if (!c->argc && !(x.seen & (1u << K_COMMAND))) err(&x, "missing 'command'");
	else if (!c->argc && c->errors == 0) err(&x, "command: no program named");
	if (c->lazy && !c->nlisten) {
		x.line = x.activate_line;
		err(&x, "activate = connect needs a 'listen' line");
	}
	if ((int)c->restart == -1) c->restart = c->oneshot ? R_NEVER : R_ALWAYS;
	/* A oneshot may legitimately run long (as in systemd): no timeout unless asked. */
	if (c->start_timeout_ms < 0) c->start_timeout_ms = c->oneshot ? 0 : 90000;
	if (c->backoff_max_ms < c->backoff_ms) c->backoff_max_ms = c->backoff_ms;
	return c;
}

struct svc_conf *conf_parse_file(const char *path, const char *name, conf_report_fn *report,
				 void *arg)
{
	char buf[65536];
	size_t len;
	if (conf_read(path, buf, sizeof buf, &len)) {
		const char *why = errno == EFBIG ? "file too large" : strerror(errno);
		struct svc_conf *c = conf_parse_buf(path, name, "command = /", 11, 0, 0);
		if (!c) return 0;
		char m[512];
		snprintf(m, sizeof m, "%s: unable to read: %s", path, why);
		c->errors = 1;
		if (report) report(arg, m);
		return c;
	}
	return conf_parse_buf(path, name, buf, len, report, arg);
}

void conf_free(struct svc_conf *c)
{
	if (!c) return;
	free(c->name);
	free(c->file);
	if (c->argc) free(c->argv[0]);
	for (int i = 0; i < c->nenv; i++) free(c->env[i]);
	free(c->cwd);
	free(c->user);
	free(c->group);
	for (int i = 0; i < c->ndepends; i++) free(c->depends[i]);
	for (int i = 0; i < c->nafter; i++) free(c->after[i]);
	for (int i = 0; i < c->nlisten; i++) free(c->listen[i].addr), free(c->listen[i].name);
	free(c);
}
