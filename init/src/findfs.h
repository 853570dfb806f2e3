/* Resolve a kernel-command-line device name (findfs.c). */
#ifndef ICENET_FINDFS_H
#define ICENET_FINDFS_H

#include <stddef.h>

/* `spec` is /dev/..., LABEL=, UUID= (ext4) or PARTUUID=: the device node into `dev`,
 * 0; -1 if none matches (or the form is unknown). */
int findfs(const char *spec, char *dev, size_t cap);

#endif
