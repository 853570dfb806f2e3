/* The control socket (server side in init) and the icenetctl client. */
#ifndef ICENET_CTL_H
#define ICENET_CTL_H

#include <poll.h>

#include "svc.h"

#define CTL_DEFAULT "/run/icenet/control"
#define CTL_MAXCLIENTS 8
#define CTL_MAXCLIENTS_S "8" /* the same, for messages */

struct ctl_client {
	int fd; /* -1: free slot */
	char in[256];
	size_t inlen;
	char *out;
	size_t outlen, outoff;
};

struct ctl {
	int fd;
	struct ctl_client cl[CTL_MAXCLIENTS];
};

/* Bind the control socket (mode 0600; parent directory created 0755). */
int ctl_open(struct ctl *ctl, const char *path);
/* The listening socket is readable: accept a client (root only). */
void ctl_accept(struct ctl *ctl);
/* Poll events of a client: read its command, run it, write the answer. */
void ctl_client_io(struct ctl *ctl, struct sup *sup, struct ctl_client *c, short revents);
/* The poll events a client waits for. */
short ctl_client_events(const struct ctl_client *c);
/* icenetctl: send argv as one command line and print the answer. */
int ctl_main(int argc, char **argv);

#endif
