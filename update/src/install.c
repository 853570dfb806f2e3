/* Order of an install: read and check the signed manifest (signature, board, version,
 * sizes, the boot state) before anything is written; make the inactive slot unbootable;
 * stream each payload into it, hashing as it goes, and read each one back; check its
 * root against the root hash of its new command line (dm-verity); record the slot's
 * manifest; arm its trial boot. A cut anywhere before the last step leaves the
 * running slot and the boot loader's choice as they were. */
#include "install.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bootstate.h"
#include "devices.h"
#include "manifest.h"
#include "sodium/crypto_hash_sha256.h"
#include "util.h"
#include "verity.h"

static const char SLOT[] = "ab";

/* The bundle as a buffered stream; all payload bytes go through one fixed buffer. */
static struct input {
	int fd;
	pid_t child;
	uint8_t buf[1 << 16];
	size_t pos, len;
	unsigned long long off;
	int eof; /* the source said end of file */
} in;
static uint8_t io[1 << 16];

static int in_getc(void)
{
	if (in.pos == in.len) {
		ssize_t n = read_full(in.fd, in.buf, sizeof in.buf);
		if (n < (ssize_t)sizeof in.buf && n >= 0)
			in.eof = 1;
		if (n <= 0)
			return -1;
		in.pos = 0;
		in.len = (size_t)n;
	}
	in.off++;
	return in.buf[in.pos++];
}

static ssize_t in_read(void *dst, size_t n)
{
	size_t got = 0;
	if (in.pos < in.len) {
		got = in.len - in.pos < n ? in.len - in.pos : n;
		memcpy(dst, in.buf + in.pos, got);
		in.pos += got;
	}
	if (got < n) {
		ssize_t r = read_full(in.fd, (char *)dst + got, n - got);
		if (r < 0)
			return -1;
		if ((size_t)r < n - got)
			in.eof = 1;
		got += (size_t)r;
	}
	in.off += got;
	return (ssize_t)got;
}

static int in_open(const char *source)
{
	in.child = 0;
	if (!strcmp(source, "-")) {
		in.fd = 0;
		return 0;
	}
	if (!strncmp(source, "http://", 7) || !strncmp(source, "https://", 8)) {
		/* busybox wget streams it to us; a failed download shows as a short bundle. */
		int p[2];
		if (pipe(p)) {
			msg_sys("unable to create a pipe");
			return -1;
		}
		in.child = fork();
		if (in.child < 0) {
			msg_sys("unable to fork");
			return -1;
		}
		if (!in.child) {
			dup2(p[1], 1);
			close(p[0]);
			close(p[1]);
			execlp("wget", "wget", "-q", "-O", "-", source, (char *)0);
			msg_sys("unable to run wget");
			_exit(127);
		}
		close(p[1]);
		in.fd = p[0];
		return 0;
	}
	in.fd = open(source, O_RDONLY | O_CLOEXEC);
	if (in.fd < 0) {
		msg_sys("unable to open %s", source);
		return -1;
	}
	return 0;
}

/* Close the bundle; a download that failed says so (its short output was already refused). */
static void in_close(const char *source, int failed)
{
	if (in.fd > 0)
		close(in.fd);
	if (in.child <= 0)
		return;
	int st;
	if (!in.eof)
		kill(in.child, SIGTERM); /* still sending: we stopped reading */
	if (waitpid(in.child, &st, 0) < 0 || !in.eof)
		return;
	if (failed && WIFEXITED(st) && WEXITSTATUS(st))
		msg("wget %s failed (exit status %d)", source, WEXITSTATUS(st));
}

/* ---- small records ---- */

int running_slot(const struct conf *c, int *trial)
{
	char line[4096];
	*trial = 0;
	if (read_small(c->cmdline, line, sizeof line) < 0)
		return -1;
	int slot = -1;
	for (char *t = strtok(line, " \t\n"); t; t = strtok(0, " \t\n")) {
		if (!strcmp(t, "icenet.slot=a"))
			slot = 0;
		else if (!strcmp(t, "icenet.slot=b"))
			slot = 1;
		else if (!strcmp(t, "icenet.trial=1"))
			*trial = 1;
	}
	return slot;
}

