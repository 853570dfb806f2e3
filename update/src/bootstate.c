#include "bootstate.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uenv.h"
#include "util.h"

static const char SLOT[] = "ab";

/* ---- U-Boot: the environment file on p1 ---- */

/* Read one copy: 1 read, 0 missing, -1 unreadable or damaged (*why says which). */
static int env_read_file(const struct conf *c, const char *path, struct uenv *e, const char **why)
{
	static char reason[256];
	FILE *f = fopen(path, "re");
	if (!f && errno == ENOENT)
		return 0;
	if (!f) {
		snprintf(reason, sizeof reason, "%s", strerror(errno));
		*why = reason;
		return -1;
	}
	uint8_t *img = malloc(c->uboot_env_size + 1);
	size_t n = img ? fread(img, 1, c->uboot_env_size + 1, f) : 0;
	fclose(f);
	int r = 1;
	if (!img) {
		*why = "out of memory";
		r = -1;
	} else if (n != c->uboot_env_size) {
		snprintf(reason, sizeof reason,
			 "%s%zu bytes, but uboot_env_size is %zu (CONFIG_ENV_SIZE of the U-Boot build)",
			 n > c->uboot_env_size ? "more than " : "", n > c->uboot_env_size ? n - 1 : n,
			 c->uboot_env_size);
		*why = reason;
		r = -1;
	} else if (uenv_parse(e, img, n)) {
		*why = "bad CRC: not a whole U-Boot environment";
		r = -1;
	}
	free(img);
	return r;
}

/* The boot state: the file, else its backup (as boot.scr reads them), else a new one. */
static int env_load(const struct conf *c, const char *boot, struct uenv *e, int for_write)
{
	char path[512], bak[512];
	const char *why = 0, *why_bak = 0;
	snprintf(path, sizeof path, "%s/%s", boot, c->uboot_env);
	snprintf(bak, sizeof bak, "%s/%s", boot, c->uboot_env_backup);
	if (uenv_init(e, c->uboot_env_size)) {
		msg("uboot_env_size %zu: out of range", c->uboot_env_size);
		return -1;
	}
	int r = env_read_file(c, path, e, &why);
	if (r == 1)
		return 0;
	int rb = c->uboot_env_backup[0] ? env_read_file(c, bak, e, &why_bak) : 0;
	if (r < 0 && rb == 1) {
		msg("warning: %s: %s; using %s", path, why, bak);
		return 0;
	}
	if (rb == 1)
		return 0;
	if (r < 0) {
		msg("%s: %s%s%s%s: refused", path, why, rb < 0 ? ", and " : "", rb < 0 ? bak : "",
		    rb < 0 ? ": damaged too" : "");
		uenv_free(e);
		return -1;
	}
	/* No file: the boot loader's default state (slot a good, no trial). */
	if (c->uboot_env_defaults[0]) {
		static char text[65536];
		if (read_small(c->uboot_env_defaults, text, sizeof text) < 0) {
			msg_sys("unable to read %s", c->uboot_env_defaults);
			return -1;
		}
		if (uenv_import_text(e, text)) {
			msg("%s: not `name=value` lines, or larger than uboot_env_size", c->uboot_env_defaults);
			return -1;
		}
	} else if (for_write && !strcmp(strrchr(path, '/') + 1, "uboot.env")) {
		/* U-Boot's own file replaces its built-in environment, bootcmd included. */
		msg("%s does not exist, and no uboot_env_defaults is configured: a new one would "
		    "replace U-Boot's built-in environment (bootcmd included)", path);
		return -1;
	}
	return 0;
}

/* Both copies, one after the other: a cut leaves one whole. */
static int env_store(const struct conf *c, const char *boot, struct uenv *e)
{
	char path[512];
	uint8_t *img = malloc(e->size);
	if (!img) {
		msg("out of memory");
		return -1;
	}
	uenv_image(e, img);
	int r = 0;
	for (int i = 0; i < 2 && !r; i++) {
		const char *name = i ? c->uboot_env_backup : c->uboot_env;
		if (!name[0])
			continue;
		snprintf(path, sizeof path, "%s/%s", boot, name);
		if ((r = replace_file(path, img, e->size)))
			msg_sys("unable to write %s", path);
	}
	free(img);
	return r;
}

