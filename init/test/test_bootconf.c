/* bootconf_parse_buf(): defaults, every key, one row per kind of bad line; the
 * /proc/cmdline and os-release readers. */
#include <errno.h>
#include <stdlib.h>

#include "bootconf.h"
#include "test.h"

static char errs[8][256];
static int nerrs;

static void collect(void *arg, const char *m)
{
	(void)arg;
	if (nerrs < 8) snprintf(errs[nerrs++], sizeof errs[0], "%s", m);
}

static struct boot_conf b;

static void parse(const char *text)
{
	nerrs = 0;
	bootconf_free(&b);
	bootconf_parse_buf(&b, "etc/boot.conf", text, strlen(text), collect, 0);
}

static void test_defaults(void)
{
	parse("# nothing set\n\n");
	CHECK(nerrs == 0 && b.errors == 0, "empty file: %d errors", nerrs);
	CHECK(b.health.argc == 0, "no health command by default");
	CHECK(b.on_good.argc == 2, "on_good argc %d", b.on_good.argc);
	CHECK_STR(b.on_good.argv[0], "icenet-update", "on_good program");
	CHECK_STR(b.on_good.argv[1], "mark-good", "on_good argument");
	CHECK_STR(b.on_bad.argv[1], "mark-bad", "on_bad argument");
	CHECK(b.timeout_ms == 120000, "timeout %ld", b.timeout_ms);
	CHECK(b.health_timeout_ms == 30000, "health_timeout %ld", b.health_timeout_ms);
	CHECK(b.watchdog_s == 15, "watchdog %ld", b.watchdog_s);
}

static void test_every_key(void)
{
	parse("health = /usr/bin/check --url \"http://127.0.0.1/ok\" 'a b'\n"
	      "  timeout = 2m  \n"
	      "health_timeout=500ms\n"
	      "on_good = /bin/touch /run/good\n"
	      "on_bad = /bin/sh -c 'echo bad'\n"
	      "watchdog = 10s\n");
	CHECK(nerrs == 0 && b.errors == 0, "good file: %d errors, first: %s", nerrs, errs[0]);
	CHECK(b.health.argc == 4, "health argc %d", b.health.argc);
	CHECK_STR(b.health.argv[2], "http://127.0.0.1/ok", "double quotes");
	CHECK_STR(b.health.argv[3], "a b", "single quotes");
	CHECK(b.health.argv[4] == 0, "argv ends with NULL");
	CHECK(b.timeout_ms == 120000, "timeout 2m: %ld", b.timeout_ms);
	CHECK(b.health_timeout_ms == 500, "health_timeout: %ld", b.health_timeout_ms);
	CHECK_STR(b.on_good.argv[1], "/run/good", "on_good");
	CHECK_STR(b.on_bad.argv[2], "echo bad", "on_bad");
	CHECK(b.watchdog_s == 10, "watchdog %ld", b.watchdog_s);
	parse("watchdog = off\ntimeout = 7\n");
	CHECK(nerrs == 0 && b.watchdog_s == 0, "watchdog = off: %ld", b.watchdog_s);
	CHECK(b.timeout_ms == 7000, "bare number is seconds: %ld", b.timeout_ms);
}

