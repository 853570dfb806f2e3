/* See verity.h. */
#include "verity.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sodium/crypto_hash_sha256.h"

static int unhex(const char *s, size_t len, uint8_t *out, size_t max)
{
	if (len % 2 || len / 2 > max)
		return -1;
	for (size_t i = 0; i < len / 2; i++) {
		unsigned b;
		if (sscanf(s + 2 * i, "%2x", &b) != 1)
			return -1;
		out[i] = (uint8_t)b;
	}
	return (int)(len / 2);
}

int verity_parse(const char *cmdline, struct verity *v, char *err, size_t errsize)
{
	const char *p = strstr(cmdline, "dm-mod.create=");
	if (!p)
		return 0;
	p = strstr(p, " verity ");
	if (!p) {
		snprintf(err, errsize, "dm-mod.create= has no verity target");
		return -1;
	}
	unsigned version;
	char alg[16], root[65], salt[513];
	int n = sscanf(p, " verity %u %*s %*s %u %u %llu %*u %15s %64s %512[0-9a-f-]", &version,
		       &v->data_block, &v->hash_block, &v->data_blocks, alg, root, salt);
	if (n != 7 || version != 1) {
		snprintf(err, errsize, "verity table is not format 1 with every field");
		return -1;
	}
	if (strcmp(alg, "sha256")) {
		snprintf(err, errsize, "verity hash %s: only sha256 is checked", alg);
		return -1;
	}
	if (v->data_block < 512 || v->data_block > 65536 || (v->data_block & (v->data_block - 1)) ||
	    v->hash_block < 64 || v->hash_block > 65536 || (v->hash_block & (v->hash_block - 1))) {
		snprintf(err, errsize, "verity block sizes %u/%u", v->data_block, v->hash_block);
		return -1;
	}
	if (unhex(root, strlen(root), v->root, 32) != 32) {
		snprintf(err, errsize, "verity root hash is not 64 hex digits");
		return -1;
	}
	int s = strcmp(salt, "-") ? unhex(salt, strlen(salt), v->salt, sizeof v->salt) : 0;
	if (s < 0) {
		snprintf(err, errsize, "verity salt is not hex");
		return -1;
	}
	v->salt_len = (unsigned)s;
	return 1;
}

static void salted(const struct verity *v, const uint8_t *block, size_t len, uint8_t out[32])
{
	crypto_hash_sha256_state h;
	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, v->salt, v->salt_len);
	crypto_hash_sha256_update(&h, block, len);
	crypto_hash_sha256_final(&h, out);
}

int verity_root_hash(int fd, const struct verity *v, uint8_t out[32])
{
	unsigned long long n = v->data_blocks;
	if (!n) {
		errno = EINVAL;
		return -1;
	}
	uint8_t *digests = malloc(n * 32), *block = malloc(v->data_block > v->hash_block
								    ? v->data_block
								    : v->hash_block);
	int r = -1;
	if (!digests || !block)
		goto out;
	for (unsigned long long i = 0; i < n; i++) {
		ssize_t got = pread(fd, block, v->data_block, (off_t)(i * v->data_block));
		if (got != (ssize_t)v->data_block) {
			if (got >= 0)
				errno = EIO; /* the device ends before its data does */
			goto out;
		}
		salted(v, block, v->data_block, digests + i * 32);
	}
	/* Each level packs the one below into hash blocks, until one digest is left. */
	unsigned per = v->hash_block / 32;
	while (n > 1) {
		unsigned long long up = (n + per - 1) / per;
		for (unsigned long long i = 0; i < up; i++) {
			unsigned long long k = n - i * per < per ? n - i * per : per;
			memset(block, 0, v->hash_block);
			memcpy(block, digests + i * per * 32, k * 32);
			salted(v, block, v->hash_block, digests + i * 32);
		}
		n = up;
	}
	memcpy(out, digests, 32);
	r = 0;
out:
	free(digests);
	free(block);
	return r;
}
