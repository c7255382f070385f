/* cfg_service — the services[] array: one supervised program each.
 * Routes are read by cfg_route.c, integer ranges live in cfg_schema.c. */
#include "cfg_schema.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

static const char *const service_keys[] = {"name",
                                           "command",
                                           "instances",
                                           "routes",
                                           "env",
                                           "cwd",
                                           "restart",
                                           "ready",
                                           "autostart",
                                           "ready_timeout_ms",
                                           "ready_after_ms",
                                           "heartbeat_ms",
                                           "heartbeat_misses",
                                           "watchdog_ms",
                                           "stop_timeout_ms",
                                           "max_inflight",
                                           "max_memory_mb",
                                           "depends_on",
                                           "user",
                                           "group",
                                           "stop_signal",
                                           "success_exit_codes",
                                           "env_file",
                                           "health",
                                           "ws",
                                           "upstream",
                                           "watch",
                                           "cron_restart",
                                           "umask",
                                           "nice",
                                           "limits",
                                           "watch_ignore",
                                           "watch_delay_ms",
                                           NULL};
static const char *const restart_keys[] = {"policy",       "backoff_initial_ms", "backoff_max_ms",
                                           "max_restarts", "window_s",           NULL};

/* Variables muster sets for every instance (SPEC §3); env may not hide them. */
static const char *const reserved_env[] = {"MUSTER_CHANNEL_FD",
                                           "NODE_CHANNEL_FD",
                                           "NODE_CHANNEL_SERIALIZATION_MODE",
                                           "MUSTER_SERVICE",
                                           "MUSTER_INSTANCE",
                                           "NODE_APP_INSTANCE",
                                           "MUSTER_WS_ACK",
                                           NULL};

/* Returns 1 when s matches [A-Za-z0-9_.-]{1,64}. */
static int valid_name(const char *s) {
  size_t n = strlen(s);
  if (n < 1 || n > 64)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
          ch == '_' || ch == '.' || ch == '-'))
      return 0;
  }
  return 1;
}

/* Reads the required "name". */
static void read_name(struct cfg__ctx *x, const cJSON *obj, const char *path,
                      struct cfg_service *s) {
  char p[CFG__PATH_MAX];
  cfg__join(p, sizeof(p), path, "name");
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "name");
  if (v == NULL) {
    cfg__err(x, p, "required");
    return;
  }
  if (cfg__string(x, v, p, &s->name) != 0)
    return;
  const char *bad = !valid_name(s->name)          ? "must match [A-Za-z0-9_.-]{1,64}"
                    : strcmp(s->name, "all") == 0 ? "is reserved: `musterctl restart all` "
                                                    "(start, stop) names every service"
                                                  : NULL;
  if (bad) {
    cfg__err(x, p, "\"%s\" %s", s->name, bad);
    free(s->name);
    s->name = NULL;
  }
}

/* Replaces argv[0] by the program it names (see cfg_path_find_command). */
static void find_program(struct cfg__ctx *x, const char *p, char **argv) {
  const struct cfg_env *env = x->env;
  const char *word = argv[0];
  char *abs;
  if (word[0] == '\0') {
    cfg__err(x, p, "the program name must not be empty");
    return;
  }
  int rc = cfg_path_find_command(word, env->dir, env->bin_dir, env->path, &abs);
  if (rc == 0) {
    free(argv[0]);
    argv[0] = abs;
  } else if (rc == UV_ENOMEM) {
    cfg__err(x, p, "out of memory");
  } else if (rc == UV_EACCES) {
    cfg__err(x, p, "\"%s\" is not an executable file", word);
  } else if (strchr(word, '/') != NULL) {
    cfg__err(x, p, "\"%s\" not found", word);
  } else if (env->bin_dir != NULL) {
    cfg__err(x, p, "\"%s\" not found next to muster (%s) or on PATH", word, env->bin_dir);
  } else {
    cfg__err(x, p, "\"%s\" not found on PATH", word);
  }
}

/* Reads a command (at p): a non-empty array of strings whose first names a
 * program that is looked up. */
void cfg__read_argv(struct cfg__ctx *x, const cJSON *v, const char *p, char ***argv, size_t *n) {
  char pi[CFG__PATH_MAX];
  int count = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
  if (cJSON_IsString(v) && strchr(v->valuestring, ' ') != NULL) { /* supervisord's way */
    cfg__err(x, p,
             "must be a non-empty array of strings, got a string: write each argument as "
             "its own string, [\"%.*s\", ...] (there is no shell)",
             (int)strcspn(v->valuestring, " "), v->valuestring);
    return;
  }
  if (count == 0) {
    cfg__err(x, p, "must be a non-empty array of strings, got %s",
             cJSON_IsArray(v) ? "[]" : cfg__type_name(v));
    return;
  }
  *argv = calloc((size_t)count + 1, sizeof(**argv));
  if (*argv == NULL) {
    cfg__err(x, p, "out of memory");
    return;
  }
  *n = (size_t)count;
  size_t i = 0;
  int bad = 0;
  for (const cJSON *it = v->child; it != NULL; it = it->next, i++) {
    cfg__join_index(pi, sizeof(pi), p, i);
    bad |= cfg__string(x, it, pi, &(*argv)[i]) != 0;
  }
  if (!bad)
    find_program(x, p, *argv);
}

