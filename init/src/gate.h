/*
 * The boot health gate: once every enabled service is up, run the health command (if
 * any); then say good (run on_good) or bad (run on_bad), once. A small states x events
 * table like svc.c's; nothing blocks: its children are reaped by the poll loop.
 */
#ifndef ICENET_GATE_H
#define ICENET_GATE_H

#include <stddef.h>
#include <sys/types.h>

#include "bootconf.h"
#include "svc.h"

enum gstate { G_OFF, G_WAITING, G_HEALTH, G_GOOD, G_BAD, G_STOPPED, NGSTATES };

struct gate {
	enum gstate state;
	struct boot_conf conf;
	long long deadline, hdeadline; /* CLOCK_MONOTONIC ms: the gate's, the health command's */
	long long at; /* ms since init's start when it entered its state */
	pid_t health, act; /* running health command, on_good or on_bad */
	int act_status, act_done;
	char reason[320];
};

/* Read `file` (0: no gate, as with --supervise alone) and start waiting. Missing file:
 * the defaults, if on_good's program exists; else the gate is off. */
void gate_setup(struct sup *sup, const char *file);
/* After scheduling: look at the services and the deadlines. Returns the poll timeout
 * it needs (-1: none). */
int gate_check(struct sup *sup);
/* A child was reaped: 1 if it was the gate's. */
int gate_reaped(struct sup *sup, pid_t pid, int status);
/* The `gate ...` line of `icenetctl boot`; returns its length. */
size_t gate_status(const struct sup *sup, char *buf, size_t cap);
/* The `boot slot=... trial=... version=...` line, from /proc/cmdline and os-release. */
size_t gate_boot_line(char *buf, size_t cap);

#endif
