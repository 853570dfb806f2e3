/* `icenet-update install`: a signed bundle, streamed into the inactive slot. */
#ifndef ICENET_UPDATE_INSTALL_H
#define ICENET_UPDATE_INSTALL_H

#include "conf.h"

/* source: a file, "-" (standard input) or an http:// URL (busybox wget). Returns an exit code. */
int install(struct conf *c, const char *source, int allow_downgrade);

/* The record of a slot's installed bundle (boot/slot-<x>/manifest): version and serial,
 * "" and 0 when there is none. 1 if found. */
int slot_record(const char *boot, int slot, char *version, size_t size, unsigned long long *serial);

/* Running slot from the kernel command line (icenet.slot=), -1 if absent; *trial set from
 * icenet.trial=1. */
int running_slot(const struct conf *c, int *trial);

/* state_dir/last-install: write `text`; read it into buf ("" if none). */
void last_install_write(const struct conf *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void last_install_read(const struct conf *c, char *buf, size_t size);

#endif
