/*
 * Service files: /etc/icenet/services/<name>, one `key = value` per line
 * (format in init/README.md). Parsing never stops at the first error: every bad
 * line is reported as "file:line: reason" and the service is marked invalid.
 */
#ifndef ICENET_CONF_H
#define ICENET_CONF_H

#include <stddef.h>

#define MAXARGS 64
#define MAXENV 32
#define MAXDEPS 16
#define MAXLISTEN 8

enum restart { R_ALWAYS, R_ON_FAILURE, R_NEVER };
enum ready { RD_STARTED, RD_NOTIFY_FD, RD_SD_NOTIFY };
enum logto { LOG_FILE, LOG_CONSOLE, LOG_NONE };
enum ltype { L_TCP, L_UDP, L_UNIX };

struct listen_conf {
	enum ltype type;
	char *addr; /* "host:port", "[v6]:port" or an absolute path */
	char *name; /* LISTEN_FDNAMES entry */
	unsigned mode; /* unix sockets: permission bits */
};

struct svc_conf {
	char *name;
	char *file;
	char *argv[MAXARGS + 1];
	int argc;
	char *env[MAXENV + 1];
	int nenv;
	char *cwd, *user, *group;
	char *depends[MAXDEPS];
	int ndepends;
	char *after[MAXDEPS];
	int nafter;
	int oneshot;
	enum restart restart;
	enum ready ready;
	long stop_timeout_ms, backoff_ms, backoff_max_ms, backoff_reset_ms;
	long start_timeout_ms; /* 0: none */
	int trigger_burst; /* activate = connect: at most this many starts ... */
	long trigger_interval_ms; /* ... within this time, or it fails */
	enum logto log;
	long log_max;
	struct listen_conf listen[MAXLISTEN];
	int nlisten;
	int lazy; /* activate = connect: start on the first connection */
	int errors; /* number of errors reported; >0 means "do not start" */
};

/* Receives one error message ("file:line: reason"). */
typedef void conf_report_fn(void *arg, const char *msg);

/* Parse a service file from memory. Never returns NULL except on ENOMEM. */
struct svc_conf *conf_parse_buf(const char *file, const char *name, const char *buf,
				size_t len, conf_report_fn *report, void *arg);
/* Read and parse a file; an unreadable file gives a conf with errors = 1. */
struct svc_conf *conf_parse_file(const char *path, const char *name, conf_report_fn *report,
				 void *arg);
void conf_free(struct svc_conf *c);
/* Service names: [A-Za-z0-9_.@-], 1..63 chars, not starting with '.'. */
int conf_name_ok(const char *name);
/* Split a command line into argv (quotes "..." '...' and \ escapes). -1: unterminated
 * quote, -2: too many arguments. `out` receives a malloc'ed buffer holding the words. */
int conf_split(const char *s, char **argv, int max, char **out);
/* Call fn for each line that is neither blank nor a comment, trimmed, with its number;
 * a line too long or holding a NUL byte comes with text = 0 and the reason in why. */
typedef void conf_line_fn(void *arg, int line, char *text, const char *why);
void conf_lines(const char *buf, size_t len, conf_line_fn *fn, void *arg);
/* Split "key = value" in place (spaces around '=' dropped): 0, or -1 without '='. */
int conf_kv(char *line, char **k, char **v);
/* Read a whole file into buf: 0, or -1 with errno (EFBIG: cap bytes or more). */
int conf_read(const char *path, char *buf, size_t cap, size_t *len);
/* "500ms", "5s", "2m", bare number = seconds, into ms. -1: not a duration. */
int conf_duration(const char *v, long *ms);

#endif
