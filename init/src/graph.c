#include "graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int find(struct svc_conf *const *c, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(c[i]->name, name)) return i;
	return -1;
}

static int edges(const struct gnode *g, int i, int k)
{
	return k < g[i].ndeps ? g[i].deps[k] : g[i].after[k - g[i].ndeps];
}

struct dfs {
	struct svc_conf *const *c;
	struct gnode *g;
	char *color; /* 0 new, 1 on stack, 2 done */
	int *stack, depth, errors;
	graph_report_fn *report;
	void *arg;
};

static void cycle(struct dfs *d, int from)
{
	char buf[sizeof d->g[0].bad];
	int n = snprintf(buf, sizeof buf, "dependency cycle: ");
	for (int k = from; k < d->depth && n < (int)sizeof buf; k++)
		n += snprintf(buf + n, sizeof buf - (size_t)n, "%s -> ", d->c[d->stack[k]]->name);
	if (n < (int)sizeof buf) snprintf(buf + n, sizeof buf - (size_t)n, "%s", d->c[d->stack[from]]->name);
	for (int k = from; k < d->depth; k++) {
		struct gnode *x = &d->g[d->stack[k]];
		if (!x->bad[0]) memcpy(x->bad, buf, sizeof buf);
	}
	d->errors++;
	if (d->report) d->report(d->arg, buf);
}

static void visit(struct dfs *d, int i)
{
	d->color[i] = 1;
	d->stack[d->depth++] = i;
	for (int k = 0; k < d->g[i].ndeps + d->g[i].nafter; k++) {
		int j = edges(d->g, i, k);
		if (d->color[j] == 0) visit(d, j);
		else if (d->color[j] == 1) {
			int from = d->depth - 1;
			while (d->stack[from] != j) from--;
			cycle(d, from);
		}
	}
	d->depth--;
	d->color[i] = 2;
}

int graph_build(struct svc_conf *const *c, int n, struct gnode *g, graph_report_fn *report,
		void *arg)
{
	int errors = 0;
	for (int i = 0; i < n; i++) {
		struct gnode *x = &g[i];
		memset(x, 0, sizeof *x);
		for (int k = 0; k < c[i]->ndepends; k++) {
			int j = find(c, n, c[i]->depends[k]);
			if (j >= 0) {
				x->deps[x->ndeps++] = j;
				continue;
			}
			char m[sizeof x->bad + 80];
			if (!x->bad[0])
				snprintf(x->bad, sizeof x->bad, "depends on missing service '%s'",
					 c[i]->depends[k]);
			snprintf(m, sizeof m, "%s: depends on missing service '%s'", c[i]->name,
				 c[i]->depends[k]);
			errors++;
			if (report) report(arg, m);
		}
		for (int k = 0; k < c[i]->nafter; k++) {
			int j = find(c, n, c[i]->after[k]);
			if (j >= 0) x->after[x->nafter++] = j;
		}
	}
	struct dfs d = {c, g, calloc((size_t)n + 1, 1), calloc((size_t)n + 1, sizeof(int)), 0, 0,
			report, arg};
	if (!d.color || !d.stack) {
		free(d.color);
		free(d.stack);
		return errors + 1;
	}
	for (int i = 0; i < n; i++)
		if (!d.color[i]) visit(&d, i);
	free(d.color);
	free(d.stack);
	return errors + d.errors;
}

void graph_order(const struct gnode *g, int n, int *order)
{
	char *placed = calloc((size_t)n + 1, 1);
	int m = 0;
	/* Repeated passes: O(n^2 * deps), fine for a few hundred services. */
	for (int progress = 1; progress && m < n;) {
		progress = 0;
		for (int i = 0; i < n; i++) {
			if (placed ? placed[i] : 0) continue;
			int ok = 1;
			for (int k = 0; ok && k < g[i].ndeps + g[i].nafter; k++)
				ok = placed && placed[edges(g, i, k)];
			if (!ok || !placed) continue;
			placed[i] = 1;
			order[m++] = i;
			progress = 1;
			break; /* restart so that ties keep index order */
		}
	}
	for (int i = 0; i < n && m < n; i++)
		if (!placed || !placed[i]) order[m++] = i;
	free(placed);
}
