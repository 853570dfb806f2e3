/* The kernel command line (/proc/cmdline): its parameters, as init reads them. */
#ifndef ICENET_CMDLINE_H
#define ICENET_CMDLINE_H

#include <stddef.h>

/* The value of `name=value` on a kernel command line into out: 1 found, 0 not. */
int boot_cmdline_arg(const char *cmdline, const char *name, char *out, size_t cap);
/* Is the bare word `word` (like "quiet") on it? */
int boot_cmdline_flag(const char *cmdline, const char *word);
/* /proc/cmdline into buf (cap bytes with the NUL): 0, or -1 with errno. */
int boot_cmdline_read(char *buf, size_t cap);

#endif
