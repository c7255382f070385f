/* cfg_run — how a service's instances run (SPEC §12): instances "max",
 * user and group, stop_signal, success_exit_codes, env_file and health.
 *
 * User and group names are resolved here, when the config is read (at
 * start and at each reload), as command[0] is looked up: an unknown name
 * is an error of `--check`, and the child only gets numbers. An env_file
 * is read here too, so that `--check` reports its mistakes with their
 * line; it is read again at each spawn (sup_run.c). */
#include "cfg_schema.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "util_signal.h"

#define NAME_BUF 16384 /* getpwnam_r / getgrnam_r scratch space */

static const char *const health_keys[] = {"http", "command", NULL};

/* ---- instances: "max" ---- */

/* CPUs muster may run on: its affinity mask (taskset, systemd's
 * CPUAffinity=), not every CPU of the machine. */
static int cpus(const struct cfg_env *env) {
  cpu_set_t set;
  if (env->ncpu > 0)
    return env->ncpu;
  if (sched_getaffinity(0, sizeof(set), &set) != 0)
    return 1;
  return CPU_COUNT(&set);
}

/* Reads "instances": an integer, or "max". */
static void read_instances(struct cfg__ctx *x, const cJSON *obj, const char *path,
                           struct cfg_service *s) {
  char p[CFG__PATH_MAX], *str;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "instances");
  if (!cJSON_IsString(v)) {
    cfg__read_ints(x, obj, path, cfg__instances_int, s);
    return;
  }
  s->instances = 1;
  cfg__join(p, sizeof(p), path, "instances");
  if (cfg__string(x, v, p, &str) != 0)
    return;
  if (strcmp(str, "max") == 0) {
    int n = cpus(x->env);
    s->instances = n < 1 ? 1 : n > 1024 ? 1024 : n;
    s->instances_max = 1;
  } else {
    cfg__err(x, p, "must be 1..1024 or \"max\", got \"%s\"", str);
  }
  free(str);
}

/* ---- user and group ---- */

/* The ids muster runs with. */
static void self_ids(const struct cfg_env *env, uid_t *uid, gid_t *gid) {
  *uid = env->fake_ids ? env->uid : geteuid();
  *gid = env->fake_ids ? env->gid : getegid();
}

/* Resolves user name into a (uid, primary gid, login, home). */
static int find_user(struct cfg__ctx *x, const char *p, const char *name, struct cfg_identity *as) {
  struct passwd pw, *res = NULL;
  char *buf = malloc(NAME_BUF);
  int rc = buf ? getpwnam_r(name, &pw, buf, NAME_BUF, &res) : ENOMEM;
  if (res == NULL) {
    if (rc == 0 || rc == ENOENT || rc == ESRCH)
      cfg__err(x, p, "unknown user \"%s\"", name);
    else
      cfg__err(x, p, "cannot look up user \"%s\": %s", name, strerror(rc));
    free(buf);
    return -1;
  }
  as->uid = pw.pw_uid;
  as->gid = pw.pw_gid;
  as->login = strdup(pw.pw_name);
  as->home = strdup(pw.pw_dir);
  free(buf);
  if (as->login == NULL || as->home == NULL) {
    cfg__err(x, p, "out of memory");
    return -1;
  }
  return 0;
}

/* Resolves group name into *gid. */
static int find_group(struct cfg__ctx *x, const char *p, const char *name, gid_t *gid) {
  struct group gr, *res = NULL;
  char *buf = malloc(NAME_BUF);
  int rc = buf ? getgrnam_r(name, &gr, buf, NAME_BUF, &res) : ENOMEM;
  if (res != NULL)
    *gid = gr.gr_gid;
  else if (rc == 0 || rc == ENOENT || rc == ESRCH)
    cfg__err(x, p, "unknown group \"%s\"", name);
  else
    cfg__err(x, p, "cannot look up group \"%s\": %s", name, strerror(rc));
  free(buf);
  return res != NULL ? 0 : -1;
}

/* Without root, nothing can change in the child: the user and the group
 * must be muster's own. Returns 0 or -1 (reported). */
static int check_unprivileged(struct cfg__ctx *x, const char *path, struct cfg_identity *as,
                              uid_t uid, gid_t gid) {
  char p[CFG__PATH_MAX];
  if (as->user && as->uid != uid) {
    cfg__join(p, sizeof(p), path, "user");
    cfg__err(x, p,
             "\"%s\" is not muster's own user (muster runs as uid %u): running instances "
             "as another user needs muster to run as root",
             as->user, (unsigned)uid);
    return -1;
  }
  if (as->gid != gid && (as->group || as->user)) {
    cfg__join(p, sizeof(p), path, as->group ? "group" : "user");
    cfg__err(x, p,
             "group %u is not muster's own (gid %u): running instances with another group "
             "needs muster to run as root",
             (unsigned)as->gid, (unsigned)gid);
    return -1;
  }
  as->set_uid = as->set_gid = 0; /* already so */
  return 0;
}