/* Reads the required "command". */
static void read_command(struct cfg__ctx *x, const cJSON *obj, const char *path,
                         struct cfg_service *s) {
  char p[CFG__PATH_MAX];
  cfg__join(p, sizeof(p), path, "command");
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "command");
  if (v == NULL)
    cfg__err(x, p, "required");
  else
    cfg__read_argv(x, v, p, &s->command, &s->ncommand);
}

int cfg_env_reserved(const char *name) {
  for (size_t i = 0; reserved_env[i] != NULL; i++)
    if (strcmp(name, reserved_env[i]) == 0)
      return 1;
  return 0;
}

/* Returns 1 when name may be given in "env". */
static int env_name_ok(struct cfg__ctx *x, const char *p, const char *name) {
  if (name[0] == '\0' || strchr(name, '=') != NULL) {
    cfg__err(x, p, "a variable name must be non-empty, without '='");
    return 0;
  }
  if (cfg_env_reserved(name)) {
    cfg__err(x, p, "reserved: muster sets it for each instance");
    return 0;
  }
  return 1;
}

/* The value of one "env" entry: a string (expanded), or a number or a
 * boolean written as its JSON text ({"PORT": 3000} as PM2's ecosystem
 * files and docker-compose take it). Returns 0 or -1 (reported). */
static int env_value(struct cfg__ctx *x, const cJSON *v, const char *p, char **out) {
  if (!cJSON_IsNumber(v) && !cJSON_IsBool(v)) {
    if (cJSON_IsString(v))
      return cfg__string(x, v, p, out);
    cfg__err(x, p, "must be a string, a number or a boolean, got %s", cfg__type_name(v));
    return -1;
  }
  if ((*out = cJSON_PrintUnformatted(v)) == NULL) {
    cfg__err(x, p, "out of memory");
    return -1;
  }
  return 0;
}

/* Reads "env": an object of strings (or numbers, booleans), kept in order. */
static void read_env(struct cfg__ctx *x, const cJSON *obj, const char *path,
                     struct cfg_service *s) {
  char p[CFG__PATH_MAX], pk[CFG__PATH_MAX];
  cfg__join(p, sizeof(p), path, "env");
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "env");
  if (v == NULL)
    return;
  if (!cJSON_IsObject(v)) {
    cfg__err(x, p, "must be an object of strings, got %s", cfg__type_name(v));
    return;
  }
  int n = cJSON_GetArraySize(v);
  if (n == 0)
    return;
  s->env = calloc((size_t)n, sizeof(*s->env));
  if (s->env == NULL) {
    cfg__err(x, p, "out of memory");
    return;
  }
  for (const cJSON *it = v->child; it != NULL; it = it->next) {
    cfg__join(pk, sizeof(pk), p, it->string);
    if (!env_name_ok(x, pk, it->string))
      continue;
    int dup = 0;
    for (const cJSON *e = v->child; e != it && !dup; e = e->next)
      dup = strcmp(e->string, it->string) == 0;
    if (dup) {
      cfg__err(x, pk, "duplicate key");
      continue;
    }
    struct cfg_env_var *ev = &s->env[s->nenv];
    if (env_value(x, it, pk, &ev->value) != 0)
      continue;
    if (cfg__strdup(x, pk, it->string, &ev->name) != 0) {
      free(ev->value);
      ev->value = NULL;
      continue;
    }
    s->nenv++;
  }
}

/* Reads "cwd" (default: the config directory), which must be a directory. */
static void read_cwd(struct cfg__ctx *x, const cJSON *obj, const char *path,
                     struct cfg_service *s) {
  char p[CFG__PATH_MAX];
  struct stat st;
  cfg__join(p, sizeof(p), path, "cwd");
  if (cfg__get_path(x, obj, path, "cwd", ".", &s->cwd) != 0 || s->cwd == NULL)
    return;
  if (stat(s->cwd, &st) != 0)
    cfg__err(x, p, "\"%s\": %s", s->cwd, strerror(errno));
  else if (!S_ISDIR(st.st_mode))
    cfg__err(x, p, "\"%s\" is not a directory", s->cwd);
}

