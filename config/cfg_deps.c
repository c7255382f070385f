/* cfg_deps — services[].depends_on and the graph they make.
 *
 * Each entry names another service; once every service is read the graph
 * is checked: an unknown name, a name given twice, and every cycle
 * (a service depending on itself included) are errors. A cycle is
 * reported once, at the service where the walk closes it (for a plain
 * loop, the first of its services in the file), with its path:
 *
 *   services[0].depends_on: cycle api → db → api
 *
 * The walk is a depth-first search over the services in file order with
 * the usual three colours; it is pure and unit-tested
 * (tests/unit/test_cfg.c). */
#include "cfg_schema.h"

#include <stdlib.h>
#include <string.h>

enum { WHITE = 0, GREY, BLACK };

/* Reads "depends_on": an array of service names. */
void cfg__read_depends(struct cfg__ctx *x, const cJSON *obj, const char *path,
                       struct cfg_service *s) {
  char p[CFG__PATH_MAX], pi[CFG__PATH_MAX];
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "depends_on");
  if (v == NULL)
    return;
  cfg__join(p, sizeof(p), path, "depends_on");
  if (!cJSON_IsArray(v)) {
    cfg__err(x, p, "must be an array of service names, got %s", cfg__type_name(v));
    return;
  }
  int n = cJSON_GetArraySize(v);
  if (n == 0)
    return;
  if ((s->depends_on = calloc((size_t)n + 1, sizeof(*s->depends_on))) == NULL) {
    cfg__err(x, p, "out of memory");
    return;
  }
  size_t i = 0;
  for (const cJSON *it = v->child; it != NULL; it = it->next, i++) {
    char *name;
    cfg__join_index(pi, sizeof(pi), p, i);
    if (cfg__string(x, it, pi, &name) != 0)
      continue;
    int dup = 0;
    for (size_t k = 0; k < s->ndepends && !dup; k++)
      dup = strcmp(s->depends_on[k], name) == 0;
    if (dup) {
      cfg__err(x, pi, "\"%s\" is listed twice", name);
      free(name);
      continue;
    }
    s->depends_on[s->ndepends++] = name;
  }
}

/* The index of the service called name, or -1. */
static long index_of(const struct cfg *c, const char *name) {
  for (size_t i = 0; i < c->nservices; i++)
    if (c->services[i].name != NULL && strcmp(c->services[i].name, name) == 0)
      return (long)i;
  return -1;
}

/* The state of one walk: colours, the path from the root, what is left. */
struct walk {
  struct cfg__ctx *x;
  const struct cfg *c;
  unsigned char *colour; /* per service */
  size_t *stack;         /* the grey services, root first */
  size_t depth;
};

/* Reports the cycle that closes at service `at` (grey, on the stack). */
static void report_cycle(struct walk *w, size_t at) {
  char p[CFG__PATH_MAX], msg[1024] = "cycle ";
  size_t from = 0;
  while (w->stack[from] != at)
    from++;
  for (size_t k = from; k < w->depth; k++) {
    size_t len = strlen(msg);
    snprintf(msg + len, sizeof(msg) - len, "%s \xe2\x86\x92 ", w->c->services[w->stack[k]].name);
  }
  size_t len = strlen(msg);
  snprintf(msg + len, sizeof(msg) - len, "%s", w->c->services[at].name);
  snprintf(p, sizeof(p), "services[%zu].depends_on", at);
  cfg__err(w->x, p, "%s", msg);
}

/* Visits service i and what it depends on. */
static void visit(struct walk *w, size_t i) {
  const struct cfg_service *s = &w->c->services[i];
  w->colour[i] = GREY;
  w->stack[w->depth++] = i;
  for (size_t k = 0; k < s->ndepends; k++) {
    long j = index_of(w->c, s->depends_on[k]);
    if (j < 0)
      continue; /* reported as unknown */
    if (w->colour[j] == GREY)
      report_cycle(w, (size_t)j);
    else if (w->colour[j] == WHITE)
      visit(w, (size_t)j);
  }
  w->depth--;
  w->colour[i] = BLACK;
}

/* Reports each depends_on entry that names no service. */
static void check_names(struct cfg__ctx *x, const struct cfg *c) {
  char p[CFG__PATH_MAX];
  for (size_t i = 0; i < c->nservices; i++) {
    const struct cfg_service *s = &c->services[i];
    for (size_t k = 0; k < s->ndepends; k++) {
      if (index_of(c, s->depends_on[k]) >= 0)
        continue;
      snprintf(p, sizeof(p), "services[%zu].depends_on[%zu]", i, k);
      cfg__err(x, p, "unknown service \"%s\"", s->depends_on[k]);
    }
  }
}

void cfg__check_deps(struct cfg__ctx *x, const struct cfg *c) {
  struct walk w = {x, c, NULL, NULL, 0};
  check_names(x, c);
  if (c->nservices == 0)
    return;
  w.colour = calloc(c->nservices, 1);
  w.stack = calloc(c->nservices, sizeof(*w.stack));
  if (w.colour == NULL || w.stack == NULL) {
    cfg__err(x, "services", "out of memory");
  } else {
    for (size_t i = 0; i < c->nservices; i++)
      if (w.colour[i] == WHITE && c->services[i].name != NULL)
        visit(&w, i);
  }
  free(w.colour);
  free(w.stack);
}
