/* The update bundle's signed text manifest (format in update/README.md). */
#ifndef ICENET_UPDATE_MANIFEST_H
#define ICENET_UPDATE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define MANIFEST_MAX 8192
#define PAYLOADS_MAX 64
#define SIGLINE_MAX 256

struct payload {
	char name[200];
	uint64_t size;
	uint8_t sha256[32];
};

struct manifest {
	char board[64];
	char version[64];
	uint64_t serial;
	char kernel[128]; /* the slot's kernel file (slot/<kernel>), for loader entries */
	int n;
	struct payload p[PAYLOADS_MAX];
};

/* Parse manifest text (from "icenet-bundle 1" to "end\n"); errors into err. 0 or -1. */
int manifest_parse(struct manifest *m, const char *text, size_t len, char *err, size_t errlen);

/* Check `sigline` ("signature ed25519 <keyid> <base64>\n") over text with a key of keyfile.
 * 0 good, -1 bad (err says why). */
int manifest_verify(const char *text, size_t len, const char *sigline, const char *keyfile,
		    char *err, size_t errlen);

/* Is `name` a payload name this format allows (root, slot/<path>, slot-a/<path>, slot-b/<path>)? */
int payload_name_ok(const char *name);

#endif
