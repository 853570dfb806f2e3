/* icenet-update: the one program that reads and writes the A/B boot state of an IceNet
 * device and installs signed update bundles into the inactive slot. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "bootstate.h"
#include "conf.h"
#include "devices.h"
#include "install.h"
#include "util.h"

static const char SLOT[] = "ab";

/* One icenet-update at a time: the boot gate's mark-good, a user's status and an install
 * each mount the boot partition and change its state; run together, one would unmount it
 * under another (EBUSY, or a state file read half-written). Held until exit. The lock is
 * on /run (tmpfs), so that a full or read-only data partition cannot stop a mark-good. */
static int lock_state(const struct conf *c)
{
	int fd = open(c->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX)) {
		msg_sys("unable to lock %s", c->lock);
		return -1;
	}
	return 0;
}

static void usage(void)
{
	fputs("usage: icenet-update [-c CONFIG] status [--json]\n"
	      "       icenet-update [-c CONFIG] install [--allow-downgrade] FILE|-|http://URL\n"
	      "       icenet-update [-c CONFIG] mark-good|mark-bad\n"
	      "CONFIG defaults to $ICENET_UPDATE_CONF, else /etc/icenet/update.conf\n",
	      stderr);
}

/* The state of the slot that is not running: its trial, else its installed record. */
static const char *other_state(const struct bootstate *s, int other, int recorded)
{
	if (s->trial == other)
		return s->tries > 0 ? "trial-armed" : "failed-trial";
	if (!recorded)
		return "empty";
	return s->present[other] ? "good" : "installed-not-armed";
}

static void kv(int json, int *first, const char *k, const char *v)
{
	if (!json) {
		printf("%s=%s\n", k, v);
		return;
	}
	printf("%s\"%s\":\"", *first ? "{" : ",", k);
	for (const char *p = v; *p; p++)
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if ((unsigned char)*p >= 0x20)
			putchar(*p);
	putchar('"');
	*first = 0;
}

static int status(struct conf *c, int json)
{
	int trial, ours, first = 1;
	int cur = running_slot(c, &trial);
	struct bootstate s;
	char v[2][64], buf[64], last[1024];
	unsigned long long serial[2];
	int rec[2];
	if (boot_mount(c, &ours))
		return EXIT_SYSTEM;
	int r = bs_read(c, c->boot_mount, &s);
	for (int i = 0; i < 2; i++)
		rec[i] = slot_record(c->boot_mount, i, v[i], sizeof v[i], &serial[i]);
	boot_unmount(c, ours);
	if (r)
		return EXIT_SYSTEM;
	last_install_read(c, last, sizeof last);
	kv(json, &first, "board", c->board);
	kv(json, &first, "bootloader", c->loader == LOADER_UBOOT ? "u-boot" : "systemd-boot");
	snprintf(buf, sizeof buf, "%c", cur < 0 ? '?' : SLOT[cur]);
	kv(json, &first, "slot", cur < 0 ? "unknown" : buf);
	if (cur >= 0) {
		kv(json, &first, "version", rec[cur] ? v[cur] : "unknown");
		snprintf(buf, sizeof buf, "%llu", serial[cur]);
		kv(json, &first, "serial", buf);
		/* The boot state, not icenet.trial=1: a trial boot that passed its gate is committed. */
		kv(json, &first, "state", s.good != cur || s.trial == cur ? "trial" : "committed");
		int o = !cur;
		snprintf(buf, sizeof buf, "%c", SLOT[o]);
		kv(json, &first, "other", buf);
		kv(json, &first, "other_state", other_state(&s, o, rec[o]));
		kv(json, &first, "other_version", rec[o] ? v[o] : "");
	}
	snprintf(buf, sizeof buf, "%c", SLOT[s.good]);
	kv(json, &first, "good", buf);
	snprintf(buf, sizeof buf, "%d", s.trial >= 0 ? s.tries : 0);
	kv(json, &first, "tries", buf);
	/* An install still marked in progress was cut short. */
	const char *ip = "result=in-progress";
	if (!strncmp(last, ip, strlen(ip))) {
		char cut[1100];
		snprintf(cut, sizeof cut, "result=interrupted%s", last + strlen(ip));
		memcpy(last, cut, sizeof last - 1);
		last[sizeof last - 1] = 0;
	}
	kv(json, &first, "last_install", last[0] ? last : "none");
	if (json)
		puts("}");
	return 0;
}

static int mark(struct conf *c, int good)
{
	int trial, ours;
	int cur = running_slot(c, &trial);
	struct bootstate s;
	if (cur < 0) {
		msg("cannot tell the running slot: no icenet.slot=a|b in %s", c->cmdline);
		return EXIT_REFUSED;
	}
	if (boot_mount(c, &ours))
		return EXIT_SYSTEM;
	int r = bs_read(c, c->boot_mount, &s);
	int on_trial = trial || s.good != cur || s.trial == cur;
	if (!r && good) {
		r = bs_commit(c, c->boot_mount, cur);
		/* Every boot's gate runs this: a committed slot says nothing. */
		if (!r && on_trial)
			msg("slot %c is committed: it boots from now on", SLOT[cur]);
	} else if (!r && on_trial) {
		r = bs_fail(c, c->boot_mount, cur);
		if (!r) {
			last_install_write(c, "result=failed-trial slot=%c", SLOT[cur]);
			msg("trial of slot %c failed: rebooting into slot %c", SLOT[cur], SLOT[s.good]);
		}
	} else if (!r)
		msg("slot %c is committed: mark-bad only logs (health check failed)", SLOT[cur]);
	boot_unmount(c, ours);
	if (r)
		return EXIT_SYSTEM;
	if (!good && on_trial) {
		if (!c->reboot)
			msg("not rebooting: reboot = no in the config");
		else if (kill(1, SIGTERM)) /* what busybox reboot does; icenet-init reboots */
			msg_sys("unable to ask init to reboot");
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *conf_path = getenv("ICENET_UPDATE_CONF");
	struct conf c;
	int i = 1;
	if (!conf_path || !*conf_path)
		conf_path = "/etc/icenet/update.conf";
	if (i + 1 < argc && !strcmp(argv[i], "-c")) {
		conf_path = argv[i + 1];
		i += 2;
	}
	if (i >= argc) {
		usage();
		return EXIT_USAGE;
	}
	const char *cmd = argv[i++];
	int json = 0, downgrade = 0;
	const char *source = 0;
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--json") && !strcmp(cmd, "status"))
			json = 1;
		else if (!strcmp(argv[i], "--allow-downgrade") && !strcmp(cmd, "install"))
			downgrade = 1;
		else if (!source && !strcmp(cmd, "install") && (argv[i][0] != '-' || !argv[i][1]))
			source = argv[i];
		else {
			msg("%s: unexpected argument \"%s\"", cmd, argv[i]);
			usage();
			return EXIT_USAGE;
		}
	}
	int known = !strcmp(cmd, "status") || !strcmp(cmd, "install") || !strcmp(cmd, "mark-good") ||
		    !strcmp(cmd, "mark-bad");
	if (!known || (!strcmp(cmd, "install") && !source)) {
		usage();
		return EXIT_USAGE;
	}
	if (conf_load(&c, conf_path) || lock_state(&c))
		return EXIT_SYSTEM;
	if (!strcmp(cmd, "status"))
		return status(&c, json);
	if (!strcmp(cmd, "install"))
		return install(&c, source, downgrade);
	return mark(&c, !strcmp(cmd, "mark-good"));
}
