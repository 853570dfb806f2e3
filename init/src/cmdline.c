#include "cmdline.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int boot_cmdline_arg(const char *cmdline, const char *name, char *out, size_t cap)
{
	size_t l = strlen(name);
	int found = 0;
	/* The last one counts, as for the kernel's own parameters. */
	for (const char *p = cmdline; *p;) {
		while (*p == ' ' || *p == '\t' || *p == '\n') p++;
		size_t w = strcspn(p, " \t\n");
		if (w > l && !strncmp(p, name, l) && p[l] == '=' && w - l - 1 < cap) {
			memcpy(out, p + l + 1, w - l - 1);
			out[w - l - 1] = 0;
			found = 1;
		}
		p += w;
	}
	return found;
}

int boot_cmdline_flag(const char *cmdline, const char *word)
{
	size_t l = strlen(word);
	for (const char *p = cmdline; *p;) {
		while (*p == ' ' || *p == '\t' || *p == '\n') p++;
		size_t w = strcspn(p, " \t\n");
		if (w == l && !strncmp(p, word, l)) return 1;
		p += w;
	}
	return 0;
}

int boot_cmdline_read(char *buf, size_t cap)
{
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	ssize_t r = read(fd, buf, cap - 1);
	close(fd);
	if (r < 0) return -1;
	buf[r] = 0;
	return 0;
}
