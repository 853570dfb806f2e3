/* graph_build() and graph_order(): order, missing dependencies and cycles. */
#include <stdlib.h>

#include "graph.h"
#include "test.h"

static char errs[8][256];
static int nerrs;

static void collect(void *arg, const char *m)
{
	(void)arg;
	if (nerrs < 8) snprintf(errs[nerrs++], sizeof errs[0], "%s", m);
}

/* specs: "name:dep,dep:after,after" */
static int build(const char *const *specs, int n, struct svc_conf **c, struct gnode *g)
{
	for (int i = 0; i < n; i++) {
		char buf[256], text[512];
		snprintf(buf, sizeof buf, "%s", specs[i]);
		char *name = buf, *deps = strchr(name, ':'), *after = 0;
		*deps++ = 0;
		after = strchr(deps, ':');
		*after++ = 0;
		for (char *p = deps; *p; p++) if (*p == ',') *p = ' ';
		for (char *p = after; *p; p++) if (*p == ',') *p = ' ';
		snprintf(text, sizeof text, "command = /bin/true\n%s%s%s%s%s%s", *deps ? "depends = " : "",
			 deps, *deps ? "\n" : "", *after ? "after = " : "", after, *after ? "\n" : "");
		c[i] = conf_parse_buf(name, name, text, strlen(text), 0, 0);
	}
	nerrs = 0;
	return graph_build(c, n, g, collect, 0);
}

static void order_names(struct svc_conf **c, const struct gnode *g, int n, char *out)
{
	int order[16];
	graph_order(g, n, order);
	out[0] = 0;
	for (int i = 0; i < n; i++) strcat(strcat(out, i ? " " : ""), c[order[i]]->name);
}

int main(void)
{
	static const struct {
		const char *what;
		const char *specs[8];
		int n;
		const char *order;
		int errors;
		const char *err0;
		int bad[8];
	} rows[] = {
		{"no dependencies keep index order", {"a::", "b::", "c::"}, 3, "a b c", 0, "", {0}},
		{"depends puts the dependency first", {"app:db:", "db:net:", "net::"}, 3, "net db app", 0, "", {0}},
		{"after orders too", {"a::b", "b::"}, 2, "b a", 0, "", {0}},
		{"diamond", {"top:l,r:", "l:base:", "r:base:", "base::"}, 4, "base l r top", 0, "", {0}},
		{"missing hard dependency names both", {"web:db:", "x::"}, 2, "web x", 1,
		 "web: depends on missing service 'db'", {1, 0}},
		{"missing after is ignored", {"web::db"}, 1, "web", 0, "", {0}},
		{"cycle names its services", {"a:b:", "b:c:", "c:a:", "d::", "e:a:"}, 5, "d a b c e", 1,
		 "dependency cycle: a -> b -> c -> a", {1, 1, 1, 0, 0}},
		{"cycle through after", {"a::b", "b::a", "ok::"}, 3, "ok a b", 1,
		 "dependency cycle: a -> b -> a", {1, 1, 0}},
	};
	for (size_t r = 0; r < sizeof rows / sizeof *rows; r++) {
		struct svc_conf *c[8];
		struct gnode g[8];
		char order[256];
		int e = build(rows[r].specs, rows[r].n, c, g);
		CHECK(e == rows[r].errors, "%s: %d errors, want %d", rows[r].what, e, rows[r].errors);
		if (rows[r].errors) CHECK_STR(errs[0], rows[r].err0, rows[r].what);
		for (int i = 0; i < rows[r].n; i++)
			CHECK(!!g[i].bad[0] == rows[r].bad[i], "%s: %s bad=\"%s\"", rows[r].what, c[i]->name, g[i].bad);
		order_names(c, g, rows[r].n, order);
		CHECK_STR(order, rows[r].order, rows[r].what);
		for (int i = 0; i < rows[r].n; i++) conf_free(c[i]);
	}
	return test_done("test_graph");
}
