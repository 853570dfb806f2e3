/* Manifest parsing and its Ed25519 signature check (libsodium's ref10 code, see Makefile). */
#include "manifest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sodium/crypto_hash_sha256.h"
#include "sodium/crypto_sign_ed25519.h"
#include "sodium/utils.h"
#include "util.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int path_ok(const char *p)
{
	if (!*p || strlen(p) >= 150)
		return 0;
	for (const char *c = p; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '.' || *c == '_' || *c == '-' || *c == '+' || *c == '/'))
			return 0;
	/* No empty, "." or ".." component: a name stays inside slot-<x>/. */
	for (const char *c = p;;) {
		const char *s = strchr(c, '/');
		size_t n = s ? (size_t)(s - c) : strlen(c);
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		if (!s)
			return 1;
		c = s + 1;
	}
}

int payload_name_ok(const char *name)
{
	if (!strcmp(name, "root"))
		return 1;
	for (const char *pre = "slot/\0slot-a/\0slot-b/\0"; *pre; pre += strlen(pre) + 1)
		if (!strncmp(name, pre, strlen(pre)))
			return path_ok(name + strlen(pre));
	return 0;
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdef", s[2 * i]) ||
		    !strchr("0123456789abcdef", s[2 * i + 1]))
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

static int parse_line(struct manifest *m, char *line, int n, int *seen_root, char *err,
		      size_t errlen)
{
	char *f[5];
	int nf = 0;
	for (char *t = strtok(line, " "); t; t = strtok(0, " ")) {
		if (nf == 5)
			return fail(err, errlen, "manifest line %d: too many fields", n);
		f[nf++] = t;
	}
	if (nf == 2 && !strcmp(f[0], "board") && strlen(f[1]) < sizeof m->board)
		strcpy(m->board, f[1]);
	else if (nf == 2 && !strcmp(f[0], "version") && strlen(f[1]) < sizeof m->version)
		strcpy(m->version, f[1]);
	else if (nf == 2 && !strcmp(f[0], "serial")) {
		if (parse_u64(f[1], &m->serial))
			return fail(err, errlen, "manifest line %d: serial: not a number", n);
	} else if (nf == 2 && !strcmp(f[0], "kernel")) {
		if (!path_ok(f[1]) || strlen(f[1]) >= sizeof m->kernel)
			return fail(err, errlen, "manifest line %d: kernel: bad file name", n);
		strcpy(m->kernel, f[1]);
	} else if (nf == 4 && !strcmp(f[0], "payload")) {
		if (m->n == PAYLOADS_MAX)
			return fail(err, errlen, "manifest: more than %d payloads", PAYLOADS_MAX);
		struct payload *p = &m->p[m->n];
		if (!payload_name_ok(f[1]) || strlen(f[1]) >= sizeof p->name)
			return fail(err, errlen, "manifest line %d: bad payload name \"%s\"", n, f[1]);
		for (int i = 0; i < m->n; i++)
			if (!strcmp(m->p[i].name, f[1]))
				return fail(err, errlen, "manifest line %d: payload %s twice", n, f[1]);
		strcpy(p->name, f[1]);
		if (parse_u64(f[2], &p->size))
			return fail(err, errlen, "manifest line %d: payload %s: bad size", n, f[1]);
		if (unhex(f[3], p->sha256, 32))
			return fail(err, errlen, "manifest line %d: payload %s: bad sha256", n, f[1]);
		*seen_root |= !strcmp(f[1], "root");
		m->n++;
	} else
		return fail(err, errlen, "manifest line %d: unknown or malformed line \"%s\"", n, f[0]);
	return 0;
}

int manifest_parse(struct manifest *m, const char *text, size_t len, char *err, size_t errlen)
{
	static char buf[MANIFEST_MAX];
	memset(m, 0, sizeof *m);
	if (len >= sizeof buf)
		return fail(err, errlen, "manifest longer than %d bytes", MANIFEST_MAX);
	if (memchr(text, 0, len))
		return fail(err, errlen, "manifest holds a NUL byte");
	memcpy(buf, text, len);
	buf[len] = 0;
	const char *magic = "icenet-bundle 1\n";
	if (strncmp(buf, magic, strlen(magic)))
		return fail(err, errlen, "not an icenet update bundle (format 1): first line is not "
					 "\"icenet-bundle 1\"");
	int n = 1, seen_root = 0, ended = 0;
	for (char *line = buf + strlen(magic); *line;) {
		char *nl = strchr(line, '\n');
		if (!nl)
			return fail(err, errlen, "manifest: last line has no newline");
		*nl = 0;
		n++;
		if (ended)
			return fail(err, errlen, "manifest line %d: text after \"end\"", n);
		if (!strcmp(line, "end"))
			ended = 1;
		else if (parse_line(m, line, n, &seen_root, err, errlen))
			return -1;
		line = nl + 1;
	}
	if (!ended)
		return fail(err, errlen, "manifest: no \"end\" line");
	if (!m->board[0] || !m->version[0])
		return fail(err, errlen, "manifest: board and version are required");
	if (!seen_root)
		return fail(err, errlen, "manifest: no root payload");
	return 0;
}

/* The key id of a raw public key: the first 16 hex digits of its sha256 (as ice-pkg's). */
static void key_id(const uint8_t pk[32], char out[17])
{
	uint8_t h[32];
	char hx[65];
	crypto_hash_sha256(h, pk, 32);
	hex(h, 32, hx);
	memcpy(out, hx, 16);
	out[16] = 0;
}

int manifest_verify(const char *text, size_t len, const char *sigline, const char *keyfile,
		    char *err, size_t errlen)
{
	char line[SIGLINE_MAX], id[40], b64[160];
	uint8_t sig[64];
	size_t siglen;
	if (strlen(sigline) >= sizeof line)
		return fail(err, errlen, "signature line too long");
	if (sscanf(sigline, "signature ed25519 %39s %159s", id, b64) != 2)
		return fail(err, errlen, "no \"signature ed25519 <key id> <base64>\" line after the manifest");
	if (sodium_base642bin(sig, sizeof sig, b64, strlen(b64), 0, &siglen, 0,
			      sodium_base64_VARIANT_ORIGINAL) || siglen != 64)
		return fail(err, errlen, "signature: not 64 bytes of base64");
	static char keys[8192];
	if (read_small(keyfile, keys, sizeof keys) < 0)
		return fail(err, errlen, "cannot read the update key %s: %s", keyfile, strerror(errno));
	int nkeys = 0;
	for (char *l = strtok(keys, "\n"); l; l = strtok(0, "\n")) {
		char kb64[128];
		uint8_t pk[32];
		size_t pklen;
		char kid[17];
		if (l[0] == '#' || !l[0])
			continue;
		if (sscanf(l, "ed25519 %127s", kb64) != 1 ||
		    sodium_base642bin(pk, sizeof pk, kb64, strlen(kb64), 0, &pklen, 0,
				      sodium_base64_VARIANT_ORIGINAL) || pklen != 32)
			return fail(err, errlen, "%s: not an \"ed25519 <base64>\" public key line", keyfile);
		nkeys++;
		key_id(pk, kid);
		if (strcmp(kid, id))
			continue;
		if (crypto_sign_ed25519_verify_detached(sig, (const uint8_t *)text, len, pk))
			return fail(err, errlen, "bad signature: the manifest was not signed by key %s "
						 "(or was changed after signing)", id);
		return 0;
	}
	return fail(err, errlen, "signed by key %s, which is not in %s (%d trusted key%s)", id, keyfile,
		    nkeys, nkeys == 1 ? "" : "s");
}
