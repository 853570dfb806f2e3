/* conf_parse_buf(): defaults, every key, and one row per kind of bad line. */
#include <stdlib.h>

#include "conf.h"
#include "test.h"

static char errs[8][256];
static int nerrs;

static void collect(void *arg, const char *m)
{
	(void)arg;
	if (nerrs < 8) snprintf(errs[nerrs++], sizeof errs[0], "%s", m);
}

static struct svc_conf *parse(const char *text)
{
	nerrs = 0;
	return conf_parse_buf("svc/web", "web", text, strlen(text), collect, 0);
}

static void test_good(void)
{
	struct svc_conf *c = parse(
		"# a web server\n"
		"command = /usr/sbin/httpd -f -p \"80 81\" 'a b' c\\ d\n"
		"env = A=1\nenv = B=two words\n"
		"cwd = /srv\nuser = www\ngroup = www\n"
		"depends = net  syslog\nafter = time\n"
		"restart = on-failure\nready = sd-notify\nstop_timeout = 500ms\n"
		"backoff = 1ms\nbackoff_max = 2s\nbackoff_reset = 1m\n"
		"log = console\nlog_max = 64K\n"
		"listen = tcp 127.0.0.1:8080 name=http\n"
		"listen = udp [::1]:53\n"
		"listen = unix /run/web.sock mode=0660\n"
		"activate = connect\nstart_timeout = 1m\ntrigger_limit = 5/10s\n"
		"   \n\t# indented comment\n");
	CHECK(nerrs == 0 && c->errors == 0, "good file: %d errors, first: %s", nerrs, errs[0]);
	CHECK(c->argc == 6, "argc %d", c->argc);
	CHECK_STR(c->argv[3], "80 81", "double quotes");
	CHECK_STR(c->argv[4], "a b", "single quotes");
	CHECK_STR(c->argv[5], "c d", "backslash");
	CHECK(c->argv[6] == 0, "argv ends with NULL");
	CHECK(c->nenv == 2, "nenv %d", c->nenv);
	CHECK_STR(c->env[1], "B=two words", "env");
	CHECK_STR(c->cwd, "/srv", "cwd");
	CHECK(c->ndepends == 2 && !strcmp(c->depends[1], "syslog"), "depends");
	CHECK(c->nafter == 1, "after");
	CHECK(c->restart == R_ON_FAILURE && c->ready == RD_SD_NOTIFY, "restart/ready");
	CHECK(c->stop_timeout_ms == 500 && c->backoff_ms == 1 && c->backoff_max_ms == 2000 &&
		      c->backoff_reset_ms == 60000,
	      "durations");
	CHECK(c->log == LOG_CONSOLE && c->log_max == 65536, "log");
	CHECK(c->nlisten == 3 && c->listen[0].type == L_TCP && c->listen[1].type == L_UDP &&
		      c->listen[2].type == L_UNIX && c->listen[2].mode == 0660,
	      "listen");
	CHECK_STR(c->listen[0].name, "http", "listen name");
	CHECK_STR(c->listen[1].name, "web", "default listen name");
	CHECK(c->lazy == 1, "activate = connect");
	CHECK(c->start_timeout_ms == 60000, "start_timeout %ld", c->start_timeout_ms);
	CHECK(c->trigger_burst == 5 && c->trigger_interval_ms == 10000, "trigger_limit %d/%ld",
	      c->trigger_burst, c->trigger_interval_ms);
	conf_free(c);

	c = parse("command = /bin/true\ntype = oneshot\n");
	CHECK(c->errors == 0 && c->oneshot && c->restart == R_NEVER && c->ready == RD_STARTED &&
		      c->stop_timeout_ms == 5000 && c->backoff_ms == 100 &&
		      c->backoff_max_ms == 30000 && c->backoff_reset_ms == 10000 &&
		      c->log == LOG_FILE && c->log_max == 1048576 && c->start_timeout_ms == 0 &&
		      c->trigger_burst == 20 && c->trigger_interval_ms == 2000,
	      "defaults (a oneshot has no start_timeout)");
	conf_free(c);
	c = parse("command = /bin/true\n");
	CHECK(c->restart == R_ALWAYS && !c->oneshot, "longrun restarts always by default");
	CHECK(c->start_timeout_ms == 90000, "longrun start_timeout %ld", c->start_timeout_ms);
	conf_free(c);
	c = parse("command = /bin/true\ntype = oneshot\nstart_timeout = 2s\n");
	CHECK(c->start_timeout_ms == 2000, "oneshot with start_timeout %ld", c->start_timeout_ms);
	conf_free(c);
	c = parse("command = /bin/true\nstart_timeout = 0\n");
	CHECK(c->errors == 0 && c->start_timeout_ms == 0, "start_timeout = 0: none");
	conf_free(c);
}

