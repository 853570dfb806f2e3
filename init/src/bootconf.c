#include "bootconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctx {
	struct boot_conf *b;
	const char *file;
	int line;
	unsigned seen; /* bit per key: each may appear once */
	conf_report_fn *report;
	void *arg;
};

/* Report "file:line: reason"; returns -1, for `return err(...)`. */
static int err(struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int err(struct ctx *x, const char *fmt, ...)
{
	char buf[512];
	int n = x->line ? snprintf(buf, sizeof buf, "%s:%d: ", x->file, x->line)
			: snprintf(buf, sizeof buf, "%s: ", x->file);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	va_end(ap);
	x->b->errors++;
	if (x->report) x->report(x->arg, buf);
	return -1;
}

/* Replace *c with the words of v: 0, or the conf_split error (-1 quote, -2 too many). */
static int set_cmd(struct cmd *c, const char *v)
{
	struct cmd n = {0};
	int r = conf_split(v, n.argv, MAXARGS, &n.buf);
	if (r < 0) {
		free(n.buf);
		return r;
	}
	free(c->buf);
	*c = n;
	c->argc = r;
	return 0;
}

static const char *const keys[] = {"health", "timeout", "health_timeout", "on_good", "on_bad",
				   "watchdog", 0};
enum { K_HEALTH, K_TIMEOUT, K_HEALTH_TIMEOUT, K_ON_GOOD, K_ON_BAD, K_WATCHDOG };

static int parse_line(struct ctx *x, char *text)
{
	struct boot_conf *b = x->b;
	char *k, *v;
	int key = 0;
	if (conf_kv(text, &k, &v)) return err(x, "expected 'key = value'");
	while (keys[key] && strcmp(keys[key], k)) key++;
	if (!keys[key]) return err(x, "unknown key '%s' (health, timeout, health_timeout, on_good, on_bad, watchdog)", k);
	if (!*v) return err(x, "empty value for '%s'", k);
	if (x->seen & (1u << key)) return err(x, "duplicate key '%s'", k);
	x->seen |= 1u << key;
	struct cmd *c = key == K_HEALTH ? &b->health : key == K_ON_GOOD ? &b->on_good
		      : key == K_ON_BAD ? &b->on_bad : 0;
	long ms;
	if (c) {
		int r = set_cmd(c, v);
		if (r == -1) err(x, "%s: unterminated quote", k);
		else if (r) err(x, "%s: too many arguments (max %d)", k, MAXARGS);
	} else if (key == K_WATCHDOG) {
		long s = boot_watchdog_value(v);
		if (s < 0) err(x, "watchdog: bad value '%s' (whole seconds from 1s to 1h, like 15s, or off)", v);
		else b->watchdog_s = s;
	} else if (conf_duration(v, &ms) || !ms) {
		err(x, "%s: bad duration '%s' (like 30s, 2m; not 0)", k, v);
	} else *(key == K_TIMEOUT ? &b->timeout_ms : &b->health_timeout_ms) = ms;
	return 0;
}

static void on_line(void *arg, int line, char *text, const char *why)
{
	struct ctx *x = arg;
	x->line = line;
	if (why) err(x, "%s", why);
	else parse_line(x, text);
}

int bootconf_parse_buf(struct boot_conf *b, const char *file, const char *buf, size_t len,
		       conf_report_fn *report, void *arg)
{
	memset(b, 0, sizeof *b);
	b->timeout_ms = 120000;
	b->health_timeout_ms = 30000;
	b->watchdog_s = 15; /* the most the Pi's bcm2835 takes */
	if (set_cmd(&b->on_good, "icenet-update mark-good") || set_cmd(&b->on_bad, "icenet-update mark-bad"))
		return -1;
	struct ctx x = {b, file, 0, 0, report, arg};
	conf_lines(buf, len, on_line, &x);
	/* `on_good =` with only quotes names no program: the gate could never say so */
	for (int i = 0; i < 2; i++) {
		struct cmd *c = i ? &b->on_bad : &b->on_good;
		if (!c->argc || !*c->argv[0]) {
			x.line = 0;
			err(&x, "%s: no program named", i ? "on_bad" : "on_good");
			set_cmd(c, i ? "icenet-update mark-bad" : "icenet-update mark-good");
		}
	}
	return 0;
}

int bootconf_parse_file(struct boot_conf *b, const char *path, conf_report_fn *report,
			void *arg)
{
	char buf[16384];
	size_t len;
	if (conf_read(path, buf, sizeof buf, &len)) {
		int e = errno;
		if (bootconf_parse_buf(b, path, "", 0, 0, 0)) return -1;
		return errno = e, -1;
	}
	return bootconf_parse_buf(b, path, buf, len, report, arg);
}

void bootconf_free(struct boot_conf *b)
{
	free(b->health.buf);
	free(b->on_good.buf);
	free(b->on_bad.buf);
	memset(b, 0, sizeof *b);
}

long boot_watchdog_value(const char *v)
{
	long ms;
	if (!strcmp(v, "off")) return 0;
	/* WDIOC_SETTIMEOUT takes whole seconds */
	if (conf_duration(v, &ms) || ms % 1000 || ms < 1000 || ms > 3600000) return -1;
	return ms / 1000;
}

int boot_os_release(const char *text, const char *key, char *out, size_t cap)
{
	size_t l = strlen(key);
	for (const char *p = text; *p; p += strcspn(p, "\n"), p += *p == '\n') {
		size_t w = strcspn(p, "\n");
		if (w <= l || strncmp(p, key, l) || p[l] != '=') continue;
		const char *v = p + l + 1;
		size_t n = w - l - 1;
		if (n >= 2 && (*v == '"' || *v == '\'') && v[n - 1] == *v) v++, n -= 2;
		if (n >= cap) return 0;
		memcpy(out, v, n);
		out[n] = 0;
		return 1;
	}
	return 0;
}
