/* cfg_schema — internal to config/: the typed readers the section parsers
 * (cfg_host.c, cfg_service.c, cfg_route.c) share, and the integer tables.
 *
 * Every reader reports its problem as "PATH: message" and leaves a usable
 * value behind (the default, or NULL), so parsing goes on and a single
 * `--check` shows every problem. Names are cfg__*: shared, not public. */
#ifndef MUSTER_CFG_SCHEMA_H
#define MUSTER_CFG_SCHEMA_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

#define CFG__PATH_MAX 256 /* longest "services[12].routes[3].prefix" kept */

/* The state of one cfg_parse(). */
struct cfg__ctx {
  const struct cfg_env *env; /* file, directories, variable lookup */
  struct cfg_errors *errs;   /* where problems go */
  int failed;                /* problems reported so far */
};

/* An integer field of a section: its key, where it is stored, its range. */
struct cfg__int_field {
  const char *key; /* JSON key; NULL ends a table */
  size_t offset;   /* offsetof() the field in its struct */
  size_t size;     /* sizeof the field: int or int64_t */
  int64_t def;     /* value when the key is absent */
  int64_t min;     /* smallest value allowed (besides 0 when zero_ok) */
  int64_t max;     /* largest value allowed */
  int zero_ok;     /* 1 when 0 is allowed too ("off") */
};

extern const struct cfg__int_field cfg__gateway_ints[];
extern const struct cfg__int_field cfg__logs_ints[];
extern const struct cfg__int_field cfg__service_ints[];
extern const struct cfg__int_field cfg__instances_int[];
extern const struct cfg__int_field cfg__restart_ints[];
extern const struct cfg__int_field cfg__realtime_ints[];
extern const struct cfg__int_field cfg__upstream_ints[];
extern const struct cfg__int_field cfg__tcp_ints[];