/* Reads "user" and "group". */
static void read_identity(struct cfg__ctx *x, const cJSON *obj, const char *path,
                          struct cfg_identity *as) {
  char pu[CFG__PATH_MAX], pg[CFG__PATH_MAX];
  uid_t uid;
  gid_t gid;
  self_ids(x->env, &uid, &gid);
  cfg__join(pu, sizeof(pu), path, "user");
  cfg__join(pg, sizeof(pg), path, "group");
  if (cfg__get_string(x, obj, path, "user", NULL, &as->user) != 0 ||
      cfg__get_string(x, obj, path, "group", NULL, &as->group) != 0)
    return;
  if (as->user == NULL && as->group == NULL)
    return;
  as->uid = uid;
  as->gid = gid;
  if (as->user && find_user(x, pu, as->user, as) != 0)
    return;
  if (as->group && find_group(x, pg, as->group, &as->gid) != 0)
    return;
  as->set_uid = as->user != NULL;
  as->set_gid = 1;
  if (uid != 0)
    check_unprivileged(x, path, as, uid, gid);
}

/* ---- stop_signal and success_exit_codes ---- */

/* Reads "stop_signal" (default SIGTERM). */
static void read_stop_signal(struct cfg__ctx *x, const cJSON *obj, const char *path,
                             struct cfg_service *s) {
  char p[CFG__PATH_MAX], *name;
  s->stop_signal = SIGTERM;
  if (cfg__get_string(x, obj, path, "stop_signal", NULL, &name) != 0 || name == NULL)
    return;
  int sig = util_signal_parse(name);
  if (sig != 0) {
    s->stop_signal = sig;
  } else {
    cfg__join(p, sizeof(p), path, "stop_signal");
    cfg__err(x, p,
             "\"%s\" is not a signal muster sends; one of " UTIL_SIGNAL_NAMES
             " (SIG may be left out)",
             name);
  }
  free(name);
}

/* Reads "success_exit_codes": exit codes 0..255 (default [0]). */
static void read_success(struct cfg__ctx *x, const cJSON *obj, const char *path,
                         struct cfg_service *s) {
  char p[CFG__PATH_MAX], pi[CFG__PATH_MAX];
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "success_exit_codes");
  memset(s->success_exit, 0, sizeof(s->success_exit));
  s->success_exit[0] = 1; /* exit code 0 */
  if (v == NULL)
    return;
  cfg__join(p, sizeof(p), path, "success_exit_codes");
  if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0) {
    cfg__err(x, p, "must be a non-empty array of exit codes (0..255), got %s",
             cJSON_IsArray(v) ? "[]" : cfg__type_name(v));
    return;
  }
  memset(s->success_exit, 0, sizeof(s->success_exit));
  size_t i = 0;
  for (const cJSON *it = v->child; it != NULL; it = it->next, i++) {
    double d = cJSON_IsNumber(it) ? it->valuedouble : -1;
    int code = (int)d;
    cfg__join_index(pi, sizeof(pi), p, i);
    if (!cJSON_IsNumber(it) || d != (double)code || code < 0 || code > 255)
      cfg__err(x, pi, "must be an exit code 0..255");
    else if (cfg_success_exit(s, code))
      cfg__err(x, pi, "duplicate exit code %d", code);
    else
      s->success_exit[code >> 3] |= (uint8_t)(1u << (code & 7));
  }
}

/* ---- env_file ---- */

/* Reads "env_file": a path ("-path": may be missing), read now so that
 * `--check` names a missing file or a bad line. */
