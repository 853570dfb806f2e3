#include "uenv.h"

#include <stdlib.h>
#include <string.h>

/* zlib's CRC-32 (reflected 0xEDB88320), bit by bit: the env is a few KiB. */
uint32_t crc32_le(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

int uenv_init(struct uenv *e, size_t size)
{
	if (size < 16 || size > UENV_MAX)
		return -1;
	e->size = size;
	e->used = 0;
	e->data = calloc(1, size - 4);
	return e->data ? 0 : -1;
}

void uenv_free(struct uenv *e)
{
	free(e->data);
	e->data = 0;
}

int uenv_parse(struct uenv *e, const uint8_t *img, size_t n)
{
	if (n != e->size)
		return -1;
	uint32_t want = (uint32_t)img[0] | (uint32_t)img[1] << 8 | (uint32_t)img[2] << 16 |
			(uint32_t)img[3] << 24;
	if (crc32_le(0, img + 4, n - 4) != want)
		return -1;
	memcpy(e->data, img + 4, n - 4);
	/* The strings end at the first empty one ("\0\0"). */
	size_t i = 0, len = n - 4;
	while (i < len && e->data[i]) {
		size_t l = strnlen(e->data + i, len - i);
		if (i + l >= len)
			return -1;
		i += l + 1;
	}
	if (i >= len)
		return -1;
	e->used = i;
	memset(e->data + i, 0, len - i);
	return 0;
}

static char *find(const struct uenv *e, const char *name, size_t *len)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < e->used;) {
		char *s = e->data + i;
		size_t l = strlen(s);
		if (!strncmp(s, name, nl) && s[nl] == '=') {
			*len = l + 1;
			return s;
		}
		i += l + 1;
	}
	return 0;
}

const char *uenv_get(const struct uenv *e, const char *name)
{
	size_t len;
	char *s = find(e, name, &len);
	return s ? s + strlen(name) + 1 : 0;
}

int uenv_set(struct uenv *e, const char *name, const char *value)
{
	size_t len;
	char *s = find(e, name, &len);
	size_t add = value ? strlen(name) + 1 + strlen(value) + 1 : 0;
	size_t keep = e->used - (s ? len : 0);
	/* Room for the final empty string: data area holds keep + add + 1 bytes. */
	if (keep + add + 1 > e->size - 4)
		return -1;
	if (s) {
		memmove(s, s + len, e->used - (size_t)(s - e->data) - len);
		e->used -= len;
		memset(e->data + e->used, 0, len);
	}
	if (value) {
		char *d = e->data + e->used;
		strcpy(d, name);
		d[strlen(name)] = '=';
		strcpy(d + strlen(name) + 1, value);
		e->used += add;
	}
	return 0;
}

int uenv_import_text(struct uenv *e, const char *text)
{
	char line[4096];
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len >= sizeof line)
			return -1;
		memcpy(line, p, len);
		line[len] = 0;
		p += len + (nl != 0);
		char *eq = strchr(line, '=');
		if (!line[0] || line[0] == '#')
			continue;
		if (!eq || eq == line)
			return -1;
		*eq = 0;
		if (uenv_set(e, line, eq + 1))
			return -1;
	}
	return 0;
}

void uenv_image(const struct uenv *e, uint8_t *out)
{
	memcpy(out + 4, e->data, e->size - 4);
	uint32_t c = crc32_le(0, out + 4, e->size - 4);
	out[0] = (uint8_t)c;
	out[1] = (uint8_t)(c >> 8);
	out[2] = (uint8_t)(c >> 16);
	out[3] = (uint8_t)(c >> 24);
}