int slot_record(const char *boot, int slot, char *version, size_t size, unsigned long long *serial)
{
	static char text[MANIFEST_MAX + SIGLINE_MAX];
	static struct manifest m;
	char path[512], err[256];
	snprintf(version, size, "%s", "");
	*serial = 0;
	snprintf(path, sizeof path, "%s/slot-%c/manifest", boot, SLOT[slot]);
	ssize_t n = read_small(path, text, sizeof text);
	if (n < 0)
		return 0;
	char *end = strstr(text, "\nend\n");
	if (!end || manifest_parse(&m, text, (size_t)(end + 5 - text), err, sizeof err)) {
		msg("warning: %s: %s", path, end ? err : "no end line");
		return 0;
	}
	snprintf(version, size, "%s", m.version);
	*serial = m.serial;
	return 1;
}

void last_install_write(const struct conf *c, const char *fmt, ...)
{
	char text[1024], path[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof text - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof text - 1)
		n = (int)sizeof text - 2;
	text[n++] = '\n';
	mkdir(c->state_dir, 0755);
	snprintf(path, sizeof path, "%s/last-install", c->state_dir);
	if (replace_file(path, text, (size_t)n))
		msg_sys("warning: unable to write %s", path);
}

void last_install_read(const struct conf *c, char *buf, size_t size)
{
	char path[512];
	snprintf(path, sizeof path, "%s/last-install", c->state_dir);
	if (read_small(path, buf, size) < 0)
		buf[0] = 0;
	buf[strcspn(buf, "\n")] = 0;
}

/* ---- the steps ---- */

static int read_manifest(char *text, size_t *len, char *sigline)
{
	size_t n = 0;
	for (;;) {
		int ch = in_getc();
		if (ch < 0) {
			msg("bundle ends inside its manifest (after %zu bytes): not a complete bundle", n);
			return -1;
		}
		if (n == MANIFEST_MAX - 1) {
			msg("no manifest end within %d bytes: not an icenet update bundle", MANIFEST_MAX);
			return -1;
		}
		text[n++] = (char)ch;
		if (n == 16 && strncmp(text, "icenet-bundle 1\n", 16)) {
			msg("not an icenet update bundle (format 1): it does not start with \"icenet-bundle 1\"");
			return -1;
		}
		if (n >= 5 && !memcmp(text + n - 5, "\nend\n", 5))
			break;
	}
	text[n] = 0;
	*len = n;
	for (size_t i = 0;; i++) {
		int ch = in_getc();
		if (ch < 0 || i == SIGLINE_MAX - 1) {
			msg("bundle has no signature line after its manifest");
			return -1;
		}
		sigline[i] = (char)ch;
		if (ch == '\n') {
			sigline[i + 1] = 0;
			return 0;
		}
	}
}

static unsigned long long dev_size(int fd)
{
	struct stat st;
	unsigned long long n = 0;
	if (fstat(fd, &st))
		return 0;
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, &n) ? 0 : n;
	return (unsigned long long)st.st_size;
}

/* Open path afresh, drop its cached pages, read n bytes back and compare the hash. */
static int read_back(const char *path, unsigned long long n, const uint8_t want[32])
{
	crypto_hash_sha256_state h;
	uint8_t got[32];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		msg_sys("%s: unable to open it to read back what was written", path);
		return -1;
	}
	if (!fstat(fd, &st) && S_ISBLK(st.st_mode))
		ioctl(fd, BLKFLSBUF, 0);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	crypto_hash_sha256_init(&h);
	int r = 0;
	for (unsigned long long left = n; left;) {
		size_t chunk = left < sizeof io ? (size_t)left : sizeof io;
		if (read_full(fd, io, chunk) != (ssize_t)chunk) {
			msg_sys("%s: unable to read back what was written", path);
			r = -1;
			break;
		}
		crypto_hash_sha256_update(&h, io, chunk);
		left -= chunk;
	}
	close(fd);
	crypto_hash_sha256_final(&h, got);
	if (!r && memcmp(got, want, 32)) {
		msg("%s: what was written reads back differently: the medium is failing", path);
		r = -1;
	}
	return r;
}

