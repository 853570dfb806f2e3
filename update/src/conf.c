#include "conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof *c);
	c->loader = -1;
	snprintf(c->boot_mount, sizeof c->boot_mount, "/boot");
	snprintf(c->uboot_env, sizeof c->uboot_env, "icenet.env");
	snprintf(c->uboot_env_backup, sizeof c->uboot_env_backup, "icenet.env.bak");
	c->uboot_env_size = 0x4000;
	c->tries = 1;
	snprintf(c->key, sizeof c->key, "/etc/icenet/update.pub");
	snprintf(c->state_dir, sizeof c->state_dir, "/var/lib/icenet-update");
	snprintf(c->lock, sizeof c->lock, "/run/icenet-update.lock");
	snprintf(c->cmdline, sizeof c->cmdline, "/proc/cmdline");
	c->reboot = 1;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

static int set_str(char *dst, size_t size, const char *v, const char *where, int line, const char *k)
{
	if (strlen(v) >= size) {
		msg("%s:%d: %s: value too long (at most %zu bytes)", where, line, k, size - 1);
		return -1;
	}
	strcpy(dst, v);
	return 0;
}

static int set_num(long *dst, const char *v, long min, long max, const char *where, int line,
		   const char *k)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 0);
	if (errno || *end || end == v || n < min || n > max) {
		msg("%s:%d: %s: \"%s\" is not a number from %ld to %ld", where, line, k, v, min, max);
		return -1;
	}
	*dst = n;
	return 0;
}

static int set(struct conf *c, const char *k, const char *v, const char *where, int line)
{
	long n;
#define STR(name, field) \
	if (!strcmp(k, name)) \
		return set_str(c->field, sizeof c->field, v, where, line, k)
	STR("board", board);
	STR("boot_device", boot_device);
	STR("root_a_device", root_device[0]);
	STR("root_b_device", root_device[1]);
	STR("boot_mount", boot_mount);
	STR("uboot_env", uboot_env);
	STR("uboot_env_backup", uboot_env_backup);
	STR("uboot_env_defaults", uboot_env_defaults);
	STR("key", key);
	STR("state_dir", state_dir);
	STR("lock", lock);
	STR("cmdline", cmdline);
#undef STR
	if (!strcmp(k, "bootloader")) {
		if (!strcmp(v, "u-boot"))
			c->loader = LOADER_UBOOT;
		else if (!strcmp(v, "systemd-boot"))
			c->loader = LOADER_SDBOOT;
		else {
			msg("%s:%d: bootloader: \"%s\" is not u-boot or systemd-boot", where, line, v);
			return -1;
		}
		return 0;
	}
	if (!strcmp(k, "uboot_env_size")) {
		if (set_num(&n, v, 256, 1 << 24, where, line, k))
			return -1;
		c->uboot_env_size = (size_t)n;
		return 0;
	}
	if (!strcmp(k, "tries")) {
		if (set_num(&n, v, 1, 9, where, line, k))
			return -1;
		c->tries = (int)n;
		return 0;
	}
	if (!strcmp(k, "reboot")) {
		if (strcmp(v, "yes") && strcmp(v, "no")) {
			msg("%s:%d: reboot: \"%s\" is not yes or no", where, line, v);
			return -1;
		}
		c->reboot = !strcmp(v, "yes");
		return 0;
	}
	msg("%s:%d: unknown key \"%s\"", where, line, k);
	return -1;
}

int conf_parse(struct conf *c, const char *text, const char *where)
{
	char line[1024];
	int n = 0;
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		n++;
		if (len >= sizeof line) {
			msg("%s:%d: line too long", where, n);
			return -1;
		}
		memcpy(line, p, len);
		line[len] = 0;
		p += len + (nl != 0);
		char *s = trim(line);
		if (!*s || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			msg("%s:%d: expected `key = value`", where, n);
			return -1;
		}
		*eq = 0;
		if (set(c, trim(s), trim(eq + 1), where, n))
			return -1;
	}
	if (!c->board[0]) {
		msg("%s: board: missing", where);
		return -1;
	}
	if ((int)c->loader < 0) {
		msg("%s: bootloader: missing (u-boot or systemd-boot)", where);
		return -1;
	}
	return 0;
}

int conf_load(struct conf *c, const char *path)
{
	static char text[16384];
	conf_defaults(c);
	if (read_small(path, text, sizeof text) < 0) {
		msg_sys("unable to read %s", path);
		return -1;
	}
	return conf_parse(c, text, path);
}