static void read_env_file(struct cfg__ctx *x, const cJSON *obj, const char *path,
                          struct cfg_service *s, struct cfg_env_var **vars, size_t *nvars) {
  char p[CFG__PATH_MAX], err[512], *raw;
  cfg__join(p, sizeof(p), path, "env_file");
  if (cfg__get_string(x, obj, path, "env_file", NULL, &raw) != 0 || raw == NULL)
    return;
  s->env_file_optional = raw[0] == '-';
  const char *file = raw + s->env_file_optional;
  if (file[0] == '\0') {
    cfg__err(x, p, "must be a path");
  } else if ((s->env_file = cfg_path_resolve(x->env->dir, file)) == NULL) {
    cfg__err(x, p, "out of memory");
  } else {
    int rc = cfg_envfile_read(s->env_file, vars, nvars, err, sizeof(err));
    if (rc != 0 && !(rc == UV_ENOENT && s->env_file_optional))
      cfg__err(x, p, "%s", err);
    for (size_t i = 0; rc == 0 && i < *nvars; i++)
      if (cfg_env_reserved((*vars)[i].name))
        cfg__err(x, p, "%s: %s is reserved: muster sets it for each instance", s->env_file,
                 (*vars)[i].name);
  }
  free(raw);
}

/* ---- health ---- */

/* The PORT an http check would use, as the config knows it now: an
 * upstream's own (instance 0's into buf), else env wins over env_file,
 * which wins over muster's own environment. */
static const char *known_port(struct cfg__ctx *x, const struct cfg_service *s,
                              const struct cfg_env_var *vars, size_t nvars, char buf[16]) {
  if (s->upstream.enabled && s->upstream.port) {
    snprintf(buf, 16, "%d", s->upstream.port);
    return buf;
  }
  for (size_t i = 0; i < s->nenv; i++)
    if (strcmp(s->env[i].name, "PORT") == 0)
      return s->env[i].value;
  for (size_t i = 0; i < nvars; i++)
    if (strcmp(vars[i].name, "PORT") == 0)
      return vars[i].value;
  return x->env->getenv ? x->env->getenv(x->env->getenv_ctx, "PORT") : NULL;
}

/* Reads "health.http": a path to GET; the port must be known. */
static void read_health_http(struct cfg__ctx *x, const cJSON *v, const char *p,
                             struct cfg_service *s, const char *port) {
  if (cfg__string(x, v, p, &s->health.path) != 0)
    return;
  s->health.kind = CFG_HEALTH_HTTP;
  const char *bad = s->health.path[0] != '/' ? "must start with '/'" : NULL;
  for (const unsigned char *c = (const unsigned char *)s->health.path; !bad && *c; c++)
    if (*c <= 0x20 || *c == 0x7f || *c == '#')
      bad = "must not contain spaces, control characters or '#'";
  char *end = NULL;
  long n = port ? strtol(port, &end, 10) : 0;
  if (bad)
    cfg__err(x, p, "\"%s\" %s", s->health.path, bad);
  else if (port == NULL)
    cfg__err(x, p, "no port to check: set PORT in env or env_file (the program listens there)");
  else if (end == port || *end != '\0' || n < 1 || n > 65535)
    cfg__err(x, p, "PORT \"%s\" is not a port (1..65535)", port);
}

/* Reads "health": {"http": PATH} or {"command": [...]}. */
static void read_health(struct cfg__ctx *x, const cJSON *obj, const char *path,
                        struct cfg_service *s, const struct cfg_env_var *vars, size_t nvars) {
  char p[CFG__PATH_MAX], pk[CFG__PATH_MAX], portbuf[16];
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "health");
  if (v == NULL)
    return;
  cfg__join(p, sizeof(p), path, "health");
  if (cfg__check_object(x, v, p, health_keys) != 0)
    return;
  const cJSON *http = cJSON_GetObjectItemCaseSensitive(v, "http");
  const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(v, "command");
  if ((http == NULL) == (cmd == NULL)) {
    cfg__err(x, p, "must have one of \"http\" and \"command\"");
    return;
  }
  if (s->heartbeat_ms == 0)
    cfg__err(x, p, "needs heartbeat_ms > 0: a check runs every heartbeat_ms");
  cfg__join(pk, sizeof(pk), p, http ? "http" : "command");
  if (http) {
    read_health_http(x, http, pk, s, known_port(x, s, vars, nvars, portbuf));
  } else {
    s->health.kind = CFG_HEALTH_COMMAND;
    cfg__read_argv(x, cmd, pk, &s->health.command, &s->health.ncommand);
  }
}

void cfg__parse_run(struct cfg__ctx *x, const cJSON *obj, const char *path, struct cfg_service *s) {
  struct cfg_env_var *vars = NULL;
  size_t nvars = 0;
  read_instances(x, obj, path, s);
  read_identity(x, obj, path, &s->as);
  cfg__parse_proc(x, obj, path, &s->proc);
  read_stop_signal(x, obj, path, s);
  read_success(x, obj, path, s);
  read_env_file(x, obj, path, s, &vars, &nvars);
  read_health(x, obj, path, s, vars, nvars);
  cfg_env_vars_free(vars, nvars);
}
