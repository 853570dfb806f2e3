/* The U-Boot environment file: CRC32 (little endian) of the data area, then
 * NUL-terminated `name=value` strings, an empty string, padding to CONFIG_ENV_SIZE
 * (the non-redundant layout of U-Boot's env/fat.c and fw_printenv). */
#ifndef ICENET_UPDATE_UENV_H
#define ICENET_UPDATE_UENV_H

#include <stddef.h>
#include <stdint.h>

#define UENV_MAX (1 << 24)

struct uenv {
	size_t size; /* whole file, CRC included */
	size_t used; /* bytes of data used, the final empty string excluded */
	char *data;  /* size - 4 bytes */
};

uint32_t crc32_le(uint32_t crc, const uint8_t *p, size_t n);
/* An empty environment of `size` bytes. */
int uenv_init(struct uenv *e, size_t size);
/* From a file image of exactly e->size bytes; -1 if the CRC or the layout is wrong. */
int uenv_parse(struct uenv *e, const uint8_t *img, size_t n);
/* From `name=value` text lines (U-Boot's `env export -t` / mkenvimage input). */
int uenv_import_text(struct uenv *e, const char *text);
/* The value of name, or NULL. */
const char *uenv_get(const struct uenv *e, const char *name);
/* Set (value != NULL) or delete (NULL); -1 if it does not fit. */
int uenv_set(struct uenv *e, const char *name, const char *value);
/* The file image (size bytes) into out. */
void uenv_image(const struct uenv *e, uint8_t *out);
void uenv_free(struct uenv *e);

#endif
