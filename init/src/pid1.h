/* PID 1 duties: early mounts, hostname, fstab, and the final shutdown. */
#ifndef ICENET_PID1_H
#define ICENET_PID1_H

/* Mount /proc, /sys, /dev, /dev/pts, /run, /tmp; set the hostname; mount /etc/fstab.
 * Failures are warnings: PID 1 goes on with what it has. Returns 1 when we are the
 * machine's init, 0 in a container (PID 1 of a PID namespace). */
int pid1_setup(void);
/* Kill what is left, sync, unmount (boot mode) and reboot(2). Never returns. */
void pid1_finish(int cmd, int unmount) __attribute__((noreturn));
/* Last resort when init cannot run: exec a shell on the console. Never returns. */
void pid1_emergency(void) __attribute__((noreturn));

#endif
