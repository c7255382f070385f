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
  ipc_channel_close(&run->ch, 0, on_ch_closed);
}

void sup_run_force_close(struct sup_run *run) {
  sup_capture_close(&run->out, on_capture_closed);
  sup_capture_close(&run->err, on_capture_closed);
}

/* ---- The child's environment ---- */

/* muster's environment, the service's env, then the channel and instance
 * variables (SPEC §3). NULL on out of memory. */
static char **child_env(struct sup_instance *inst) {
  const struct cfg_service *c = inst->svc->cfg;
  size_t n = c->nenv + 7, k = 0;
  char **set = calloc(n, sizeof(*set));
  char **env = NULL;
  if (set == NULL)
    return NULL;
  for (size_t i = 0; i < c->nenv; i++)
    if (asprintf(&set[k++], "%s=%s", c->env[i].name, c->env[i].value) < 0)
      goto out_free;
  if (asprintf(&set[k++], "MUSTER_CHANNEL_FD=3") < 0 ||
      asprintf(&set[k++], "NODE_CHANNEL_FD=3") < 0 ||
      asprintf(&set[k++], "NODE_CHANNEL_SERIALIZATION_MODE=json") < 0 ||
      asprintf(&set[k++], "MUSTER_SERVICE=%s", c->name) < 0 ||
      asprintf(&set[k++], "MUSTER_INSTANCE=%d", inst->index) < 0 ||
      asprintf(&set[k++], "NODE_APP_INSTANCE=%d", inst->index) < 0 || /* PM2's name */
      (c->ws_ack && asprintf(&set[k++], "MUSTER_WS_ACK=1") < 0))     /* for the library */
    goto out_free;
  env = sup_proc_env_build(sup_host_environ(inst->svc->host), set, k);
out_free:
  for (size_t i = 0; i < n; i++)
    free(set[i]);
  free(set);
  return env;
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
  o->stdio_count = 4;
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
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
    rc = -errno;
    sup_log(SUP_ERROR, "%s: socketpair() failed: %s", inst->label, strerror(errno));
    sup_run_force_close(run);
    return rc;
  }
  char **env = child_env(inst);
  spawn_options(run, inst, sv[1], env, stdio, &o);
  o.exit_cb = on_exit;
  rc = env ? uv_spawn(loop, &run->proc, &o) : UV_ENOMEM;
  sup_proc_env_free(env);
  close(sv[1]);
  run->open++; /* the process handle: closed even when the spawn failed */
  if (rc < 0) {
    close(sv[0]);
    sup_log(SUP_ERROR, "%s: spawn \"%s\" failed: %s", inst->label, o.file, uv_err_name(rc));
    if (env) /* uv_spawn initialised the handle */
      uv_close((uv_handle_t *)&run->proc, on_proc_closed);
    else
      run->open--;
    sup_run_force_close(run);
    return rc;
  }
  run->pid = run->proc.pid;
  run->open++; /* the channel */
  if ((rc = ipc_channel_open(&run->ch, loop, sv[0], 0, chcbs, run)) < 0) {
    sup_log(SUP_ERROR, "%s: channel setup failed: %s", inst->label, uv_strerror(rc));
    run->ch_dead = 1; /* the child will see EOF on fd 3 and exit */
  }
  sup_capture_start(&run->out);
  sup_capture_start(&run->err);
  return 0;
}
