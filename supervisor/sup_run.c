/* sup_run — one spawned process and its handles: the child's environment,
 * the socketpair on fd 3, the capture pipes, and the closing of it all.
 * The instance (sup_instance.c) decides when; this file does the system
 * calls. See struct sup_run in sup_instance.h. */
#include "sup_run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sup_exec.h"
#include "sup_host.h"
#include "sup_log.h"
#include "sup_proc.h"
#include "sup_pubsub.h"
#include "sup_sdsock.h"
#include "sup_service.h"
#include "util_unix.h"

/* ---- Closing ---- */

static void run_handle_closed(struct sup_run *run) {
  if (--run->open > 0)
    return;
  sup_proc_env_free(run->health_env);
  sup_pubsub_run_done(run->host, run); /* no-op once it left at its exit */
  sup_host_run_closed(run);
  free(run->up_path);
  free(run);
}

/* The process was reaped: the instance's exit, then the process's count. */
static void on_child_exit(struct sup_child *c, int64_t status, int sig) {
  struct sup_run *run = c->data;
  run->on_exit(run, status, sig);
  run_handle_closed(run);
}

static void on_ch_closed(struct ipc_channel *ch) {
  run_handle_closed(ch->data);
}

static void on_capture_closed(struct sup_capture *c) {
  run_handle_closed(c->data);
}

static void on_capture_eof(struct sup_capture *c) {
  sup_capture_close(c, on_capture_closed);
}

static void on_sd_closed(struct sup_sdsock *s) {
  struct sup_run *run = s->data;
  free(s);
  run_handle_closed(run);
}

/* Closes its NOTIFY_SOCKET, if it has one still open. */
static void close_sd(struct sup_run *run) {
  if (run->sd != NULL) {
    sup_sdsock_close(run->sd);
    run->sd = NULL;
  }
}

void sup_run_release(struct sup_run *run) {
  if (!run->no_channel)
    ipc_channel_close(&run->ch, 0, on_ch_closed);
  close_sd(run);
}

void sup_run_force_close(struct sup_run *run) {
  sup_capture_close(&run->out, on_capture_closed);
  sup_capture_close(&run->err, on_capture_closed);
  close_sd(run);
}

/* ---- The child's environment ---- */

/* Reads the service's env_file into *vars (none when it has none, or an
 * optional one is missing). Returns 0, or UV_EINVAL with the reason logged:
 * the spawn fails. */
static int read_env_file(struct sup_instance *inst, struct cfg_env_var **vars, size_t *n) {
  const struct cfg_service *c = inst->svc->cfg;
  char err[600];
  *vars = NULL;
  *n = 0;
  if (c->env_file == NULL)
    return 0;
  int rc = cfg_envfile_read(c->env_file, vars, n, err, sizeof(err));
  if (rc == UV_ENOENT && c->env_file_optional)
    return 0;
  for (size_t i = 0; rc == 0 && i < *n; i++) {
    if (cfg_env_reserved((*vars)[i].name)) {
      snprintf(err, sizeof(err), "%s: %s is reserved: muster sets it for each instance",
               c->env_file, (*vars)[i].name);
      rc = UV_EINVAL;
    }
  }
  if (rc != 0) {
    sup_log(SUP_ERROR, "%s: env_file %s; not spawning", inst->label, err);
    cfg_env_vars_free(*vars, *n);
    *vars = NULL;
    *n = 0;
    return UV_EINVAL;
  }
  return 0;
}

/* Appends "NAME=value" to set[*k]. Returns 0 or -1. */
static int put(char **set, size_t *k, const char *name, const char *value) {
  return asprintf(&set[(*k)++], "%s=%s", name, value) < 0 ? -1 : 0;
}

/* The channel variables of SPEC §3 into set[*k...]. Returns 0 or -1. */
static int channel_vars(char **set, size_t *k) {
  return put(set, k, "MUSTER_CHANNEL_FD", "3") || put(set, k, "NODE_CHANNEL_FD", "3") ||
                 put(set, k, "NODE_CHANNEL_SERIALIZATION_MODE", "json")
             ? -1
             : 0;
}

/* systemd's variables for a program that speaks sd_notify: NOTIFY_SOCKET,
 * and WATCHDOG_USEC with a watchdog (no WATCHDOG_PID: the program may
 * be a wrapper's child, sd_watchdog_enabled(3) then accepts any pid).
 * Returns 0 or -1. */
static int notify_vars(struct sup_run *run, char **set, size_t *k) {
  char usec[32];
  snprintf(usec, sizeof(usec), "%lld", (long long)run->watchdog_ms * 1000);
  return put(set, k, "NOTIFY_SOCKET", run->sd->name) ||
                 (run->watchdog_ms > 0 && put(set, k, "WATCHDOG_USEC", usec))
             ? -1
             : 0;
}