static void test_bad(void)
{
	static const struct { const char *text, *want; } rows[] = {
		{"command = /bin/true\nfoo = 1\n", "svc/web:2: unknown key 'foo'"},
		{"command = /bin/true\njust words\n", "svc/web:2: expected 'key = value'"},
		{"command = /bin/true\ncwd =\n", "svc/web:2: empty value for 'cwd'"},
		{"command = /bin/true\ncommand = /bin/false\n", "svc/web:2: duplicate key 'command'"},
		{"command = /bin/sh -c \"echo\n", "svc/web:1: command: unterminated quote"},
		{"", "svc/web: missing 'command'"},
		{"command = /bin/true\ncwd = srv\n", "svc/web:2: cwd: must be an absolute path"},
		{"command = /bin/true\nrestart = sometimes\n",
		 "svc/web:2: restart: 'sometimes' is not always, on-failure or never"},
		{"command = /bin/true\nready = maybe\n",
		 "svc/web:2: ready: 'maybe' is not started, notify-fd or sd-notify"},
		{"command = /bin/true\ntype = daemon\n", "svc/web:2: type: 'daemon' is not longrun or oneshot"},
		{"command = /bin/true\nstop_timeout = 5h\n",
		 "svc/web:2: stop_timeout: bad duration '5h' (like 500ms, 5s, 1m)"},
		{"command = /bin/true\nstart_timeout = soon\n",
		 "svc/web:2: start_timeout: bad duration 'soon' (like 500ms, 5s, 1m)"},
		{"command = /bin/true\ntrigger_limit = 20\n",
		 "svc/web:2: trigger_limit: bad value '20' (starts/interval, like 20/2s)"},
		{"command = /bin/true\ntrigger_limit = 0/2s\n",
		 "svc/web:2: trigger_limit: bad value '0/2s' (starts/interval, like 20/2s)"},
		{"command = /bin/true\ntrigger_limit = 5/0\n",
		 "svc/web:2: trigger_limit: bad value '5/0' (starts/interval, like 20/2s)"},
		{"command = /bin/true\nbackoff = -1\n",
		 "svc/web:2: backoff: bad duration '-1' (like 500ms, 5s, 1m)"},
		{"command = /bin/true\nlog = syslog\n", "svc/web:2: log: 'syslog' is not file, console or none"},
		{"command = /bin/true\nlog_max = 1G\n",
		 "svc/web:2: log_max: bad size '1G' (like 65536, 64K, 1M)"},
		{"command = /bin/true\nenv = 1A=b\n", "svc/web:2: env: expected NAME=value"},
		{"command = /bin/true\nenv = novalue\n", "svc/web:2: env: expected NAME=value"},
		{"command = /bin/true\ndepends = a b/c\n", "svc/web:2: depends: bad service name 'b/c'"},
		{"command = /bin/true\nafter = web\n", "svc/web:2: after: a service cannot wait for itself"},
		{"command = /bin/true\nuser = a b\n", "svc/web:2: user: bad name 'a b'"},
		{"command = /bin/true\nlisten = sctp 1.2.3.4:5\n",
		 "svc/web:2: listen: unknown socket type 'sctp' (want tcp, udp or unix)"},
		{"command = /bin/true\nlisten = tcp 1.2.3.4:99999\n",
		 "svc/web:2: listen: bad address '1.2.3.4:99999' (want IPv4:PORT or [IPv6]:PORT)"},
		{"command = /bin/true\nlisten = tcp localhost:80\n",
		 "svc/web:2: listen: bad address 'localhost:80' (want IPv4:PORT or [IPv6]:PORT)"},
		{"command = /bin/true\nlisten = unix run/x.sock\n",
		 "svc/web:2: listen: bad unix path 'run/x.sock' (absolute, under 108 bytes)"},
		{"command = /bin/true\nlisten = unix /x.sock mode=999\n",
		 "svc/web:2: listen: bad mode '999' (octal, like 0660)"},
		{"command = /bin/true\nlisten = tcp 0.0.0.0:80 color=red\n",
		 "svc/web:2: listen: bad option 'color=red'"},
		{"command = /bin/true\nlisten = tcp\n",
		 "svc/web:2: listen: expected 'tcp|udp ADDR:PORT' or 'unix PATH' [mode=0660] [name=NAME]"},
		{"command = /bin/true\nactivate = connect\n",
		 "svc/web:2: activate = connect needs a 'listen' line"},
		{"command = /bin/true\nactivate = later\n", "svc/web:2: activate: 'later' is not boot or connect"},
	};
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		struct svc_conf *c = parse(rows[i].text);
		CHECK(c->errors >= 1, "row %zu: no error for %s", i, rows[i].text);
		CHECK(nerrs >= 1 && !strcmp(errs[0], rows[i].want), "row %zu: got \"%s\", want \"%s\"", i,
		      nerrs ? errs[0] : "(none)", rows[i].want);
		conf_free(c);
	}
	/* Parsing goes on after an error: every bad line is reported. */
	struct svc_conf *c = parse("bad1 = x\ncommand = /bin/true\nbad2 = y\nrestart = x\n");
	CHECK(nerrs == 3 && c->errors == 3, "three errors, got %d", nerrs);
	CHECK_STR(errs[2], "svc/web:4: restart: 'x' is not always, on-failure or never", "third error");
	conf_free(c);
	nerrs = 0;
	c = conf_parse_buf("svc/.x", ".x", "command = /bin/true\n", 20, collect, 0);
	CHECK(nerrs == 1 && !strcmp(errs[0], "svc/.x: bad service name '.x'"), "bad name: %s", errs[0]);
	conf_free(c);
	nerrs = 0;
	c = conf_parse_file("/nonexistent/x", "x", collect, 0);
	CHECK(c->errors == 1 && !strcmp(errs[0], "/nonexistent/x: unable to read: No such file or directory"),
	      "unreadable: %s", errs[0]);
	conf_free(c);
}

int main(void)
{
	test_good();
	test_bad();
	return test_done("test_conf");
}
