/* /etc/icenet/update.conf: `key = value` lines written by the image (see update/README.md). */
#ifndef ICENET_UPDATE_CONF_H
#define ICENET_UPDATE_CONF_H

#include <stddef.h>

enum loader { LOADER_UBOOT, LOADER_SDBOOT };

struct conf {
	char board[64];
	enum loader loader;
	/* Devices: p1 (boot), p2 (root of slot a), p3 (root of slot b); "" = find at run time. */
	char boot_device[256], root_device[2][256];
	char boot_mount[256];   /* where p1 is mounted, or where the tool mounts it */
	char uboot_env[128];    /* the boot state file on p1 (U-Boot env format) */
	char uboot_env_backup[128]; /* its second copy, written after it ("" = none) */
	size_t uboot_env_size;  /* CONFIG_ENV_SIZE of the U-Boot build */
	char uboot_env_defaults[256]; /* text `k=v` lines to start from when no file exists */
	int tries;              /* boot attempts a new slot gets */
	char key[256];          /* trusted public key file(s): `ed25519 <base64>` lines */
	char state_dir[256];    /* last install result */
	char lock[256];         /* one icenet-update at a time (tmpfs: works on a full disk) */
	char cmdline[256];      /* the kernel command line file */
	int reboot;             /* mark-bad on a trial reboots (0 in tests) */
};

/* Defaults, then the file; errors name file, line and key. 0 or -1. */
int conf_load(struct conf *c, const char *path);
/* Parse text (for tests); `where` names it in errors. */
int conf_parse(struct conf *c, const char *text, const char *where);
void conf_defaults(struct conf *c);

#endif