/* Reads "restart": policy and backoff. */
static void read_restart(struct cfg__ctx *x, const cJSON *obj, const char *path,
                         struct cfg_restart *r) {
  static const char *const policies[] = {"always", "on-failure", "never"};
  char p[CFG__PATH_MAX], pp[CFG__PATH_MAX];
  char *policy;
  cfg__join(p, sizeof(p), path, "restart");
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "restart");
  if (v != NULL && cfg__check_object(x, v, p, restart_keys) != 0)
    v = NULL;
  r->policy = CFG_RESTART_ALWAYS;
  if (cfg__get_string(x, v, p, "policy", "always", &policy) == 0 && policy != NULL) {
    size_t i = 0;
    while (i < 3 && strcmp(policy, policies[i]) != 0)
      i++;
    if (i < 3) {
      r->policy = (enum cfg_restart_policy)i;
    } else {
      cfg__join(pp, sizeof(pp), p, "policy");
      cfg__err(x, pp, "must be one of always, on-failure, never; got \"%s\"", policy);
    }
  }
  free(policy);
  cfg__read_ints(x, v, p, cfg__restart_ints, r);
  if (r->backoff_max_ms < r->backoff_initial_ms) {
    cfg__join(pp, sizeof(pp), p, "backoff_max_ms");
    cfg__err(x, pp, "must be >= backoff_initial_ms (%d)", r->backoff_initial_ms);
  }
}

/* Reads "ready": "message" (the default: the program speaks IPC),
 * "running" (a worker: ready once spawned, no channel), "exited" (a
 * one-shot job: done once it exits cleanly, no channel) or "notify" (it
 * sends READY=1 to its NOTIFY_SOCKET, no channel), and refuses what those
 * cannot have: routes, ws, an upstream (it has upstream.ready). A job
 * restarts on failure unless told otherwise, never after success. */
static void read_ready(struct cfg__ctx *x, const cJSON *obj, const char *path,
                       struct cfg_service *s) {
  static const char *const words[] = {"message", "running", "exited", "notify", NULL};
  static const enum cfg_ready ready_of[] = {CFG_READY_MESSAGE, CFG_READY_RUNNING, CFG_READY_EXITED,
                                            CFG_READY_NOTIFY};
  char p[CFG__PATH_MAX];
  int r = 0;
  s->ready = CFG_READY_MESSAGE;
  if (cJSON_GetObjectItemCaseSensitive(obj, "ready") == NULL)
    return;
  cfg__join(p, sizeof(p), path, "ready");
  if (s->upstream.enabled) {
    cfg__err(x, p, "not for an upstream service: it gets ready by upstream.ready");
    return;
  }
  if (cfg__get_choice(x, obj, path, "ready", words, &r) != 0)
    return;
  s->ready = ready_of[r];
  if (s->ready != CFG_READY_MESSAGE && s->nroutes > 0) {
    cfg__join(p, sizeof(p), path, "routes");
    cfg__err(x, p,
             "a service with ready \"%s\" has no channel to take requests; a program "
             "that serves HTTP is an upstream service",
             words[r]);
  }
  if (s->ready != CFG_READY_MESSAGE && s->ws_ack) {
    cfg__join(p, sizeof(p), path, "ws");
    cfg__err(x, p, "applies to IPC services only, not to one with ready \"%s\"", words[r]);
  }
  const cJSON *rs = cJSON_GetObjectItemCaseSensitive(obj, "restart");
  int policy_given = cJSON_IsObject(rs) && cJSON_GetObjectItemCaseSensitive(rs, "policy") != NULL;
  if (s->ready == CFG_READY_EXITED && !policy_given) {
    s->restart.policy = CFG_RESTART_ON_FAILURE;
  } else if (s->ready == CFG_READY_EXITED && s->restart.policy == CFG_RESTART_ALWAYS) {
    cfg__join(p, sizeof(p), path, "restart.policy");
    cfg__err(x, p,
             "a one-shot job (ready \"exited\") restarted after it succeeds never completes; "
             "use \"on-failure\" (its default) or \"never\"");
  }
}

/* "cron_restart": a cron expression (util_cron) that must match some
 * minute to come. */
static void read_cron(struct cfg__ctx *x, const cJSON *obj, const char *path,
                      struct cfg_service *s) {
  char p[CFG__PATH_MAX], why[200];
  if (cfg__get_string(x, obj, path, "cron_restart", NULL, &s->cron_text) != 0 ||
      s->cron_text == NULL)
    return;
  cfg__join(p, sizeof(p), path, "cron_restart");
  if (util_cron_parse(s->cron_text, &s->cron, why, sizeof(why)) != 0)
    cfg__err(x, p, "\"%s\": %s", s->cron_text, why);
  else if (util_cron_next(&s->cron, time(NULL)) == (time_t)-1)
    cfg__err(x, p, "\"%s\" matches no day to come", s->cron_text);
}

