/* The boot state of the two slots, read and written through the configured boot loader:
 * U-Boot's environment (icenet_good, icenet_trial, icenet_tries) or systemd-boot's
 * loader entries (icenet-<x>.conf good, icenet-<x>+N[-D].conf on trial). */
#ifndef ICENET_UPDATE_BOOTSTATE_H
#define ICENET_UPDATE_BOOTSTATE_H

#include "conf.h"

struct bootstate {
	int good;  /* slot the boot loader falls back to: 0 = a, 1 = b */
	int trial; /* slot armed or tried as a trial, -1 none */
	int tries; /* boot attempts the trial has left */
	int present[2]; /* systemd-boot: the slot has an entry */
};

/* Read the state from the mounted boot partition `boot`. 0 or -1 (message printed). */
int bs_read(const struct conf *c, const char *boot, struct bootstate *s);
/* Can the boot state be written (U-Boot: an environment file, or defaults to start from)? */
int bs_writable(const struct conf *c, const char *boot);
/* Make `slot` unbootable before it is rewritten (the other slot's state stays). */
int bs_disarm(const struct conf *c, const char *boot, int slot);
/* Arm a trial boot of `slot`, whose files are in slot-<x>/ (kernel: its file name there). */
int bs_arm(const struct conf *c, const char *boot, int slot, const char *kernel);
/* The running `slot` is good: the boot loader boots it from now on. */
int bs_commit(const struct conf *c, const char *boot, int slot);
/* The running trial `slot` failed: no tries left, the next boot takes the good slot. */
int bs_fail(const struct conf *c, const char *boot, int slot);

#endif
