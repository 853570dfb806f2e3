/* /etc/icenet/boot.conf: the boot health gate and the hardware watchdog. Same syntax
 * and `file:line: reason` errors as a service file. */
#ifndef ICENET_BOOTCONF_H
#define ICENET_BOOTCONF_H

#include "cmdline.h"
#include "conf.h"

#define BOOTCONF_PATH "/etc/icenet/boot.conf"

/* A command as `command =` takes it: words in one buffer, no shell. */
struct cmd {
	char *argv[MAXARGS + 1];
	int argc; /* 0: none */
	char *buf;
};

struct boot_conf {
	struct cmd health, on_good, on_bad;
	long timeout_ms; /* the whole gate, from init's start */
	long health_timeout_ms; /* the health command alone */
	long watchdog_s; /* 0: leave the watchdog alone */
	int errors; /* bad lines reported */
};

/* Defaults, then the file's lines. Never fails but for ENOMEM (-1). */
int bootconf_parse_buf(struct boot_conf *b, const char *file, const char *buf, size_t len,
		       conf_report_fn *report, void *arg);
/* Read and parse; -1 with errno when unreadable (ENOENT: no file), b holding the defaults. */
int bootconf_parse_file(struct boot_conf *b, const char *path, conf_report_fn *report,
			void *arg);
void bootconf_free(struct boot_conf *b);

/* A watchdog timeout ("15s", "15", "off") in seconds: 0 off, -1 not valid. */
long boot_watchdog_value(const char *v);
/* The value of KEY=value (quotes removed) in os-release text: 1 found, 0 not. */
int boot_os_release(const char *text, const char *key, char *out, size_t cap);

#endif