/* The variables of the instance, a later one winning (docs/configuration.md):
 * the user's HOME, USER, LOGNAME; env_file; env; the channel (unless the
 * program does not speak IPC) and instance variables (SPEC §3),
 * MUSTER_WS_ACK with ws.ack, an upstream's PORT or MUSTER_SOCKET
 * (SPEC §9), NOTIFY_SOCKET (ready "notify"). Returns 0 or -1 (out of
 * memory). */
static int fill_set(struct sup_run *run, struct sup_instance *inst, const struct cfg_env_var *file,
                    size_t nfile, char **set, size_t *k) {
  const struct cfg_service *c = inst->svc->cfg;
  char idx[16], port[16];
  snprintf(idx, sizeof(idx), "%d", inst->index);
  snprintf(port, sizeof(port), "%d", run->up_port);
  if (c->as.login && (put(set, k, "HOME", c->as.home) != 0 || put(set, k, "USER", c->as.login) ||
                      put(set, k, "LOGNAME", c->as.login)))
    return -1;
  for (size_t i = 0; i < nfile; i++)
    if (put(set, k, file[i].name, file[i].value) != 0)
      return -1;
  for (size_t i = 0; i < c->nenv; i++)
    if (put(set, k, c->env[i].name, c->env[i].value) != 0)
      return -1;
  if ((!run->no_channel && channel_vars(set, k) != 0) || put(set, k, "MUSTER_SERVICE", c->name) ||
      put(set, k, "MUSTER_INSTANCE", idx) ||
      put(set, k, "NODE_APP_INSTANCE", idx) ||            /* PM2's name */
      (c->ws_ack && put(set, k, "MUSTER_WS_ACK", "1")) || /* for the library */
      (run->up_port && put(set, k, "PORT", port)) ||
      (run->up_path && put(set, k, "MUSTER_SOCKET", run->up_path)))
    return -1;
  return run->sd ? notify_vars(run, set, k) : 0;
}

/* muster's environment, then the instance's variables. Returns 0 with
 * *out (free with sup_proc_env_free), UV_EINVAL (env_file: logged) or
 * UV_ENOMEM. */
static int child_env(struct sup_run *run, struct sup_instance *inst, char ***out) {
  const struct cfg_service *c = inst->svc->cfg;
  struct cfg_env_var *file;
  size_t nfile, k = 0;
  *out = NULL;
  if (read_env_file(inst, &file, &nfile) != 0)
    return UV_EINVAL;
  size_t n = 3 + nfile + c->nenv + 11;
  char **set = calloc(n, sizeof(*set));
  if (set != NULL && fill_set(run, inst, file, nfile, set, &k) == 0)
    *out = sup_proc_env_build(sup_host_environ(inst->svc->host), set, k);
  for (size_t i = 0; set != NULL && i < n; i++)
    free(set[i]);
  free(set);
  cfg_env_vars_free(file, nfile);
  return *out ? 0 : UV_ENOMEM;
}

/* The PORT of env (an http health check's port), or 0 when there is none
 * that is a port. */
static int env_port(char *const *env) {
  for (size_t i = 0; env[i] != NULL; i++) {
    if (strncmp(env[i], "PORT=", 5) == 0) {
      char *end;
      long p = strtol(env[i] + 5, &end, 10);
      return end != env[i] + 5 && *end == '\0' && p >= 1 && p <= 65535 ? (int)p : 0;
    }
  }
  return 0;
}

/* ---- Upstreams (SPEC §9): the address of this process ---- */

/* The port or socket run's instance listens on (instance i: port + i, or
 * PATH.i), from the config in force at its spawn. Returns 0, or < 0 with
 * the reason logged. */
static int upstream_address(struct sup_run *run, struct sup_instance *inst) {
  const struct cfg_upstream *u = &inst->svc->cfg->upstream;
  if (!u->enabled)
    return 0;
  run->no_channel = u->ready != CFG_READY_MESSAGE;
  if (u->port) {
    if (u->port + inst->index > 65535) {
      sup_log(SUP_ERROR, "%s: port %d + instance %d is past 65535", inst->label, u->port,
              inst->index);
      return UV_EINVAL;
    }
    run->up_port = u->port + inst->index;
    if (util_tcp_port_taken(run->up_port) !=
        0) { /* it would answer the probe, and get the traffic */
      sup_log(SUP_ERROR, "%s: another program listens on port %d", inst->label, run->up_port);
      return UV_EADDRINUSE;
    }
    return 0;
  }
  if (asprintf(&run->up_path, "%s.%d", u->unix_path, inst->index) < 0) {
    run->up_path = NULL;
    return UV_ENOMEM;
  }
  if (util_unix_prepare(run->up_path, 0755) != 0) {
    sup_log(SUP_ERROR, "%s: another program accepts connections on %s", inst->label, run->up_path);
    return UV_EADDRINUSE;
  }
  return 0;
}

