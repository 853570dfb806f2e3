/* The hardware watchdog (boot mode only): opened once, fed from the poll loop at a
 * third of its timeout and through shutdown until reboot(2); never closed, so a hang
 * anywhere — shutdown included — resets the board. */
#ifndef ICENET_WDOG_H
#define ICENET_WDOG_H

#include <stddef.h>

/* The timeout: boot.conf's `watchdog`, unless the kernel command line has
 * `icenet.watchdog=off|SECONDS` (for machines whose model of the device is broken). */
long wdog_timeout(long conf_s);
/* Open /dev/watchdog (else /dev/watchdog0) and set its timeout: 0 armed, -1 not (said
 * once: info when there is no device or it is off, else a warning). */
int wdog_open(long timeout_s);
/* Not to be armed: why, for status. */
void wdog_none(const char *why);
/* Feed it now (no-op when not armed). */
void wdog_feed(void);
/* Feed it if due; ms until the next feed, -1 when not armed. */
int wdog_timer(void);
/* The `watchdog ...` line of `icenetctl boot`; returns its length. */
size_t wdog_status(char *buf, size_t cap);

#endif
