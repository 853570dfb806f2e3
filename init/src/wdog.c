#include "wdog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bootconf.h"
#include "msg.h"

/* <linux/watchdog.h>, a stable ABI: a musl toolchain need not carry the kernel's headers. */
struct watchdog_info {
	uint32_t options, firmware_version;
	uint8_t identity[32];
};
#define WDIOC_GETSUPPORT _IOR('W', 0, struct watchdog_info)
#define WDIOC_KEEPALIVE _IOR('W', 5, int)
#define WDIOC_SETTIMEOUT _IOWR('W', 6, int)
#define WDIOC_GETTIMEOUT _IOR('W', 7, int)

static struct {
	int fd;
	int timeout_s;
	long long next; /* CLOCK_MONOTONIC ms of the next feed */
	const char *dev;
	char ident[33];
	char why[160]; /* not armed: why, for status */
} w = {.fd = -1, .why = "not PID 1 of the machine (--supervise)"};

long wdog_timeout(long conf_s)
{
	char text[4096], v[16];
	size_t len;
	snprintf(w.why, sizeof w.why, "watchdog = off in " BOOTCONF_PATH);
	if (conf_read("/proc/cmdline", text, sizeof text - 1, &len)) return conf_s;
	text[len] = 0;
	if (!boot_cmdline_arg(text, "icenet.watchdog", v, sizeof v)) return conf_s;
	long s = boot_watchdog_value(v);
	if (s < 0) {
		warnx("icenet.watchdog=%s on the kernel command line: not off or whole seconds; ignored", v);
		return conf_s;
	}
	snprintf(w.why, sizeof w.why, "icenet.watchdog=%s on the kernel command line", v);
	return s;
}

int wdog_open(long want)
{
	static const char *const devs[] = {"/dev/watchdog", "/dev/watchdog0"};
	int e = ENOENT;
	if (!want) {
		infox("watchdog off: %s", w.why);
		return -1;
	}
	for (int i = 0; i < 2 && w.fd < 0; i++) {
		/* CLOEXEC: no service inherits it. Closing it never stops it (we never write
		 * the magic 'V'): an exec'ed emergency shell still gets the reset. */
		if ((w.fd = open(devs[i], O_WRONLY | O_CLOEXEC)) >= 0) w.dev = devs[i];
		else if (e == ENOENT) e = errno;
	}
	if (w.fd < 0) {
		snprintf(w.why, sizeof w.why, "unable to open /dev/watchdog: %s", strerror(e));
		if (e == ENOENT) infox("no hardware watchdog (/dev/watchdog)");
		else warnx("%s", w.why);
		return -1;
	}
	int t = (int)want;
	if (ioctl(w.fd, WDIOC_SETTIMEOUT, &t)) {
		/* Out of the driver's range: keep what it has, and say so. */
		int keep = errno;
		if (ioctl(w.fd, WDIOC_GETTIMEOUT, &t) || t <= 0) t = 1;
		warnx("%s: unable to set the timeout to %ld s: %s; it stays at %d s", w.dev, want,
		      strerror(keep), t);
	}
	w.timeout_s = t;
	struct watchdog_info info = {0};
	if (!ioctl(w.fd, WDIOC_GETSUPPORT, &info)) snprintf(w.ident, sizeof w.ident, "%.32s", (const char *)info.identity);
	wdog_feed();
	infox("watchdog %s (%s) armed: %d s", w.dev, w.ident, t);
	return 0;
}

void wdog_none(const char *why)
{
	snprintf(w.why, sizeof w.why, "%s", why);
}

void wdog_feed(void)
{
	if (w.fd < 0) return;
	/* A failure cannot be helped: the next feed tries again. */
	if (ioctl(w.fd, WDIOC_KEEPALIVE, 0) && write(w.fd, "\n", 1) < 0) { /* see above */ }
	w.next = now_ms() + w.timeout_s * 1000LL / 3;
}

int wdog_timer(void)
{
	if (w.fd < 0) return -1;
	long long left = w.next - now_ms();
	if (left <= 0) wdog_feed(), left = w.next - now_ms();
	return (int)left;
}

size_t wdog_status(char *buf, size_t cap)
{
	int n = w.fd >= 0 ? snprintf(buf, cap, "watchdog armed timeout=%ds device=%s identity=\"%s\"\n",
				     w.timeout_s, w.dev, w.ident)
			  : snprintf(buf, cap, "watchdog off reason=\"%s\"\n", w.why);
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}