/* Copy payload p from the bundle to fd (or nowhere, fd < 0), checking its sha256. */
static int stream_payload(const struct payload *p, int fd, const char *dest)
{
	crypto_hash_sha256_state h;
	uint8_t got[32];
	crypto_hash_sha256_init(&h);
	for (unsigned long long left = p->size; left;) {
		size_t chunk = left < sizeof io ? (size_t)left : sizeof io;
		ssize_t r = in_read(io, chunk);
		if (r < 0) {
			msg_sys("payload %s: unable to read the bundle", p->name);
			return -1;
		}
		if (r < (ssize_t)chunk) {
			msg("payload %s: bundle ends early (%llu of %llu bytes): download cut short?", p->name,
			    p->size - left + (unsigned long long)r, (unsigned long long)p->size);
			return -1;
		}
		crypto_hash_sha256_update(&h, io, chunk);
		if (fd >= 0 && write_full(fd, io, chunk)) {
			msg_sys("payload %s: unable to write %s", p->name, dest);
			return -1;
		}
		left -= chunk;
	}
	crypto_hash_sha256_final(&h, got);
	if (memcmp(got, p->sha256, 32)) {
		msg("payload %s: sha256 differs from the signed manifest: bundle damaged", p->name);
		return -1;
	}
	return 0;
}

static int write_root(const struct payload *p, const char *dev)
{
	int fd = open(dev, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		msg_sys("unable to open %s (root of the inactive slot)", dev);
		return -1;
	}
	int r = stream_payload(p, fd, dev);
	if (!r && fsync(fd)) {
		msg_sys("unable to sync %s", dev);
		r = -1;
	}
	if (close(fd) && !r) {
		msg_sys("unable to close %s", dev);
		r = -1;
	}
	return r ? r : read_back(dev, p->size, p->sha256);
}

static int mkdirs(char *path)
{
	for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		int r = mkdir(path, 0755);
		*s = '/';
		if (r && errno != EEXIST) {
			msg_sys("unable to create %.*s", (int)(s - path), path);
			return -1;
		}
	}
	return 0;
}

/* One boot file: <name>.tmp, written, synced, read back, renamed over <name>. */
static int write_boot_file(const struct payload *p, const char *boot, int slot, const char *rel)
{
	char path[1024], tmp[1040];
	snprintf(path, sizeof path, "%s/slot-%c/%s", boot, SLOT[slot], rel);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (mkdirs(path))
		return -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		msg_sys("unable to create %s", tmp);
		return -1;
	}
	int r = stream_payload(p, fd, tmp);
	if (!r && fsync(fd)) {
		msg_sys("unable to sync %s", tmp);
		r = -1;
	}
	if (close(fd) && !r) {
		msg_sys("unable to close %s", tmp);
		r = -1;
	}
	if (!r)
		r = read_back(tmp, p->size, p->sha256);
	if (!r && rename(tmp, path)) {
		msg_sys("unable to rename %s to %s", tmp, path);
		r = -1;
	}
	if (!r && fsync_parent(path)) {
		msg_sys("unable to sync the directory of %s", path);
		r = -1;
	}
	return r;
}