static int slot_of(const char *v)
{
	return v && !strcmp(v, "a") ? 0 : v && !strcmp(v, "b") ? 1 : -1;
}

static int uboot_read(const struct conf *c, const char *boot, struct bootstate *s)
{
	struct uenv e;
	if (env_load(c, boot, &e, 0))
		return -1;
	int g = slot_of(uenv_get(&e, "icenet_good"));
	s->good = g < 0 ? 0 : g; /* the design's default: a */
	s->trial = slot_of(uenv_get(&e, "icenet_trial"));
	const char *t = uenv_get(&e, "icenet_tries");
	s->tries = s->trial >= 0 && t ? atoi(t) : 0;
	s->present[0] = s->present[1] = 1;
	uenv_free(&e);
	return 0;
}

/* Change the environment with fn and store it (only if fn changed something). */
static int uboot_edit(const struct conf *c, const char *boot, int slot,
		      int (*fn)(struct uenv *, int, const struct conf *))
{
	struct uenv e;
	if (env_load(c, boot, &e, 1))
		return -1;
	int r = fn(&e, slot, c);
	if (r > 0)
		r = env_store(c, boot, &e);
	else if (r < 0)
		msg("%s: no room left in the U-Boot environment (uboot_env_size %zu)", c->uboot_env,
		    c->uboot_env_size);
	uenv_free(&e);
	return r;
}

static int ue_disarm(struct uenv *e, int slot, const struct conf *c)
{
	(void)c;
	if (slot_of(uenv_get(e, "icenet_trial")) != slot)
		return 0;
	return uenv_set(e, "icenet_trial", 0) || uenv_set(e, "icenet_tries", 0) ? -1 : 1;
}

static int ue_arm(struct uenv *e, int slot, const struct conf *c)
{
	char s[2] = {SLOT[slot], 0}, t[8];
	snprintf(t, sizeof t, "%d", c->tries);
	return uenv_set(e, "icenet_trial", s) || uenv_set(e, "icenet_tries", t) ? -1 : 1;
}

static int ue_commit(struct uenv *e, int slot, const struct conf *c)
{
	(void)c;
	char s[2] = {SLOT[slot], 0};
	const char *g = uenv_get(e, "icenet_good");
	int trial_here = slot_of(uenv_get(e, "icenet_trial")) == slot;
	/* Already good (unset means a): leave the file alone. */
	if (!trial_here && (g ? !strcmp(g, s) : slot == 0))
		return 0;
	if (uenv_set(e, "icenet_good", s))
		return -1;
	if (trial_here && (uenv_set(e, "icenet_trial", 0) || uenv_set(e, "icenet_tries", 0)))
		return -1;
	return 1;
}

static int ue_fail(struct uenv *e, int slot, const struct conf *c)
{
	(void)c;
	if (slot_of(uenv_get(e, "icenet_trial")) != slot)
		return 0;
	return uenv_set(e, "icenet_tries", "0") ? -1 : 1;
}

/* ---- systemd-boot: loader entries on the ESP ---- */

struct entry {
	int exists, counting, left, done;
	long gen;
	char name[64];
};

/* icenet-<x>.conf or icenet-<x>+LEFT[-DONE].conf */
static int parse_entry_name(const char *n, int *slot, struct entry *e)
{
	if (strncmp(n, "icenet-", 7) || (n[7] != 'a' && n[7] != 'b'))
		return 0;
	*slot = n[7] - 'a';
	const char *p = n + 8;
	e->counting = 0;
	if (*p == '+') {
		char *end;
		e->counting = 1;
		e->left = (int)strtol(p + 1, &end, 10);
		e->done = 0;
		if (end == p + 1)
			return 0;
		p = end;
		if (*p == '-') {
			e->done = (int)strtol(p + 1, &end, 10);
			if (end == p + 1)
				return 0;
			p = end;
		}
	}
	return !strcmp(p, ".conf");
}

static long entry_gen(const char *path)
{
	char text[4096];
	if (read_small(path, text, sizeof text) < 0)
		return 0;
	for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : 0)
		if (!strncmp(l, "version ", 8))
			return atol(l + 8);
	return 0;
}

