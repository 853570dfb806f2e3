/* Block devices and mounts: which disk holds the running system, its partitions, p1's mount. */
#ifndef ICENET_UPDATE_DEVICES_H
#define ICENET_UPDATE_DEVICES_H

#include <stddef.h>
#include <sys/types.h>

#include "conf.h"

/* Fill the conf's empty device names from the disk of the running root. 0 or -1. */
int devices_resolve(struct conf *c);
/* Is a file system from device number dev mounted? */
int dev_mounted(dev_t dev);
/* Mount p1 at c->boot_mount unless something is mounted there (finding p1 first if the
 * config does not name it); *ours = 1 if we did. */
int boot_mount(struct conf *c, int *ours);
void boot_unmount(const struct conf *c, int ours);

#endif