/* watchdog_ms is systemd's WatchdogSec=: only a program that speaks
 * sd_notify sends WATCHDOG=1. */
static void check_watchdog(struct cfg__ctx *x, const char *path, const struct cfg_service *s) {
  char p[CFG__PATH_MAX];
  if (s->watchdog_ms == 0 || s->ready == CFG_READY_NOTIFY ||
      (s->upstream.enabled && s->upstream.ready == CFG_READY_NOTIFY))
    return;
  cfg__join(p, sizeof(p), path, "watchdog_ms");
  cfg__err(x, p,
           "needs ready \"notify\" (or upstream.ready \"notify\"): only a program that "
           "sends WATCHDOG=1 to its NOTIFY_SOCKET has a watchdog");
}

/* Reads services[i] (at path) into s. */
static void parse_service(struct cfg__ctx *x, const cJSON *obj, const char *path,
                          struct cfg_service *s) {
  char p[CFG__PATH_MAX];
  if (cfg__check_object(x, obj, path, service_keys) != 0)
    return;
  read_name(x, obj, path, s);
  read_command(x, obj, path, s);
  cfg__read_ints(x, obj, path, cfg__service_ints, s);
  const cJSON *routes = cJSON_GetObjectItemCaseSensitive(obj, "routes");
  if (routes != NULL) {
    cfg__join(p, sizeof(p), path, "routes");
    cfg__parse_routes(x, routes, p, s);
  }
  read_env(x, obj, path, s);
  read_cwd(x, obj, path, s);
  cfg__parse_watch(x, obj, path, s); /* after cwd */
  read_restart(x, obj, path, &s->restart);
  const cJSON *ws = cJSON_GetObjectItemCaseSensitive(obj, "ws");
  if (ws != NULL) {
    cfg__join(p, sizeof(p), path, "ws");
    cfg__parse_service_ws(x, ws, p, s);
  }
  const cJSON *up = cJSON_GetObjectItemCaseSensitive(obj, "upstream");
  if (up != NULL) {
    cfg__join(p, sizeof(p), path, "upstream");
    cfg__parse_service_upstream(x, up, p, s);
  }
  read_ready(x, obj, path, s); /* after routes, ws and upstream: what a worker cannot have */
  check_watchdog(x, path, s);  /* after ready and the ints */
  if (cJSON_GetObjectItemCaseSensitive(obj, "ready_after_ms") != NULL &&
      s->ready != CFG_READY_RUNNING) {
    cfg__join(p, sizeof(p), path, "ready_after_ms");
    cfg__err(x, p, "is for a worker (ready \"running\"): the others say when they are ready");
  }
  read_cron(x, obj, path, s);
  int autostart;
  if (cfg__get_bool(x, obj, path, "autostart", 1, &autostart) == 0)
    s->no_autostart = !autostart;
  cfg__read_depends(x, obj, path, s);
  cfg__parse_run(x, obj, path, s); /* after upstream: an http check's port */
}

/* Reports every service name used twice, at its second use. */
static void check_unique_names(struct cfg__ctx *x, const struct cfg *c) {
  char p[CFG__PATH_MAX];
  for (size_t i = 0; i < c->nservices; i++) {
    const char *name = c->services[i].name;
    for (size_t j = 0; name != NULL && j < i; j++) {
      if (c->services[j].name != NULL && strcmp(c->services[j].name, name) == 0) {
        snprintf(p, sizeof(p), "services[%zu].name", i);
        cfg__err(x, p, "duplicate service name \"%s\" (also services[%zu])", name, j);
        break;
      }
    }
  }
}

/* Reads services[] into c and checks the names are unique. */
void cfg__parse_services(struct cfg__ctx *x, const cJSON *root, struct cfg *c) {
  char p[CFG__PATH_MAX];
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "services");
  if (v == NULL)
    return; /* no services: a gateway that answers 404 */
  if (!cJSON_IsArray(v)) {
    cfg__err(x, "services", "must be an array, got %s", cfg__type_name(v));
    return;
  }
  int n = cJSON_GetArraySize(v);
  if (n == 0)
    return;
  c->services = calloc((size_t)n, sizeof(*c->services));
  if (c->services == NULL) {
    cfg__err(x, "services", "out of memory");
    return;
  }
  for (const cJSON *it = v->child; it != NULL; it = it->next) {
    struct cfg_service *s = &c->services[c->nservices++];
    cfg__join_index(p, sizeof(p), "services", c->nservices - 1);
    parse_service(x, it, p, s);
  }
  check_unique_names(x, c);
  cfg__check_deps(x, c);
}
