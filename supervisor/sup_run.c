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

#include "sup_host.h"
#include "sup_log.h"
#include "sup_proc.h"
#include "sup_pubsub.h"
#include "sup_service.h"

/* ---- Closing ---- */

static void run_handle_closed(struct sup_run *run) {
  if (--run->open > 0)
    return;
  sup_pubsub_run_done(run->host, run); /* no-op once it left at its exit */
  sup_host_run_closed(run);
  free(run->up_path);
  free(run);
}

static void on_proc_closed(uv_handle_t *h) {
  run_handle_closed(h->data);
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

void sup_run_release(struct sup_run *run) {
  if (!uv_is_closing((uv_handle_t *)&run->proc))
    uv_close((uv_handle_t *)&run->proc, on_proc_closed);
  if (!run->no_channel)
    ipc_channel_close(&run->ch, 0, on_ch_closed);
}

void sup_run_force_close(struct sup_run *run) {
  sup_capture_close(&run->out, on_capture_closed);
  sup_capture_close(&run->err, on_capture_closed);
}

/* ---- The child's environment ---- */

/* The channel variables of SPEC §3 into set[*k...]. Returns 0 or -1. */
static int channel_vars(char **set, size_t *k) {
  return asprintf(&set[(*k)++], "MUSTER_CHANNEL_FD=3") < 0 ||
                 asprintf(&set[(*k)++], "NODE_CHANNEL_FD=3") < 0 ||
                 asprintf(&set[(*k)++], "NODE_CHANNEL_SERIALIZATION_MODE=json") < 0
             ? -1
             : 0;
}

/* muster's environment, the service's env, then the channel (unless the
 * program does not speak IPC), instance and upstream variables (SPEC §3,
 * §9). NULL on out of memory. */
static char **child_env(struct sup_run *run, struct sup_instance *inst) {
  const struct cfg_service *c = inst->svc->cfg;
  size_t n = c->nenv + 8, k = 0;
  char **set = calloc(n, sizeof(*set));
  char **env = NULL;
  if (set == NULL)
    return NULL;
  for (size_t i = 0; i < c->nenv; i++)
    if (asprintf(&set[k++], "%s=%s", c->env[i].name, c->env[i].value) < 0)
      goto out_free;
  if ((!run->no_channel && channel_vars(set, &k) < 0) ||
      asprintf(&set[k++], "MUSTER_SERVICE=%s", c->name) < 0 ||
      asprintf(&set[k++], "MUSTER_INSTANCE=%d", inst->index) < 0 ||
      asprintf(&set[k++], "NODE_APP_INSTANCE=%d", inst->index) < 0 || /* PM2's name */
      (c->ws_ack && asprintf(&set[k++], "MUSTER_WS_ACK=1") < 0) ||   /* for the library */
      (run->up_port && asprintf(&set[k++], "PORT=%d", run->up_port) < 0) ||
      (run->up_path && asprintf(&set[k++], "MUSTER_SOCKET=%s", run->up_path) < 0))
    goto out_free;
  env = sup_proc_env_build(sup_host_environ(inst->svc->host), set, k);
out_free:
  for (size_t i = 0; i < n; i++)
    free(set[i]);
  free(set);
  return env;
}

/* ---- Upstreams (SPEC §9): the address of this process ---- */

/* Makes the directory of a Unix socket path (one level) and removes a
 * stale socket file there. Returns 0, or UV_EADDRINUSE when something
 * accepts connections on it. */
static int prepare_socket(const char *path) {
  char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
  if (slash && slash != dir) {
    *slash = '\0';
    mkdir(dir, 0755);
  }
  free(dir);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    int busy = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    if (busy)
      return UV_EADDRINUSE;
  }
  unlink(path); /* left by an instance that was killed */
  return 0;
}

/* The port or socket run's instance listens on (instance i: port + i, or
 * PATH.i), from the config in force at its spawn. Returns 0, or < 0 with
 * the reason logged. */