/* Reports "PATH: message" (or just the message when path is ""). */
void cfg__err(struct cfg__ctx *x, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "parent.key" (or "key" at the top) into buf. */
void cfg__join(char *buf, size_t n, const char *parent, const char *key);
/* Writes "parent[i]" into buf. */
void cfg__join_index(char *buf, size_t n, const char *parent, size_t i);

/* Returns the JSON type of v as a message word: "a string", "null", ... */
const char *cfg__type_name(const cJSON *v);

/* Checks that obj (at path) is an object with only the given keys (a NULL-
 * terminated list), each at most once; reports each stray key with a hint.
 * Returns 0, or -1 when obj is not an object at all (also reported). */
int cfg__check_object(struct cfg__ctx *x, const cJSON *obj, const char *path,
                      const char *const keys[]);

/* Reads every integer of table from obj into the struct at base: the default
 * when absent, the default plus a report when of the wrong type or range. */
void cfg__read_ints(struct cfg__ctx *x, const cJSON *obj, const char *path,
                    const struct cfg__int_field *table, void *base);

/* Reads the number obj[key] (at parent.key) into *out: def when absent;
 * def and a report when it is not a number within min..max. Returns 0 or
 * -1. */
int cfg__get_number(struct cfg__ctx *x, const cJSON *obj, const char *parent, const char *key,
                    double def, double min, double max, double *out);

/* Reads the boolean obj[key] into *out: def when absent. Returns 0 or -1
 * (reported: not true or false; *out is then def). */
int cfg__get_bool(struct cfg__ctx *x, const cJSON *obj, const char *parent, const char *key,
                  int def, int *out);

/* Stores the expansion of string value v (at path) in *out (malloc'd).
 * Returns 0, or -1 with *out NULL and the problem reported (not a string,
 * bad ${...}). */
int cfg__string(struct cfg__ctx *x, const cJSON *v, const char *path, char **out);

/* Reads the string obj[key] into *out: a copy of def (NULL stays NULL) when
 * absent. Returns 0 or -1 (reported; *out is then the default). */
int cfg__get_string(struct cfg__ctx *x, const cJSON *obj, const char *parent, const char *key,
                    const char *def, char **out);

/* Reads the string obj[key], one of words (NULL-terminated): *out is its
 * index, words[0] the default. Returns 0, or -1 (reported; *out is then
 * 0). */
int cfg__get_choice(struct cfg__ctx *x, const cJSON *obj, const char *parent, const char *key,
                    const char *const *words, int *out);

/* As cfg__get_string, then resolves a non-empty result against the config
 * directory. */
int cfg__get_path(struct cfg__ctx *x, const cJSON *obj, const char *parent, const char *key,
                  const char *def, char **out);

/* Stores a copy of s in *out; reports "out of memory" at path on failure.
 * Returns 0 or -1. */
int cfg__strdup(struct cfg__ctx *x, const char *path, const char *s, char **out);

/* ---- The sections (each reads one part of the document into c) ---- */

/* gateway, admin, control, logs (cfg_host.c). */
void cfg__parse_host(struct cfg__ctx *x, const cJSON *root, struct cfg *c);
/* Reads the listen address obj.listen (default def) into l (cfg_host.c). */
void cfg__read_listen(struct cfg__ctx *x, const cJSON *obj, const char *parent, const char *def,
                      struct cfg_listen *l);
/* Reads obj[key] (at parent.key): an array of addresses and blocks
 * (cfg_host.c). */
void cfg__read_cidrs(struct cfg__ctx *x, const cJSON *obj, const char *parent, const char *key,
                     struct util_cidr **out, size_t *n);
/* gateway.rate_limit (cfg_ratelimit.c): reads v (may be NULL) into
 * g->rate_limit. */
void cfg__parse_rate_limit(struct cfg__ctx *x, const cJSON *v, struct cfg_gateway *g);
/* gateway.compression (cfg_compress.c): reads v (may be NULL). */
void cfg__parse_compression(struct cfg__ctx *x, const cJSON *v, struct cfg_gateway *g);
/* gateway.tls (cfg_tls.c): reads v (not NULL) into g->tls. */
void cfg__parse_tls(struct cfg__ctx *x, const cJSON *v, struct cfg_gateway *g);
/* Frees what g->tls owns (cfg_tls.c). */
void cfg__tls_free(struct cfg_gateway *g);
/* services[] (cfg_service.c). */
void cfg__parse_services(struct cfg__ctx *x, const cJSON *root, struct cfg *c);
/* services[i].routes (cfg_route.c): reads v into s->routes. */
void cfg__parse_routes(struct cfg__ctx *x, const cJSON *v, const char *path, struct cfg_service *s);
/* A route's "prefix" string v (at path), normalised, into r->prefix; its
 * "host" into r->host, lower-cased (cfg_route.c). Reported when bad. */
void cfg__route_prefix(struct cfg__ctx *x, const cJSON *v, const char *path, struct cfg_route *r);
void cfg__route_host(struct cfg__ctx *x, const cJSON *v, const char *path, struct cfg_route *r);
/* 1 when routes a and b claim the same prefix and host (cfg_route.c). */
int cfg__same_route(const struct cfg_route *a, const struct cfg_route *b);
/* static[] (cfg_static.c), its checks against the services' routes, and
 * what it owns. */
void cfg__parse_static(struct cfg__ctx *x, const cJSON *root, struct cfg *c);
void cfg__static_free(struct cfg *c);
/* realtime (cfg_realtime.c). */
void cfg__parse_realtime(struct cfg__ctx *x, const cJSON *root, struct cfg *c);
/* cluster (cfg_realtime.c). */
void cfg__parse_cluster(struct cfg__ctx *x, const cJSON *root, struct cfg *c);
/* Parses "redis://[:PASSWORD@]HOST[:PORT]" into c. Returns 0 or UV_EINVAL with
 * a reason in err. */
int cfg__redis_url(const char *url, struct cfg_cluster *c, char *err, size_t errlen);
/* services[i].ws (cfg_realtime.c). */
void cfg__parse_service_ws(struct cfg__ctx *x, const cJSON *v, const char *path,
                           struct cfg_service *s);
/* services[i].upstream (cfg_upstream.c): reads v into s->upstream; needs
 * s->instances read first. */
void cfg__parse_service_upstream(struct cfg__ctx *x, const cJSON *v, const char *path,
                                 struct cfg_service *s);
/* tcp[] (cfg_upstream.c). */
void cfg__parse_tcp(struct cfg__ctx *x, const cJSON *root, struct cfg *c);
/* The checks of upstreams and TCP routes across services (cfg_upstream.c). */
void cfg__check_upstreams(struct cfg__ctx *x, const struct cfg *c);
/* Frees the TCP routes of c (cfg_upstream.c). */
void cfg__tcp_free(struct cfg *c);
/* Reports every prefix+host served by two routes (cfg_route.c). */
void cfg__check_route_conflicts(struct cfg__ctx *x, const struct cfg *c);
/* Frees what s owns (cfg.c). */
void cfg__service_free(struct cfg_service *s);
/* Reads a command array v (at path p) into *argv / *n, NULL-terminated,
 * its program looked up like services[].command (cfg_service.c). */
void cfg__read_argv(struct cfg__ctx *x, const cJSON *v, const char *p, char ***argv, size_t *n);
/* How a service's instances run (cfg_run.c): instances ("max"), user and
 * group, stop_signal, success_exit_codes, env_file, health. After env. */
void cfg__parse_run(struct cfg__ctx *x, const cJSON *obj, const char *path, struct cfg_service *s);
/* services[].umask, nice, limits (cfg_proc.c). */
void cfg__parse_proc(struct cfg__ctx *x, const cJSON *obj, const char *path, struct cfg_proc *p);

/* services[].watch, watch_ignore, watch_delay_ms (cfg_watch.c), after
 * cwd: relative paths are the service's. */
void cfg__parse_watch(struct cfg__ctx *x, const cJSON *obj, const char *path,
                      struct cfg_service *s);
/* 1 when a and b watch the same way (cfg_watch.c). */
int cfg__watch_equal(const struct cfg_watch *a, const struct cfg_watch *b);
void cfg__watch_free(struct cfg_watch *w);

/* services[i].depends_on (cfg_deps.c), and the graph once every service
 * is read: unknown names, duplicates and cycles. */
void cfg__read_depends(struct cfg__ctx *x, const cJSON *obj, const char *path,
                       struct cfg_service *s);
void cfg__check_deps(struct cfg__ctx *x, const struct cfg *c);
/* The top-level "hooks" (cfg_hooks.c). */
void cfg__parse_hooks(struct cfg__ctx *x, const cJSON *root, struct cfg *c);

#endif
