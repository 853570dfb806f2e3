/* Messages and clocks: one message format everywhere (s6 style). */
#ifndef ICENET_MSG_H
#define ICENET_MSG_H

#define PROG "icenet-init"

/* Exit codes of the tools (s6 convention). */
#define EXIT_USAGE 100
#define EXIT_SYS 111
#define EXIT_EXEC 127

/* The program name messages start with (default PROG). */
void msg_prog(const char *name);
/* Also send messages to /dev/kmsg (PID 1 in boot mode). Failure is not fatal. */
void msg_kmsg(void);
/* `quiet` on the kernel command line: information only to /dev/kmsg (if open), not
 * the console; warnings still go to both. */
void msg_quiet(void);
/* Print "icenet-init: <level>: <text>" on stderr (and kmsg). */
void msg(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define warnx(...) msg("warning", __VA_ARGS__)
#define infox(...) msg("info", __VA_ARGS__)
/* Fatal set-up error: print "fatal: <text>: <errno text>" and exit(EXIT_SYS). */
void die_sys(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* mkdir -p: 0, or -1 with errno (an existing directory is fine). */
int mkdir_p(const char *path, unsigned mode);

/* CLOCK_MONOTONIC in milliseconds. */
long long now_ms(void);

#endif