static int upstream_address(struct sup_run *run, struct sup_instance *inst) {
  const struct cfg_upstream *u = &inst->svc->cfg->upstream;
  if (!u->enabled)
    return 0;
  run->no_channel = u->ready == CFG_READY_PORT;
  if (u->port) {
    if (u->port + inst->index > 65535) {
      sup_log(SUP_ERROR, "%s: port %d + instance %d is past 65535", inst->label, u->port,
              inst->index);
      return UV_EINVAL;
    }
    run->up_port = u->port + inst->index;
    return 0;
  }
  if (asprintf(&run->up_path, "%s.%d", u->unix_path, inst->index) < 0) {
    run->up_path = NULL;
    return UV_ENOMEM;
  }
  if (prepare_socket(run->up_path) != 0) {
    sup_log(SUP_ERROR, "%s: another program accepts connections on %s", inst->label,
            run->up_path);
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
  run->open = 2; /* the captures; proc and channel are counted as they open */
  return 0;
}

/* The uv_spawn options for inst with fd 3 = chfd. */
static void spawn_options(struct sup_run *run, struct sup_instance *inst, int chfd, char **env,
                          uv_stdio_container_t stdio[4], uv_process_options_t *o) {
  const struct cfg_service *c = inst->svc->cfg;
  memset(o, 0, sizeof(*o));
  memset(stdio, 0, 4 * sizeof(*stdio));
  stdio[0].flags = UV_IGNORE; /* /dev/null */
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&run->out.pipe;
  stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[2].data.stream = (uv_stream_t *)&run->err.pipe;
  stdio[3].flags = UV_INHERIT_FD;
  stdio[3].data.fd = chfd;
  o->file = c->command[0];
  o->args = c->command;
  o->env = env;
  o->cwd = c->cwd;
  o->flags = UV_PROCESS_DETACHED; /* setsid(): its own process group */
  o->stdio = stdio;
  o->stdio_count = chfd >= 0 ? 4 : 3; /* no channel: no fd 3 at all */
}

/* The socketpair of run's channel into sv (sv[1] for the child), or
 * both -1 for a program without one. Returns 0 or a negative errno. */
static int open_socketpair(struct sup_run *run, struct sup_instance *inst, int sv[2]) {
  sv[0] = sv[1] = -1;
  if (run->no_channel)
    return 0;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0)
    return 0;
  int rc = -errno;
  sup_log(SUP_ERROR, "%s: socketpair() failed: %s", inst->label, strerror(errno));
  return rc;
}

/* The spawn failed (rc): closes what is open of run. */
static void spawn_failed(struct sup_run *run, struct sup_instance *inst, const char *file,
                         char **env, int sv0, int rc) {
  if (sv0 >= 0)
    close(sv0);
  sup_log(SUP_ERROR, "%s: spawn \"%s\" failed: %s", inst->label, file, uv_err_name(rc));
  if (env) /* uv_spawn initialised the handle */
    uv_close((uv_handle_t *)&run->proc, on_proc_closed);
  else
    run->open--;
  sup_run_force_close(run);
}

/* Opens the channel on sv0, unless run has none. */
static void open_channel(struct sup_run *run, struct sup_instance *inst, uv_loop_t *loop,
                         int sv0, const struct ipc_channel_cbs *chcbs) {
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
                  const struct ipc_channel_cbs *chcbs, uv_exit_cb on_exit) {
  uv_loop_t *loop = sup_host_loop(inst->svc->host);
  uv_stdio_container_t stdio[4];
  uv_process_options_t o;
  int sv[2], rc;
  run->proc.data = run;
  sup_pubsub_run_init(run);
  if ((rc = open_captures(run, inst)) < 0)
    return rc;
  if ((rc = upstream_address(run, inst)) < 0 || (rc = open_socketpair(run, inst, sv)) < 0) {
    sup_run_force_close(run);
    return rc;
  }
  char **env = child_env(run, inst);
  spawn_options(run, inst, sv[1], env, stdio, &o);
  o.exit_cb = on_exit;
  rc = env ? uv_spawn(loop, &run->proc, &o) : UV_ENOMEM;
  sup_proc_env_free(env);
  if (sv[1] >= 0)
    close(sv[1]);
  run->open++; /* the process handle: closed even when the spawn failed */
  if (rc < 0) {
    spawn_failed(run, inst, o.file, env, sv[0], rc);
    return rc;
  }
  run->pid = run->proc.pid;
  open_channel(run, inst, loop, sv[0], chcbs);
  sup_capture_start(&run->out);
  sup_capture_start(&run->err);
  return 0;
}
