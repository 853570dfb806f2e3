/*
 * The dependency graph of the services: names resolved to indices, missing hard
 * dependencies and cycles found and reported, and a start order.
 */
#ifndef ICENET_GRAPH_H
#define ICENET_GRAPH_H

#include "conf.h"

struct gnode {
	int ndeps, deps[MAXDEPS]; /* `depends`: hard */
	int nafter, after[MAXDEPS]; /* `after`: ordering only; missing ones are dropped */
	char bad[200]; /* non-empty: why this service cannot start */
};

typedef void graph_report_fn(void *arg, const char *msg);

/* Resolve confs[0..n) into g[0..n). Reports "a: depends on missing service 'b'" and
 * "dependency cycle: a -> b -> a"; returns the number of errors. */
int graph_build(struct svc_conf *const *confs, int n, struct gnode *g, graph_report_fn *report,
		void *arg);
/* Fill order[0..n) so that every service comes after what it depends on or is ordered
 * after (ties keep index order); services on or behind a cycle come last. */
void graph_order(const struct gnode *g, int n, int *order);

#endif