static int scan_entries(const char *boot, struct entry ent[2])
{
	char dir[512];
	memset(ent, 0, 2 * sizeof *ent);
	snprintf(dir, sizeof dir, "%s/loader/entries", boot);
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		msg_sys("unable to read %s", dir);
		return -1;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		struct entry e = {0};
		int slot;
		if (!parse_entry_name(de->d_name, &slot, &e) || strlen(de->d_name) >= sizeof e.name)
			continue;
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		e.exists = 1;
		e.gen = entry_gen(path);
		memcpy(e.name, de->d_name, strlen(de->d_name) + 1); /* length checked above */
		/* Two entries of one slot (a commit cut short): the one with tries wins, as in sd-boot. */
		if (!ent[slot].exists || (ent[slot].counting && ent[slot].left == 0))
			ent[slot] = e;
	}
	closedir(d);
	return 0;
}

static int sd_read(const char *boot, struct bootstate *s)
{
	struct entry ent[2];
	if (scan_entries(boot, ent))
		return -1;
	s->good = 0;
	s->trial = -1;
	s->tries = 0;
	int best = -1;
	for (int i = 0; i < 2; i++) {
		s->present[i] = ent[i].exists;
		if (!ent[i].exists)
			continue;
		if (ent[i].counting) {
			s->trial = i;
			s->tries = ent[i].left;
		} else if (best < 0 || ent[i].gen > ent[best].gen)
			best = i;
	}
	if (best >= 0)
		s->good = best;
	return 0;
}

static int entry_path(char *out, size_t size, const char *boot, const char *name)
{
	return snprintf(out, size, "%s/loader/entries/%s", boot, name) >= (int)size ? -1 : 0;
}

static int sd_disarm(const char *boot, int slot)
{
	char dir[512], path[1024];
	snprintf(dir, sizeof dir, "%s/loader/entries", boot);
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : (msg_sys("unable to read %s", dir), -1);
	struct dirent *de;
	int removed = 0, r = 0;
	while ((de = readdir(d))) {
		struct entry e;
		int s;
		if (!parse_entry_name(de->d_name, &s, &e) || s != slot)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (unlink(path)) {
			msg_sys("unable to remove %s", path);
			r = -1;
		}
		removed = 1;
	}
	closedir(d);
	if (removed && fsync_parent(path))
		msg_sys("warning: unable to sync %s", dir);
	return r;
}

static int sd_arm(const struct conf *c, const char *boot, int slot, const char *kernel)
{
	struct entry ent[2];
	char cmdline[4096], path[1024], text[8192];
	/* The slot's command line: cmdline.txt, or cmdline.env's `bootargs=` line. */
	snprintf(path, sizeof path, "%s/slot-%c/cmdline.txt", boot, SLOT[slot]);
	if (read_small(path, cmdline, sizeof cmdline) < 0) {
		snprintf(path, sizeof path, "%s/slot-%c/cmdline.env", boot, SLOT[slot]);
		if (read_small(path, cmdline, sizeof cmdline) < 0) {
			msg_sys("unable to read %s/slot-%c/cmdline.txt or cmdline.env (the slot's kernel "
				"command line)", boot, SLOT[slot]);
			return -1;
		}
		if (strncmp(cmdline, "bootargs=", 9)) {
			msg("%s: no bootargs= line", path);
			return -1;
		}
		memmove(cmdline, cmdline + 9, strlen(cmdline + 9) + 1);
	}
	cmdline[strcspn(cmdline, "\n")] = 0;
	if (sd_disarm(boot, slot) || scan_entries(boot, ent))
		return -1;
	/* Newest first: the trial sorts before every other entry while it has tries left; at
	 * +0 systemd-boot sorts it last, and the good entry boots. */
	long gen = (ent[0].gen > ent[1].gen ? ent[0].gen : ent[1].gen) + 1;
	snprintf(path, sizeof path, "%s/loader/entries", boot);
	mkdir(path, 0755);
	int n = snprintf(text, sizeof text,
			 "title IceNet-OS (slot %c, trial)\nsort-key icenet\nversion %ld\n"
			 "linux /slot-%c/%s\noptions %s icenet.trial=1\n",
			 SLOT[slot], gen, SLOT[slot], kernel, cmdline);
	char name[64];
	snprintf(name, sizeof name, "icenet-%c+%d.conf", SLOT[slot], c->tries);
	if (n >= (int)sizeof text || entry_path(path, sizeof path, boot, name) ||
	    replace_file(path, text, (size_t)n)) {
		msg_sys("unable to write %s", path);
		return -1;
	}
	return 0;
}

