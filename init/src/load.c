/* Loading and reloading the service directory. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "msg.h"
#include "sock.h"
#include "svc.h"

static void report(void *arg, const char *m)
{
	(void)arg;
	msg("error", "%s", m);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static struct svc *svc_new(struct svc_conf *c)
{
	struct svc *s = calloc(1, sizeof *s);
	if (!s) return 0;
	s->c = c;
	s->want = 1;
	s->backoff_ms = c->backoff_ms;
	s->ready_ms = -1;
	s->notify_rd = s->notify_sock = s->log_rd = s->log_wr = s->log_fd = -1;
	for (int i = 0; i < MAXLISTEN; i++) s->lfd[i] = -1;
	return s;
}

static void close_sockets(struct svc *s)
{
	for (int i = 0; i < MAXLISTEN; i++)
		if (s->lfd[i] >= 0) close(s->lfd[i]), s->lfd[i] = -1;
}

/* Bind the listen lines that have no socket yet; on failure the service is marked bad
 * (the others stay bound, the next reload tries again). */
static void bind_sockets(struct svc *s)
{
	for (int i = 0; i < s->c->nlisten; i++) {
		const char *what;
		if (s->lfd[i] >= 0) continue;
		if ((s->lfd[i] = sock_listen(&s->c->listen[i], &what)) < 0) {
			snprintf(s->bad, sizeof s->bad, "unable to %s %s: %s", what,
				 s->c->listen[i].addr, strerror(errno));
			msg("error", "%s: %s", s->c->name, s->bad);
			return;
		}
	}
}

/* A new file for a known service: lfd[i] must be the socket of its listen[i]. A line
 * with the type and address of an old one keeps that socket (its name may change, a unix
 * socket gets the new mode): closing and binding again could fail while the running
 * service or a child between fork and exec holds it. The sockets of dropped lines are
 * closed (a running service keeps its own copies until it stops); new lines are bound
 * by bind_sockets. */
static void carry_sockets(struct svc *s, const struct svc_conf *old, const struct svc_conf *c)
{
	int lfd[MAXLISTEN];
	for (int i = 0; i < MAXLISTEN; i++) lfd[i] = -1;
	for (int i = 0; i < c->nlisten; i++) {
		const struct listen_conf *x = &c->listen[i];
		for (int j = 0; j < old->nlisten && lfd[i] < 0; j++) {
			const struct listen_conf *y = &old->listen[j];
			if (s->lfd[j] < 0 || x->type != y->type || strcmp(x->addr, y->addr)) continue;
			lfd[i] = s->lfd[j];
			s->lfd[j] = -1;
			if (x->type == L_UNIX && x->mode != y->mode && chmod(x->addr, x->mode))
				warnx("%s: unable to chmod %s: %s", c->name, x->addr, strerror(errno));
		}
	}
	close_sockets(s);
	memcpy(s->lfd, lfd, sizeof lfd);
}

static int rebuild_graph(struct sup *sup)
{
	struct svc_conf **c = malloc(((size_t)sup->n + 1) * sizeof *c);
	struct gnode *g = realloc(sup->g, ((size_t)sup->n + 1) * sizeof *g);
	int *order = realloc(sup->order, ((size_t)sup->n + 1) * sizeof *order);
	if (g) sup->g = g;
	if (order) sup->order = order;
	if (!c || !g || !order) {
		free(c);
		return -1;
	}
	for (int i = 0; i < sup->n; i++) c[i] = sup->v[i]->c;
	graph_build(c, sup->n, g, report, 0);
	graph_order(g, sup->n, order);
	free(c);
	for (int i = 0; i < sup->n; i++) {
		struct svc *s = sup->v[i];
		s->bad[0] = 0;
		if (s->c->errors) snprintf(s->bad, sizeof s->bad, "invalid service file %s", s->c->file);
		else if (g[i].bad[0]) snprintf(s->bad, sizeof s->bad, "%s", g[i].bad);
		else bind_sockets(s);
	}
	return 0;
}

int sup_load(struct sup *sup)
{
	DIR *d = opendir(sup->dir);
	if (!d) {
		msg("error", "unable to open %s: %s", sup->dir, strerror(errno));
		return -1;
	}
	char **names = 0;
	int nn = 0;
	for (struct dirent *e; (e = readdir(d));) {
		char path[4096];
		struct stat st;
		size_t l = strlen(e->d_name);
		if (e->d_name[0] == '.' || e->d_name[l - 1] == '~') continue;
		snprintf(path, sizeof path, "%s/%s", sup->dir, e->d_name);
		if (stat(path, &st) || !S_ISREG(st.st_mode)) continue;
		char **nv = realloc(names, ((size_t)nn + 1) * sizeof *names);
		if (!nv || !(nv[nn] = strdup(e->d_name))) {
			names = nv ? nv : names;
			break;
		}
		names = nv;
		nn++;
	}
	closedir(d);
	qsort(names, (size_t)nn, sizeof *names, cmp);
	for (int i = 0; i < sup->n; i++) sup->v[i]->removed = 1;
	for (int k = 0; k < nn; k++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", sup->dir, names[k]);
		struct svc_conf *c = conf_parse_file(path, names[k], report, 0);
		free(names[k]);
		if (!c) continue;
		struct svc *s = 0;
		for (int i = 0; i < sup->n && !s; i++)
			if (!strcmp(sup->v[i]->c->name, c->name)) s = sup->v[i];
		if (s) {
			s->removed = 0;
			if (c->errors && s->pid) {
				warnx("%s: keeping the running configuration", c->name);
				conf_free(c);
				continue;
			}
			carry_sockets(s, s->c, c);
			conf_free(s->c);
			s->c = c;
			if (s->state == ST_FAILED) { /* may work now */
				s->state = ST_STOPPED;
				s->trig_count = 0;
			}
			continue;
		}
		struct svc **v = realloc(sup->v, ((size_t)sup->n + 1) * sizeof *v);
		if (!v || !(s = svc_new(c))) {
			if (v) sup->v = v;
			conf_free(c);
			continue;
		}
		sup->v = v;
		if (sup->shutdown) s->want = 0;
		sup->v[sup->n++] = s;
	}
	free(names);
	for (int i = 0; i < sup->n; i++)
		if (sup->v[i]->removed) sup_stop(sup, sup->v[i]);
	return rebuild_graph(sup);
}

void sup_gc(struct sup *sup)
{
	int m = 0, freed = 0;
	for (int i = 0; i < sup->n; i++) {
		struct svc *s = sup->v[i];
		if (s->removed && (s->state == ST_STOPPED || s->state == ST_FAILED || s->state == ST_DONE)) {
			close_sockets(s);
			group_remove(sup, s);
			int fds[] = {s->notify_rd, s->notify_sock, s->log_rd, s->log_wr, s->log_fd};
			for (size_t k = 0; k < sizeof fds / sizeof *fds; k++)
				if (fds[k] >= 0) close(fds[k]);
			infox("%s: removed", s->c->name);
			conf_free(s->c);
			free(s);
			freed = 1;
		} else sup->v[m++] = s;
	}
	sup->n = m;
	if (freed) rebuild_graph(sup);
}
