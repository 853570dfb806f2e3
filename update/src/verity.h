/* dm-verity of a slot's root: the table the kernel gets from the slot's command line
 * (dm-mod.create=, lib/rootfs/verity.ts), and the root hash of a device's data computed
 * the way the kernel checks it (format 1: sha256(salt || block), 32-byte digests packed
 * into zero-padded hash blocks, level by level up to one). */
#ifndef ICENET_UPDATE_VERITY_H
#define ICENET_UPDATE_VERITY_H

#include <stddef.h>
#include <stdint.h>

struct verity {
	unsigned data_block, hash_block;
	unsigned long long data_blocks;
	uint8_t root[32];
	uint8_t salt[256];
	unsigned salt_len;
};

/* The verity table of a kernel command line: 1 found (v filled), 0 none, -1 malformed
 * (err says how). */
int verity_parse(const char *cmdline, struct verity *v, char *err, size_t errsize);
/* The root hash of the first v->data_blocks blocks of fd into out; 0 or -1 (errno). */
int verity_root_hash(int fd, const struct verity *v, uint8_t out[32]);

#endif
