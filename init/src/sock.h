/* Listening sockets for socket activation (systemd's LISTEN_FDS protocol). */
#ifndef ICENET_SOCK_H
#define ICENET_SOCK_H

#include "conf.h"

/* Create, bind and listen on one socket (close-on-exec, blocking). A unix path may hold
 * a stale socket, which is replaced; any other file there is an error (EEXIST). Returns
 * the fd, or -1 with errno set and `what` naming the failed call. */
int sock_listen(const struct listen_conf *l, const char **what);

#endif
