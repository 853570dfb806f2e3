/* Small helpers shared by icenet-update: one message format, full reads and writes,
 * durable file replacement. */
#ifndef ICENET_UPDATE_UTIL_H
#define ICENET_UPDATE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Exit codes: 0 ok, 1 refused or failed (the message says why), 2 usage, 111 system error. */
enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_SYSTEM = 111 };

/* "icenet-update: <text>" on stderr. */
void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* msg() with ": <strerror(errno)>" appended. */
void msg_sys(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Read exactly n bytes; returns n, fewer at end of input, or -1 on error. */
ssize_t read_full(int fd, void *buf, size_t n);
/* Write all n bytes; 0 or -1. */
int write_full(int fd, const void *buf, size_t n);
/* Read a whole small file into buf (NUL-terminated); its length, or -1. */
ssize_t read_small(const char *path, char *buf, size_t size);
/* Replace path by data durably: path.tmp, fsync, rename, fsync of the directory. */
int replace_file(const char *path, const void *data, size_t n);
/* fsync the directory holding path. */
int fsync_parent(const char *path);
/* Lower-case hex of n bytes into out (2n+1). */
void hex(const uint8_t *in, size_t n, char *out);

#endif