/* ---- Spawning ---- */

/* Opens the two capture pipes of run. Returns 0, or UV_ENOMEM after which
 * run is closing (or gone). */
static int open_captures(struct sup_run *run, struct sup_instance *inst) {
  uv_loop_t *loop = sup_host_loop(inst->svc->host);
  struct sup_logfile *lf = inst->svc->log;
  if (sup_capture_init(&run->out, loop, lf, inst->label, "out") < 0) {
    sup_host_run_closed(run);
    free(run);
    return UV_ENOMEM;
  }
  if (sup_capture_init(&run->err, loop, lf, inst->label, "err") < 0) {
    run->open = 1;
    run->out.data = run;
    sup_capture_close(&run->out, on_capture_closed);
    return UV_ENOMEM;
  }
  run->out.data = run->err.data = run;
  run->out.on_eof = run->err.on_eof = on_capture_eof;
  run->out.on_line = run->err.on_line = sup_host_service_line;
  run->out.ctx = run->err.ctx = inst->svc->host;
  run->open = 2; /* the captures; process and channel are counted as they open */
  return 0;
}

/* What to spawn for inst: argv is the command itself or its --exec-as
 * form (sup_exec.h); fd 1 and 2 are out and err, fd 3 is chfd (none when
 * -1: a program without a channel). */
static struct sup_child_opts child_opts(struct sup_instance *inst, char **env, char **argv, int out,
                                        int err, int chfd) {
  const struct cfg_service *c = inst->svc->cfg;
  return (struct sup_child_opts){.file = argv == c->command ? c->command[0] : SUP_EXEC_SELF,
                                 .argv = argv,
                                 .env = env,
                                 .cwd = c->cwd,
                                 .fds = {-1, out, err, chfd},
                                 .nfds = chfd >= 0 ? 4 : 3};
}

/* One output stream of the child: a socketpair, as uv_spawn's
 * UV_CREATE_PIPE makes; our end opened as c->pipe, the child's in *child.
 * Returns 0 or a negative libuv error. */
static int capture_pair(struct sup_capture *c, int *child) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return -errno;
  int rc = uv_pipe_open(&c->pipe, sv[0]);
  if (rc < 0) {
    close(sv[0]);
    close(sv[1]);
    return rc;
  }
  *child = sv[1];
  return 0;
}

/* Spawns the process of run with env and argv, fd 3 = chfd. Returns 0 or
 * a negative libuv error. */
static int start_child(struct sup_run *run, struct sup_instance *inst, char **env, char **argv,
                       int chfd) {
  int out = -1, err = -1;
  int rc = capture_pair(&run->out, &out);
  if (rc == 0)
    rc = capture_pair(&run->err, &err);
  if (rc == 0) {
    struct sup_child_opts o = child_opts(inst, env, argv, out, err, chfd);
    run->child.data = run;
    run->child.on_exit = on_child_exit;
    rc = sup_child_spawn(&run->host->reaper, &run->child, &o);
  }
  if (out >= 0)
    close(out);
  if (err >= 0)
    close(err);
  return rc;
}

static void on_sd_msg(struct sup_sdsock *s, const struct sup_sdmsg *m) {
  struct sup_run *run = s->data;
  if (run->inst != NULL)
    sup_instance_notified(run->inst, m);
}

/* Opens run's NOTIFY_SOCKET when inst gets ready by sd_notify. Returns 0,
 * or a negative libuv error (logged). */
static int open_sd(struct sup_run *run, struct sup_instance *inst) {
  const struct cfg_service *c = inst->svc->cfg;
  if (cfg_ready_of(c) != CFG_READY_NOTIFY)
    return 0;
  if ((run->sd = calloc(1, sizeof(*run->sd))) == NULL)
    return UV_ENOMEM;
  run->sd->data = run;
  run->sd->on_msg = on_sd_msg;
  run->sd->on_closed = on_sd_closed;
  int rc = sup_sdsock_open(run->sd, sup_host_loop(inst->svc->host), inst->label,
                           c->as.set_uid ? c->as.uid : geteuid());
  if (rc < 0) {
    free(run->sd);
    run->sd = NULL;
    return rc;
  }
  run->open++; /* the socket, until on_sd_closed */
  run->watchdog_ms = c->watchdog_ms;
  return 0;
}

/* What a spawn needs: the upstream's address, the NOTIFY_SOCKET, the
 * environment, the argv (*owned to free after the spawn), the socketpair
 * (both -1 for a program without a channel). Returns 0, or a negative
 * libuv error (logged) with nothing left to free. */