static void test_bad_lines(void)
{
	static const struct { const char *text, *err; } rows[] = {
		{"health /bin/true\n", "etc/boot.conf:1: expected 'key = value'"},
		{"\n# c\nhealht = /bin/true\n",
		 "etc/boot.conf:3: unknown key 'healht' (health, timeout, health_timeout, on_good, on_bad, watchdog)"},
		{"timeout =\n", "etc/boot.conf:1: empty value for 'timeout'"},
		{"timeout = 1m\ntimeout = 2m\n", "etc/boot.conf:2: duplicate key 'timeout'"},
		{"timeout = soon\n", "etc/boot.conf:1: timeout: bad duration 'soon' (like 30s, 2m; not 0)"},
		{"health_timeout = 0\n",
		 "etc/boot.conf:1: health_timeout: bad duration '0' (like 30s, 2m; not 0)"},
		{"health = /bin/check \"oops\n", "etc/boot.conf:1: health: unterminated quote"},
		{"watchdog = 1500ms\n",
		 "etc/boot.conf:1: watchdog: bad value '1500ms' (whole seconds from 1s to 1h, like 15s, or off)"},
		{"watchdog = 2h\n",
		 "etc/boot.conf:1: watchdog: bad value '2h' (whole seconds from 1s to 1h, like 15s, or off)"},
		{"on_good = ''\n", "etc/boot.conf: on_good: no program named"},
	};
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		parse(rows[i].text);
		CHECK(nerrs == 1 && b.errors == 1, "row %zu: %d errors", i, nerrs);
		CHECK_STR(errs[0], rows[i].err, rows[i].text);
	}
	/* every bad line is reported, not just the first; good lines still count */
	parse("x\ntimeout = 5s\ny = 1\n");
	CHECK(nerrs == 2 && b.timeout_ms == 5000, "two bad lines: %d errors", nerrs);
	CHECK_STR(errs[1], "etc/boot.conf:3: unknown key 'y' (health, timeout, health_timeout, on_good, on_bad, watchdog)", "second");
	/* a bad command keeps the default */
	parse("on_bad = 'x\n");
	CHECK_STR(b.on_bad.argv[0], "icenet-update", "on_bad default kept");
}

static void test_file(void)
{
	nerrs = 0;
	bootconf_free(&b);
	int r = bootconf_parse_file(&b, "/nonexistent/boot.conf", collect, 0);
	CHECK(r == -1 && errno == ENOENT, "missing file: %d", r);
	CHECK(nerrs == 0 && b.errors == 0, "a missing file is no error: %d", nerrs);
	CHECK(b.timeout_ms == 120000 && b.on_good.argc == 2, "missing file: defaults");
}

static void test_cmdline(void)
{
	char v[16];
	const char *cl = "console=ttyS0 root=PARTUUID=x-02 icenet.slot=b icenet.trial=1\n";
	CHECK(boot_cmdline_arg(cl, "icenet.slot", v, sizeof v) && !strcmp(v, "b"), "slot: %s", v);
	CHECK(boot_cmdline_arg(cl, "icenet.trial", v, sizeof v) && !strcmp(v, "1"), "trial: %s", v);
	CHECK(!boot_cmdline_arg(cl, "icenet.data", v, sizeof v), "absent");
	CHECK(boot_cmdline_flag("ro quiet\n", "quiet") && boot_cmdline_flag("quiet", "quiet"), "quiet");
	CHECK(!boot_cmdline_flag("quiet=1 unquiet loglevel=7", "quiet"), "no bare quiet");
	CHECK(!boot_cmdline_arg("xicenet.slot=a", "icenet.slot", v, sizeof v), "whole words only");
	CHECK(boot_cmdline_arg("icenet.slot=a icenet.slot=b", "icenet.slot", v, sizeof v) &&
		      !strcmp(v, "b"),
	      "the last one counts: %s", v);
	CHECK(!boot_cmdline_arg("icenet.slot=0123456789abcdefXYZ", "icenet.slot", v, sizeof v),
	      "too long for the buffer");
	CHECK(boot_watchdog_value("off") == 0, "off");
	CHECK(boot_watchdog_value("15") == 15 && boot_watchdog_value("15s") == 15, "15");
	CHECK(boot_watchdog_value("1m") == 60, "1m");
	CHECK(boot_watchdog_value("0") == -1 && boot_watchdog_value("1500ms") == -1 &&
		      boot_watchdog_value("2h") == -1 && boot_watchdog_value("on") == -1,
	      "bad watchdog values");
	const char *osr = "NAME=\"IceNet-OS\"\nID=icenet\nVERSION_ID=0.2\nPRETTY_NAME=\"IceNet-OS 0.2\"\n";
	char ver[32];
	CHECK(boot_os_release(osr, "VERSION_ID", ver, sizeof ver) && !strcmp(ver, "0.2"), "%s", ver);
	CHECK(boot_os_release(osr, "NAME", ver, sizeof ver) && !strcmp(ver, "IceNet-OS"), "quotes: %s", ver);
	CHECK(!boot_os_release(osr, "VERSION", ver, sizeof ver), "VERSION is not VERSION_ID");
}

int main(void)
{
	test_defaults();
	test_every_key();
	test_bad_lines();
	test_file();
	test_cmdline();
	bootconf_free(&b);
	return test_done("test_bootconf");
}
