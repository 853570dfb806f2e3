#include "msg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int kmsg_fd = -1, quiet;
static const char *prog = PROG;

void msg_prog(const char *name)
{
	prog = name;
}

void msg_kmsg(void)
{
	kmsg_fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
}

void msg_quiet(void)
{
	quiet = kmsg_fd >= 0;
}

static void vmsg(const char *level, const char *fmt, va_list ap, const char *tail)
{
	/* Three bytes ahead of the line for a kernel log level: one write, one record. */
	char out[3 + 512], *buf = out + 3;
	int cap = 512;
	int n = snprintf(buf, cap, "%s: %s: ", prog, level);
	n += vsnprintf(buf + n, cap - (size_t)n, fmt, ap);
	if (n > cap - 2) n = cap - 2;
	if (tail) n += snprintf(buf + n, cap - (size_t)n, ": %s", tail);
	if (n > cap - 2) n = cap - 2;
	buf[n++] = '\n';
	/* Best effort: a lost message must never stop init. Quiet, information goes to the
	 * kernel log only, at KERN_INFO (below the console's level under `quiet`). Whatever
	 * went to the console already is logged at a level the kernel does not echo there
	 * (KERN_WARNING under `quiet`, KERN_DEBUG otherwise): echoed, each line was shown
	 * twice, and the two copies could interleave mid-line. */
	int hushed = quiet && !strcmp(level, "info");
	if (!hushed && write(2, buf, (size_t)n) < 0) { /* nothing to do */ }
	memcpy(out, hushed ? "<6>" : quiet ? "<4>" : "<7>", 3);
	if (kmsg_fd >= 0 && write(kmsg_fd, out, (size_t)n + 3) < 0) { /* idem */ }
}

void msg(const char *level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(level, fmt, ap, 0);
	va_end(ap);
}

void die_sys(const char *fmt, ...)
{
	const char *e = strerror(errno);
	va_list ap;
	va_start(ap, fmt);
	vmsg("fatal", fmt, ap, e);
	va_end(ap);
	exit(EXIT_SYS);
}

long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mkdir_p(const char *path, unsigned mode)
{
	char buf[4096];
	if (strlen(path) >= sizeof buf) return errno = ENAMETOOLONG, -1;
	strcpy(buf, path);
	for (char *p = buf + 1;; p++) {
		if (*p && *p != '/') continue;
		char c = *p;
		*p = 0;
		if (mkdir(buf, mode) && errno != EEXIST) return -1;
		if (!(*p = c)) return 0;
	}
}