/* What the manifest says, checked against this device before a byte is written. */
static int check_bundle(const struct conf *c, const struct manifest *m, const char *boot, int cur,
			int target, int allow_downgrade)
{
	char version[64];
	unsigned long long serial;
	if (strcmp(m->board, c->board)) {
		msg("bundle is for board %s, this device is %s: refused", m->board, c->board);
		return -1;
	}
	slot_record(boot, cur, version, sizeof version, &serial);
	if (m->serial < serial && !allow_downgrade) {
		msg("bundle version %s (serial %llu) is older than the running %s (serial %llu): refused "
		    "(--allow-downgrade installs it anyway)",
		    m->version, (unsigned long long)m->serial, version, serial);
		return -1;
	}
	for (int i = 0; i < m->n; i++) {
		const struct payload *p = &m->p[i];
		if (strcmp(p->name, "root"))
			continue;
		int fd = open(c->root_device[target], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			msg_sys("unable to open %s (root of slot %c)", c->root_device[target], SLOT[target]);
			return -1;
		}
		struct stat st;
		unsigned long long size = dev_size(fd);
		int busy = !fstat(fd, &st) && S_ISBLK(st.st_mode) && dev_mounted(st.st_rdev);
		close(fd);
		if (busy) {
			msg("%s (root of slot %c) is mounted: refusing to write it", c->root_device[target],
			    SLOT[target]);
			return -1;
		}
		if (p->size > size) {
			msg("root payload is %llu bytes, %s (root of slot %c) holds %llu: refused",
			    (unsigned long long)p->size, c->root_device[target], SLOT[target], size);
			return -1;
		}
	}
	if (c->loader == LOADER_SDBOOT) {
		/* One kernel for both slots, or the target's own (a UKI holds its command line). */
		char want[256], own[256];
		snprintf(want, sizeof want, "slot/%s", m->kernel);
		snprintf(own, sizeof own, "slot-%c/%s", SLOT[target], m->kernel);
		int has = 0;
		for (int i = 0; i < m->n; i++)
			has |= !strcmp(m->p[i].name, want) || !strcmp(m->p[i].name, own);
		if (!m->kernel[0] || !has) {
			msg("bundle names no kernel payload (kernel line, slot/<kernel> or "
			    "slot-%c/<kernel>): systemd-boot needs one", SLOT[target]);
			return -1;
		}
		int cmdline = 0;
		for (int i = 0; i < m->n; i++) {
			const char *n = m->p[i].name;
			const char *rest = !strncmp(n, "slot/", 5) ? n + 5
					   : (!strncmp(n, "slot-", 5) && n[5] == SLOT[target] && n[6] == '/') ? n + 7
					   : "";
			cmdline |= !strcmp(rest, "cmdline.txt") || !strcmp(rest, "cmdline.env");
		}
		if (!cmdline) {
			msg("bundle has no kernel command line for slot %c (slot-%c/cmdline.txt): "
			    "systemd-boot's entry needs one",
			    SLOT[target], SLOT[target]);
			return -1;
		}
	}
	/* The boot files written to the target: shared ones and its own, not the other slot's. */
	char own[8];
	snprintf(own, sizeof own, "slot-%c/", SLOT[target]);
	unsigned long long boot_bytes = 0;
	for (int i = 0; i < m->n; i++)
		if (!strncmp(m->p[i].name, "slot/", 5) || !strncmp(m->p[i].name, own, 7))
			boot_bytes += m->p[i].size;
	struct statvfs vfs;
	/* Room for every boot file, old copies included (each is replaced by a rename). */
	if (!statvfs(boot, &vfs) && (unsigned long long)vfs.f_bavail * vfs.f_frsize < boot_bytes) {
		msg("boot partition %s has %llu bytes free, the bundle's boot files need %llu: refused",
		    boot, (unsigned long long)vfs.f_bavail * vfs.f_frsize, boot_bytes);
		return -1;
	}
	return 0;
}

static int write_payloads(const struct conf *c, const struct manifest *m, const char *boot,
			  int target)
{
	char own[8];
	snprintf(own, sizeof own, "slot-%c/", SLOT[target]);
	for (int i = 0; i < m->n; i++) {
		const struct payload *p = &m->p[i];
		int r;
		if (!strcmp(p->name, "root"))
			r = write_root(p, c->root_device[target]);
		else if (!strncmp(p->name, "slot/", 5))
			r = write_boot_file(p, boot, target, p->name + 5);
		else if (!strncmp(p->name, own, 7))
			r = write_boot_file(p, boot, target, p->name + 7);
		else
			r = stream_payload(p, -1, 0); /* the other slot's variant */
		if (r)
			return -1;
	}
	return 0;
}

/* The slot's root against the root hash its new command line pins (dm-verity): a bundle
 * whose command line does not match its root would not boot, so it is not armed. */
