/*
 * The whole userspace of the kernel boot test: PID 1 in a one-file initramfs.
 * Prints a marker with the kernel release and the guest uptime (the kernel-to-
 * userspace time on the guest's clock), then powers the machine off.
 * Built with the host's gcc or Debian's cross gcc: -static -Wall -Wextra -Werror.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

static void fail(const char *what)
{
	printf("ICENET-BOOT-FAIL unable to %s: %s\n", what, strerror(errno));
	fflush(stdout);
}

int main(void)
{
	char up[64] = "?";
	struct utsname u;

	if (mkdir("/proc", 0555) < 0 && errno != EEXIST)
		fail("create /proc");
	if (mount("proc", "/proc", "proc", 0, NULL) < 0) {
		fail("mount /proc");
	} else {
		int fd = open("/proc/uptime", O_RDONLY);
		ssize_t n = fd < 0 ? -1 : read(fd, up, sizeof(up) - 1);

		if (n > 0)
			up[strcspn(up, " \n")] = '\0';
		else
			fail("read /proc/uptime");
		if (fd >= 0)
			close(fd);
	}
	if (uname(&u) < 0) {
		fail("uname");
		strcpy(u.release, "?");
		strcpy(u.machine, "?");
	}
	printf("ICENET-BOOT-OK release=%s machine=%s uptime=%s\n", u.release, u.machine, up);
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	fail("power off");
	for (;;)
		pause();
}
