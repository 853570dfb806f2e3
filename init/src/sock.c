#include "sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int fail(int fd, const char **what, const char *call)
{
	int e = errno;
	if (fd >= 0) close(fd);
	*what = call;
	errno = e;
	return -1;
}

int sock_listen(const struct listen_conf *l, const char **what)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_un un;
	} a;
	socklen_t len;
	memset(&a, 0, sizeof a);
	if (l->type == L_UNIX) {
		a.un.sun_family = AF_UNIX;
		strncpy(a.un.sun_path, l->addr, sizeof a.un.sun_path - 1);
		len = sizeof a.un;
	} else {
		/* addr was validated by the parser: "a.b.c.d:port" or "[v6]:port" */
		char host[64];
		const char *colon = strrchr(l->addr, ':');
		size_t hl = (size_t)(colon - l->addr);
		int v6 = l->addr[0] == '[';
		memcpy(host, l->addr + v6, hl - 2 * v6);
		host[hl - 2 * v6] = 0;
		unsigned short port = htons((unsigned short)strtoul(colon + 1, 0, 10));
		if (v6) {
			a.in6.sin6_family = AF_INET6;
			a.in6.sin6_port = port;
			inet_pton(AF_INET6, host, &a.in6.sin6_addr);
			len = sizeof a.in6;
		} else {
			a.in.sin_family = AF_INET;
			a.in.sin_port = port;
			inet_pton(AF_INET, host, &a.in.sin_addr);
			len = sizeof a.in;
		}
	}
	int type = l->type == L_UDP ? SOCK_DGRAM : SOCK_STREAM;
	int fd = socket(a.sa.sa_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0) return fail(fd, what, "socket");
	int one = 1;
	if (l->type != L_UNIX && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one))
		return fail(fd, what, "setsockopt");
	if (l->type == L_UNIX) { /* replace a stale socket, never another kind of file */
		struct stat st;
		if (lstat(l->addr, &st)) {
			if (errno != ENOENT) return fail(fd, what, "stat");
		} else if (!S_ISSOCK(st.st_mode)) {
			errno = EEXIST;
			return fail(fd, what, "bind");
		} else if (unlink(l->addr)) return fail(fd, what, "unlink");
	}
	if (bind(fd, &a.sa, len)) return fail(fd, what, "bind");
	if (l->type == L_UNIX && chmod(l->addr, l->mode)) return fail(fd, what, "chmod");
	if (type == SOCK_STREAM && listen(fd, 128)) return fail(fd, what, "listen");
	return fd;
}