static int verify_slot_root(const struct conf *c, const char *boot, int target)
{
	static char cmdline[4096];
	char path[512], err[128];
	struct verity v;
	int r = -1;
	for (const char *const *f = (const char *const[]){"cmdline.txt", "cmdline.env", 0}; *f; f++) {
		snprintf(path, sizeof path, "%s/slot-%c/%s", boot, SLOT[target], *f);
		if ((r = (int)read_small(path, cmdline, sizeof cmdline)) >= 0)
			break;
	}
	if (r < 0)
		return 0; /* no command line of the slot's own: nothing pins its root */
	int found = verity_parse(cmdline, &v, err, sizeof err);
	if (found <= 0) {
		if (found < 0)
			msg("%s: %s: refused", path, err);
		return found;
	}
	int fd = open(c->root_device[target], O_RDONLY | O_CLOEXEC);
	uint8_t got[32];
	if (fd < 0 || verity_root_hash(fd, &v, got)) {
		msg_sys("%s: unable to read the data its root hash covers", c->root_device[target]);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	if (memcmp(got, v.root, 32)) {
		char want[65], have[65];
		hex(v.root, 32, want);
		hex(got, 32, have);
		msg("slot %c: root hash of %s is %s, its command line pins %s: refused, slot left "
		    "unbootable",
		    SLOT[target], c->root_device[target], have, want);
		return -1;
	}
	return 0;
}

static int record_manifest(const char *boot, int target, const char *text, size_t len,
			   const char *sigline)
{
	static char rec[MANIFEST_MAX + SIGLINE_MAX];
	char path[512];
	memcpy(rec, text, len);
	memcpy(rec + len, sigline, strlen(sigline));
	snprintf(path, sizeof path, "%s/slot-%c/manifest", boot, SLOT[target]);
	if (replace_file(path, rec, len + strlen(sigline))) {
		msg_sys("unable to write %s", path);
		return -1;
	}
	return 0;
}

static int forget_manifest(const char *boot, int target)
{
	char path[512];
	snprintf(path, sizeof path, "%s/slot-%c/manifest", boot, SLOT[target]);
	if (unlink(path) && errno != ENOENT) {
		msg_sys("unable to remove %s", path);
		return -1;
	}
	return 0;
}

static int install_mounted(struct conf *c, const char *source, int allow_downgrade, int cur)
{
	static char text[MANIFEST_MAX];
	static struct manifest m;
	char sigline[SIGLINE_MAX], err[512];
	size_t len;
	const char *boot = c->boot_mount;
	int target = !cur;
	struct bootstate s;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);

	if (bs_read(c, boot, &s) || bs_writable(c, boot))
		return EXIT_REFUSED;
	if (s.good != cur) {
		msg("slot %c is running on trial (the boot loader's good slot is %c): run "
		    "`icenet-update mark-good` or reboot before installing",
		    SLOT[cur], SLOT[s.good]);
		return EXIT_REFUSED;
	}
	if (in_open(source))
		return EXIT_REFUSED;
	if (read_manifest(text, &len, sigline))
		return EXIT_REFUSED;
	if (manifest_verify(text, len, sigline, c->key, err, sizeof err)) {
		msg("%s: %s: refused, nothing written", source, err);
		return EXIT_REFUSED;
	}
	if (manifest_parse(&m, text, len, err, sizeof err)) {
		msg("%s: %s", source, err);
		return EXIT_REFUSED;
	}
	if (check_bundle(c, &m, boot, cur, target, allow_downgrade))
		return EXIT_REFUSED;

	msg("installing %s %s (serial %llu) into slot %c", m.board, m.version,
	    (unsigned long long)m.serial, SLOT[target]);
	last_install_write(c, "result=in-progress version=%s serial=%llu slot=%c time=%lld",
			   m.version, (unsigned long long)m.serial, SLOT[target], (long long)time(0));
	if (bs_disarm(c, boot, target) || forget_manifest(boot, target) ||
	    write_payloads(c, &m, boot, target) || verify_slot_root(c, boot, target) ||
	    record_manifest(boot, target, text, len, sigline) ||
	    bs_arm(c, boot, target, m.kernel)) {
		last_install_write(c, "result=failed version=%s serial=%llu slot=%c time=%lld",
				   m.version, (unsigned long long)m.serial, SLOT[target],
				   (long long)time(0));
		return EXIT_REFUSED;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	last_install_write(c, "result=ok version=%s serial=%llu slot=%c time=%lld", m.version,
			   (unsigned long long)m.serial, SLOT[target], (long long)time(0));
	printf("OK: %s %s in slot %c (%llu bytes in %.1f s); it boots on trial at the next reboot\n",
	       m.board, m.version, SLOT[target], in.off, secs);
	return 0;
}

int install(struct conf *c, const char *source, int allow_downgrade)
{
	int trial, ours;
	int cur = running_slot(c, &trial);
	if (cur < 0) {
		msg("cannot tell the running slot: no icenet.slot=a|b in %s", c->cmdline);
		return EXIT_REFUSED;
	}
	/* Not icenet.trial=1 of this boot's command line: the boot state (read below) says
	 * whether the running slot is committed, also after a mark-good in this boot. */
	if (devices_resolve(c) || boot_mount(c, &ours))
		return EXIT_SYSTEM;
	int r = install_mounted(c, source, allow_downgrade, cur);
	in_close(source, r != 0);
	boot_unmount(c, ours);
	return r;
}