/* The entry text without the trial marks. */
static void untrial(char *text, char slot)
{
	char *p;
	while ((p = strstr(text, " icenet.trial=1")))
		memmove(p, p + 15, strlen(p + 15) + 1);
	char from[32], to[32];
	snprintf(from, sizeof from, "(slot %c, trial)", slot);
	snprintf(to, sizeof to, "(slot %c)", slot);
	if ((p = strstr(text, from))) {
		memmove(p + strlen(to), p + strlen(from), strlen(p + strlen(from)) + 1);
		memcpy(p, to, strlen(to));
	}
}

static int sd_commit(const char *boot, int slot)
{
	struct entry ent[2];
	char from[1024], to[1024], text[8192];
	if (scan_entries(boot, ent))
		return -1;
	if (!ent[slot].exists) {
		msg("no loader entry of slot %c in %s/loader/entries", SLOT[slot], boot);
		return -1;
	}
	if (!ent[slot].counting)
		return 0;
	char name[16];
	snprintf(name, sizeof name, "icenet-%c.conf", SLOT[slot]);
	entry_path(from, sizeof from, boot, ent[slot].name);
	entry_path(to, sizeof to, boot, name);
	ssize_t n = read_small(from, text, sizeof text);
	if (n < 0) {
		msg_sys("unable to read %s", from);
		return -1;
	}
	untrial(text, SLOT[slot]);
	/* The good entry first, then the trial one goes: a cut in between leaves both, and the
	 * trial one has no tries left, so the good one boots. */
	if (replace_file(to, text, strlen(text)) || unlink(from) || fsync_parent(to)) {
		msg_sys("unable to commit %s as %s", from, to);
		return -1;
	}
	return 0;
}

static int sd_fail(const char *boot, int slot)
{
	struct entry ent[2];
	char from[1024], to[1024], name[64];
	if (scan_entries(boot, ent))
		return -1;
	if (!ent[slot].exists || !ent[slot].counting)
		return 0;
	snprintf(name, sizeof name, "icenet-%c+0-%d.conf", SLOT[slot], ent[slot].done);
	entry_path(from, sizeof from, boot, ent[slot].name);
	entry_path(to, sizeof to, boot, name);
	if (strcmp(from, to) && (rename(from, to) || fsync_parent(to))) {
		msg_sys("unable to rename %s to %s", from, to);
		return -1;
	}
	return 0;
}

/* ---- dispatch ---- */

int bs_read(const struct conf *c, const char *boot, struct bootstate *s)
{
	return c->loader == LOADER_UBOOT ? uboot_read(c, boot, s) : sd_read(boot, s);
}

int bs_writable(const struct conf *c, const char *boot)
{
	struct uenv e;
	if (c->loader != LOADER_UBOOT)
		return 0;
	if (env_load(c, boot, &e, 1))
		return -1;
	uenv_free(&e);
	return 0;
}

int bs_disarm(const struct conf *c, const char *boot, int slot)
{
	return c->loader == LOADER_UBOOT ? uboot_edit(c, boot, slot, ue_disarm) < 0 ? -1 : 0
					 : sd_disarm(boot, slot);
}

int bs_arm(const struct conf *c, const char *boot, int slot, const char *kernel)
{
	return c->loader == LOADER_UBOOT ? uboot_edit(c, boot, slot, ue_arm) < 0 ? -1 : 0
					 : sd_arm(c, boot, slot, kernel);
}

int bs_commit(const struct conf *c, const char *boot, int slot)
{
	return c->loader == LOADER_UBOOT ? uboot_edit(c, boot, slot, ue_commit) < 0 ? -1 : 0
					 : sd_commit(boot, slot);
}

int bs_fail(const struct conf *c, const char *boot, int slot)
{
	return c->loader == LOADER_UBOOT ? uboot_edit(c, boot, slot, ue_fail) < 0 ? -1 : 0
					 : sd_fail(boot, slot);
}