static int prepare(struct sup_run *run, struct sup_instance *inst, char ***env, char ***argv,
                   char **owned, int sv[2]) {
  const struct cfg_service *c = inst->svc->cfg;
  sv[0] = sv[1] = -1;
  run->no_channel = c->ready != CFG_READY_MESSAGE; /* a worker, a job, sd_notify */
  int rc = upstream_address(run, inst);
  if (rc == 0)
    rc = open_sd(run, inst);
  if (rc < 0)
    return rc;
  rc = child_env(run, inst, env);
  if (rc == UV_ENOMEM)
    sup_log(SUP_ERROR, "%s: out of memory while spawning", inst->label);
  if (rc == 0 && (*argv = sup_exec_argv(&c->as, &c->proc, c->command, owned)) == NULL) {
    sup_log(SUP_ERROR, "%s: out of memory while spawning", inst->label);
    rc = UV_ENOMEM;
  }
  if (rc == 0 && !run->no_channel && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
    rc = -errno;
    sup_log(SUP_ERROR, "%s: socketpair() failed: %s", inst->label, strerror(errno));
    free(*owned);
  }
  if (rc != 0)
    sup_proc_env_free(*env);
  return rc;
}

/* Keeps from env what the health check needs: the port of an http check;
 * for a command, the environment without the channel's and sd_notify's
 * variables (it is not the instance) and with MUSTER_INSTANCE_PID. Frees
 * env. */
static void keep_for_health(struct sup_run *run, struct sup_instance *inst, char **env) {
  const struct cfg_health *hc = &inst->svc->cfg->health;
  char pid[48];
  size_t w = 0;
  if (hc->kind == CFG_HEALTH_HTTP)
    run->health_port = env_port(env);
  if (hc->kind == CFG_HEALTH_COMMAND) {
    for (size_t i = 0; env[i] != NULL; i++) {
      if (strncmp(env[i], "MUSTER_CHANNEL_FD=", 18) == 0 ||
          strncmp(env[i], "NODE_CHANNEL_", 13) == 0 || strncmp(env[i], "NOTIFY_SOCKET=", 14) == 0 ||
          strncmp(env[i], "WATCHDOG_USEC=", 14) == 0) {
        free(env[i]);
        continue;
      }
      env[w++] = env[i];
    }
    env[w] = NULL;
    snprintf(pid, sizeof(pid), "MUSTER_INSTANCE_PID=%d", (int)run->pid);
    char *set[] = {pid};
    run->health_env = sup_proc_env_build(env, set, 1);
  }
  sup_proc_env_free(env);
}

/* Opens the channel on sv0, unless run has none. */
static void open_channel(struct sup_run *run, struct sup_instance *inst, uv_loop_t *loop, int sv0,
                         const struct ipc_channel_cbs *chcbs) {
  int rc;
  if (run->no_channel) {
    run->ch_dead = 1; /* sup_instance_channel() is NULL: nobody to tell */
    return;
  }
  run->open++; /* the channel */
  if ((rc = ipc_channel_open(&run->ch, loop, sv0, 0, chcbs, run)) < 0) {
    sup_log(SUP_ERROR, "%s: channel setup failed: %s", inst->label, uv_strerror(rc));
    run->ch_dead = 1; /* the child will see EOF on fd 3 and exit */
  }
}

int sup_run_spawn(struct sup_run *run, struct sup_instance *inst,
                  const struct ipc_channel_cbs *chcbs, sup_run_exit_cb on_exit) {
  uv_loop_t *loop = sup_host_loop(inst->svc->host);
  char **env = NULL, **argv = NULL, *owned = NULL;
  int sv[2], rc;
  run->on_exit = on_exit;
  sup_pubsub_run_init(run);
  if ((rc = open_captures(run, inst)) < 0)
    return rc;
  if ((rc = prepare(run, inst, &env, &argv, &owned, sv)) < 0) {
    sup_run_force_close(run);
    return rc;
  }
  rc = start_child(run, inst, env, argv, sv[1]);
  free(owned);
  if (sv[1] >= 0)
    close(sv[1]);
  if (rc < 0) {
    if (sv[0] >= 0)
      close(sv[0]);
    sup_proc_env_free(env);
    sup_log(SUP_ERROR, "%s: spawn \"%s\" failed: %s", inst->label, inst->svc->cfg->command[0],
            uv_err_name(rc));
    sup_run_force_close(run);
    return rc;
  }
  run->open++; /* the process, until it is reaped (on_child_exit) */
  run->pid = run->child.pid;
  keep_for_health(run, inst, env);
  open_channel(run, inst, loop, sv[0], chcbs);
  sup_capture_start(&run->out);
  sup_capture_start(&run->err);
  return 0;
}
