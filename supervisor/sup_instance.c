/* sup_instance — spawn, readiness, heartbeats, stop stages, restarts.
 * See sup_instance.h for the state machine. */
#include "sup_instance.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc_msg.h"
#include "sup_host.h"
#include "sup_log.h"
#include "sup_proc.h"
#include "sup_service.h"

#define EOF_GRACE_MS 1000     /* channel closed, process still there: broken */
#define BAD_LINES_PER_SEC 100 /* more invalid lines in a second: broken */

static const char *const istate_names[] = {
#define XX(e, s) s,
    SUP_ISTATE_MAP(XX)
#undef XX
};

const char *sup_istate_name(enum sup_istate s) {
  return istate_names[s];
}

static struct sup_host *host_of(const struct sup_instance *inst) {
  return inst->svc->host;
}

static const struct cfg_service *cfg_of(const struct sup_instance *inst) {
  return inst->svc->cfg;
}

/* Emits an event about inst (logged, and streamed to `events` clients). */
static void emit(struct sup_instance *inst, const char *type, const char *detail) {
  struct sup_event ev = {.type = type, .service = inst->svc->cfg->name, .index = inst->index,
                         .pid = sup_instance_pid(inst), .code = inst->last_code,
                         .signal = inst->last_signal, .detail = detail};
  sup_host_emit(host_of(inst), &ev);
}

static void set_state(struct sup_instance *inst, enum sup_istate s) {
  inst->state = s;
  sup_service_changed(inst->svc);
}

/* ---- Runs: one process and its handles ---- */

static void run_handle_closed(struct sup_run *run) {
  if (--run->open > 0)
    return;
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

/* Closes what of run is still open once its process is gone. */
static void run_release(struct sup_run *run) {
  if (!uv_is_closing((uv_handle_t *)&run->proc))
    uv_close((uv_handle_t *)&run->proc, on_proc_closed);
  ipc_channel_close(&run->ch, 0, on_ch_closed);
}

void sup_run_force_close(struct sup_run *run) {
  sup_capture_close(&run->out, on_capture_closed);
  sup_capture_close(&run->err, on_capture_closed);
}

/* ---- Stopping and killing ---- */

static void start_heartbeat(struct sup_instance *inst);

/* Kills the process group now; its exit is then handled for `reason`. */
static void do_kill(struct sup_instance *inst, enum sup_stop_reason reason, const char *why) {
  if (inst->run == NULL)
    return;
  sup_log(SUP_WARN, "%s: %s; killing process group %d", inst->label, why, (int)inst->run->pid);
  if (inst->stop_reason != SUP_STOP_FINAL)
    inst->stop_reason = reason;
  uv_timer_stop(&inst->timer);
  uv_timer_stop(&inst->hb);
  inst->state = SUP_I_STOPPING;
  sup_service_changed(inst->svc);
  sup_proc_kill_group(inst->run->pid, SIGKILL);
}

void sup_instance_kill(struct sup_instance *inst) {
  if (inst->run)
    do_kill(inst, SUP_STOP_FINAL, "forced stop");
}

static void on_stop_kill(uv_timer_t *t) {
  struct sup_instance *inst = t->data;
  if (inst->run) {
    sup_log(SUP_WARN, "%s: still running %d ms after the shutdown request; SIGKILL",
            inst->label, cfg_of(inst)->stop_timeout_ms);
    sup_proc_kill_group(inst->run->pid, SIGKILL);
  }
}

static void on_stop_term(uv_timer_t *t) {
  struct sup_instance *inst = t->data;
  int total = cfg_of(inst)->stop_timeout_ms;
  if (inst->run == NULL)
    return;
  sup_log(SUP_INFO, "%s: not gone after the shutdown message; SIGTERM", inst->label);
  sup_proc_kill_group(inst->run->pid, SIGTERM);
  uv_timer_start(&inst->timer, on_stop_kill, (uint64_t)(total - total / 2), 0);
}

void sup_instance_stop(struct sup_instance *inst, enum sup_stop_reason reason) {
  int total = cfg_of(inst)->stop_timeout_ms;
  switch (inst->state) {
  case SUP_I_EXITED:
    if (reason == SUP_STOP_RESTART)
      sup_instance_start(inst);
    return;
  case SUP_I_BACKOFF:
    uv_timer_stop(&inst->timer);
    if (reason == SUP_STOP_RESTART) {
      sup_instance_start(inst);
    } else {
      set_state(inst, SUP_I_EXITED);
      emit(inst, "stop", "stopped while waiting to restart");
    }
    return;
  case SUP_I_STOPPING:
    if (reason == SUP_STOP_FINAL)
      inst->stop_reason = SUP_STOP_FINAL; /* a restart under way ends here */
    return;
  case SUP_I_STARTING:
  case SUP_I_READY:
  case SUP_I_DRAINING:
    if (inst->run == NULL) /* its exit is being handled right now */
      return;
    break;
  }
  inst->stop_reason = reason;
  uv_timer_stop(&inst->timer);
  uv_timer_stop(&inst->hb);
  set_state(inst, SUP_I_STOPPING);
  if (total == 0) {
    sup_proc_kill_group(inst->run->pid, SIGKILL);
    return;
  }
  struct ipc_channel *ch = sup_instance_channel(inst);
  if (ch) {
    ipc_enc_shutdown(ipc_channel_begin(ch), total / 2);
    ipc_channel_commit(ch);
    uv_timer_start(&inst->timer, on_stop_term, (uint64_t)(total / 2), 0);
  } else {
    on_stop_term(&inst->timer); /* nobody to ask: SIGTERM at once */
  }
}

static void on_drain_timeout(uv_timer_t *t) {
  struct sup_instance *inst = t->data;
  sup_log(SUP_WARN, "%s: still %u requests in flight after %d ms of draining; stopping it",
          inst->label, inst->inflight, cfg_of(inst)->stop_timeout_ms);
  sup_instance_stop(inst, SUP_STOP_FINAL);
}

void sup_instance_drain(struct sup_instance *inst) {
  if (inst->state != SUP_I_READY) {
    sup_instance_stop(inst, SUP_STOP_FINAL);
    return;
  }
  set_state(inst, SUP_I_DRAINING);
  emit(inst, "drain", "no new requests; stopping once idle");
  if (inst->inflight == 0) {
    sup_instance_stop(inst, SUP_STOP_FINAL);
    return;
  }
  uv_timer_start(&inst->timer, on_drain_timeout, (uint64_t)cfg_of(inst)->stop_timeout_ms, 0);
}

void sup_instance_released(struct sup_instance *inst) {
  if (inst->inflight > 0)
    inst->inflight--;
  if (inst->state == SUP_I_DRAINING && inst->inflight == 0 && inst->run)
    sup_instance_stop(inst, SUP_STOP_FINAL);
}

/* ---- Exit: what happens next ---- */

static void on_backoff_done(uv_timer_t *t) {
  struct sup_instance *inst = t->data;
  sup_instance_start(inst);
}

/* Decides between restart, backoff and staying exited after an exit that
 * was not a final stop. */
static void handle_crash(struct sup_instance *inst, int failed_by_us) {
  struct sup_service *svc = inst->svc;
  const struct cfg_restart *rc = &cfg_of(inst)->restart;
  char detail[96];
  int clean = inst->last_code == 0 && inst->last_signal == 0 && !failed_by_us;
  if (sup_host_stopping(host_of(inst)) || svc->stopped || svc->failed || inst->removing ||
      rc->policy == CFG_RESTART_NEVER || (rc->policy == CFG_RESTART_ON_FAILURE && clean)) {
    set_state(inst, SUP_I_EXITED);
    return;
  }
  uint64_t now = sup_now_ms();
  if (inst->ready_ms && now - inst->ready_ms >= (uint64_t)rc->window_s * 1000)
    sup_backoff_reset(&inst->backoff); /* it had proved stable */
  if (sup_window_add(&svc->window, now)) {
    set_state(inst, SUP_I_EXITED);
    sup_service_fail(svc, inst);
    return;
  }
  uint64_t delay = sup_backoff_next(&inst->backoff, (uint32_t)random());
  inst->restarts++;
  svc->restarts_total++;
  if (delay == 0) {
    emit(inst, "restart", "restarting now");
    sup_instance_start(inst);
    return;
  }
  snprintf(detail, sizeof(detail), "restarting in %llu ms", (unsigned long long)delay);
  set_state(inst, SUP_I_BACKOFF);
  emit(inst, "backoff", detail);
  uv_timer_start(&inst->timer, on_backoff_done, delay, 0);
}

static void on_exit_cb(uv_process_t *proc, int64_t status, int sig) {
  struct sup_run *run = proc->data;
  struct sup_instance *inst = run->inst;
  char detail[96];
  run->exited = 1;
  sup_proc_kill_group(run->pid, SIGKILL); /* whatever it forked and left */
  run_release(run);
  if (inst == NULL)
    return;
  inst->run = NULL;
  run->inst = NULL;
  uv_timer_stop(&inst->timer);
  uv_timer_stop(&inst->hb);
  inst->last_code = sig ? -1 : (int)status;
  inst->last_signal = sig;
  if (sig)
    snprintf(detail, sizeof(detail), "killed by signal %d (%s)", sig, strsignal(sig));
  else
    snprintf(detail, sizeof(detail), "exited with code %d", (int)status);
  struct sup_event ev = {.type = "exit", .service = inst->svc->cfg->name, .index = inst->index,
                         .pid = run->pid, .code = inst->last_code, .signal = sig,
                         .detail = detail};
  sup_host_emit(host_of(inst), &ev);
  sup_host_instance_gone(host_of(inst), inst);
  inst->rss = 0;
  enum sup_stop_reason reason = inst->stop_reason;
  inst->stop_reason = SUP_STOP_NONE;
  switch (reason) {
  case SUP_STOP_FINAL:
    set_state(inst, SUP_I_EXITED);
    emit(inst, "stop", "stopped");
    break;
  case SUP_STOP_RESTART:
    inst->restarts++;
    inst->svc->restarts_total++;
    emit(inst, "restart", "planned restart");
    sup_instance_start(inst);
    break;
  case SUP_STOP_FAILED:
  case SUP_STOP_NONE:
    handle_crash(inst, reason == SUP_STOP_FAILED);
    break;
  }
}

/* ---- Channel traffic ---- */

static void become_ready(struct sup_instance *inst) {
  char detail[64];
  uv_timer_stop(&inst->timer);
  inst->ready_ms = sup_now_ms();
  snprintf(detail, sizeof(detail), "ready in %llu ms",
           (unsigned long long)(inst->ready_ms - inst->started_ms));
  set_state(inst, SUP_I_READY);
  emit(inst, "ready", detail);
  start_heartbeat(inst);
}

/* Counts an invalid line; a flood marks the instance broken. */
static void bad_line(struct sup_instance *inst, const char *why) {
  uint64_t sec = sup_now_ms() / 1000;
  if (sec != inst->bad_second) {
    inst->bad_second = sec;
    inst->bad_lines = 0;
  }
  if (++inst->bad_lines <= 5)
    sup_log(SUP_WARN, "%s: dropped invalid message: %s", inst->label, why);
  if (inst->bad_lines == BAD_LINES_PER_SEC + 1)
    do_kill(inst, SUP_STOP_FAILED, "flood of invalid messages");
}

static void on_ch_line(struct ipc_channel *ch, const char *line, size_t len) {
  struct sup_run *run = ch->data;
  struct sup_instance *inst = run->inst;
  struct ipc_msg m;
  char err[160];
  if (inst == NULL)
    return;
  if (ipc_msg_parse(&m, line, len, err, sizeof(err)) != 0) {
    int64_t id;
    bad_line(inst, err);
    if (ipc_msg_response_id(line, len, &id)) {
      /* An invalid answer to a known request: fail it now (502). */
      struct ipc_msg bad = {.type = IPC_T_RESPONSE, .id = id, .status = 0};
      sup_host_instance_msg(host_of(inst), inst, &bad);
    }
    return;
  }
  switch (m.type) {
  case IPC_T_READY:
    if (inst->state == SUP_I_STARTING)
      become_ready(inst);
    break;
  case IPC_T_PONG:
    if (m.seq == inst->ping_seq) {
      inst->ping_outstanding = 0;
      inst->misses = 0;
    }
    break;
  case IPC_T_RESPONSE:
  case IPC_T_CHUNK:
  case IPC_T_END:
    sup_host_instance_msg(host_of(inst), inst, &m);
    break;
  case IPC_T_SUBSCRIBE:
  case IPC_T_UNSUBSCRIBE:
  case IPC_T_PUBLISH:
    sup_host_pubsub(host_of(inst), inst, &m);
    break;
  default:
    bad_line(inst, "a message type services do not send");
    break;
  }
  ipc_msg_free(&m);
}

static void on_eof_grace(uv_timer_t *t) {
  struct sup_instance *inst = t->data;
  if (inst->run && !inst->run->exited)
    do_kill(inst, SUP_STOP_FAILED, "closed its channel but kept running");
}

static void on_ch_error(struct ipc_channel *ch, int err) {
  struct sup_run *run = ch->data;
  struct sup_instance *inst = run->inst;
  run->ch_dead = 1;
  if (inst == NULL)
    return;
  if (err == UV_E2BIG) {
    do_kill(inst, SUP_STOP_FAILED, "sent a line longer than 64 MiB");
  } else if (inst->state != SUP_I_STOPPING) {
    /* Usually the process is exiting; if it is not gone soon, it is broken. */
    uv_timer_stop(&inst->hb);
    uv_timer_start(&inst->hb, on_eof_grace, EOF_GRACE_MS, 0);
  }
}

/* ---- Heartbeat and readiness ---- */

static void on_heartbeat(uv_timer_t *t) {
  struct sup_instance *inst = t->data;
  const struct cfg_service *c = cfg_of(inst);
  if (inst->ping_outstanding && ++inst->misses >= c->heartbeat_misses) {
    char why[96];
    snprintf(why, sizeof(why), "missed %d pongs in a row (hung)", inst->misses);
    do_kill(inst, SUP_STOP_FAILED, why);
    return;
  }
  struct ipc_channel *ch = sup_instance_channel(inst);
  if (ch == NULL)
    return;
  ipc_enc_ping(ipc_channel_begin(ch), ++inst->ping_seq);
  ipc_channel_commit(ch);
  inst->ping_outstanding = 1;
}

static void start_heartbeat(struct sup_instance *inst) {
  int ms = cfg_of(inst)->heartbeat_ms;
  inst->ping_outstanding = 0;
  inst->misses = 0;
  if (ms > 0)
    uv_timer_start(&inst->hb, on_heartbeat, (uint64_t)ms, (uint64_t)ms);
}

static void on_ready_timeout(uv_timer_t *t) {
  struct sup_instance *inst = t->data;
  char why[96];
  snprintf(why, sizeof(why), "no ready message within %d ms", cfg_of(inst)->ready_timeout_ms);
  do_kill(inst, SUP_STOP_FAILED, why);
}

/* ---- Spawning ---- */

/* The child's environment: muster's, the service's env, the channel vars. */
static char **child_env(struct sup_instance *inst) {
  const struct cfg_service *c = cfg_of(inst);
  size_t n = c->nenv + 5, k = 0;
  char **set = calloc(n, sizeof(*set));
  char **env = NULL;
  if (set == NULL)
    return NULL;
  for (size_t i = 0; i < c->nenv; i++)
    if (asprintf(&set[k++], "%s=%s", c->env[i].name, c->env[i].value) < 0)
      goto out;
  if (asprintf(&set[k++], "MUSTER_CHANNEL_FD=3") < 0 ||
      asprintf(&set[k++], "NODE_CHANNEL_FD=3") < 0 ||
      asprintf(&set[k++], "NODE_CHANNEL_SERIALIZATION_MODE=json") < 0 ||
      asprintf(&set[k++], "MUSTER_SERVICE=%s", c->name) < 0 ||
      asprintf(&set[k++], "MUSTER_INSTANCE=%d", inst->index) < 0)
    goto out;
  env = sup_proc_env_build(sup_host_environ(host_of(inst)), set, k);
out:
  for (size_t i = 0; i < n; i++)
    free(set[i]);
  free(set);
  return env;
}

/* Spawns the child of run. Returns 0 or a negative libuv error, after
 * which every handle of run is closing. */
static int run_spawn(struct sup_run *run, struct sup_instance *inst) {
  static const struct ipc_channel_cbs chcbs = {on_ch_line, on_ch_error, NULL};
  const struct cfg_service *c = cfg_of(inst);
  uv_loop_t *loop = sup_host_loop(host_of(inst));
  struct sup_logfile *lf = inst->svc->log;
  int sv[2], rc;
  uv_stdio_container_t stdio[4];
  uv_process_options_t o;

  run->proc.data = run;
  run->inst = NULL; /* attached by the caller once the spawn succeeded */
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
  run->out.ctx = run->err.ctx = host_of(inst);
  run->open = 2; /* the captures; proc and channel are counted below */
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
    rc = -errno;
    sup_log(SUP_ERROR, "%s: socketpair() failed: %s", inst->label, strerror(errno));
    sup_run_force_close(run);
    return rc;
  }
  char **env = child_env(inst);
  memset(&o, 0, sizeof(o));
  memset(stdio, 0, sizeof(stdio));
  stdio[0].flags = UV_IGNORE; /* /dev/null */
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&run->out.pipe;
  stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[2].data.stream = (uv_stream_t *)&run->err.pipe;
  stdio[3].flags = UV_INHERIT_FD;
  stdio[3].data.fd = sv[1];
  o.file = c->command[0];
  o.args = c->command;
  o.env = env;
  o.cwd = c->cwd;
  o.flags = UV_PROCESS_DETACHED; /* setsid(): its own process group */
  o.stdio = stdio;
  o.stdio_count = 4;
  o.exit_cb = on_exit_cb;
  rc = env ? uv_spawn(loop, &run->proc, &o) : UV_ENOMEM;
  sup_proc_env_free(env);
  close(sv[1]);
  run->open++; /* the process handle: closed even when the spawn failed */
  if (rc < 0) {
    close(sv[0]);
    sup_log(SUP_ERROR, "%s: spawn \"%s\" failed: %s", inst->label, c->command[0],
            uv_err_name(rc));
    if (env) /* uv_spawn initialised the handle */
      uv_close((uv_handle_t *)&run->proc, on_proc_closed);
    else
      run->open--;
    sup_run_force_close(run);
    return rc;
  }
  run->pid = run->proc.pid;
  run->open++; /* the channel */
  rc = ipc_channel_open(&run->ch, loop, sv[0], 0, &chcbs, run);
  if (rc < 0) {
    sup_log(SUP_ERROR, "%s: channel setup failed: %s", inst->label, uv_strerror(rc));
    run->ch_dead = 1; /* the child will see EOF on fd 3 and exit */
  }
  sup_capture_start(&run->out);
  sup_capture_start(&run->err);
  return 0;
}

void sup_instance_start(struct sup_instance *inst) {
  char detail[64];
  struct sup_run *run = calloc(1, sizeof(*run));
  if (run == NULL) {
    sup_log(SUP_ERROR, "%s: out of memory while spawning", inst->label);
    return;
  }
  run->host = host_of(inst);
  sup_host_run_opened(host_of(inst), run);
  inst->ready_ms = 0;
  inst->started_ms = sup_now_ms();
  inst->stop_reason = SUP_STOP_NONE;
  inst->ping_outstanding = inst->misses = 0;
  set_state(inst, SUP_I_STARTING);
  if (run_spawn(run, inst) < 0) { /* run is closing or gone */
    inst->last_code = 127; /* as a shell reports "command not found" */
    inst->last_signal = 0;
    handle_crash(inst, 1);
    return;
  }
  inst->run = run;
  run->inst = inst;
  snprintf(detail, sizeof(detail), "spawned pid %d", (int)run->pid);
  emit(inst, "spawn", detail);
  uv_timer_start(&inst->timer, on_ready_timeout, (uint64_t)cfg_of(inst)->ready_timeout_ms, 0);
}

/* ---- Queries and small acts ---- */

struct ipc_channel *sup_instance_channel(struct sup_instance *inst) {
  if (inst->run == NULL || inst->run->ch_dead || inst->run->ch.failed)
    return NULL;
  return &inst->run->ch;
}

int sup_instance_send(struct sup_instance *inst, const char *line, size_t len) {
  struct ipc_channel *ch = sup_instance_channel(inst);
  return ch ? ipc_channel_send(ch, line, len) : UV_EPIPE;
}

int sup_instance_routable(const struct sup_instance *inst) {
  return inst->state == SUP_I_READY && inst->run && !inst->run->ch_dead;
}

pid_t sup_instance_pid(const struct sup_instance *inst) {
  return inst->run ? inst->run->pid : 0;
}

void sup_instance_check_memory(struct sup_instance *inst) {
  if (inst->run == NULL)
    return;
  inst->rss = sup_proc_rss(inst->run->pid);
  sup_proc_cpu_sample(&inst->cpu, inst->run->pid, sup_now_ms());
  int limit = cfg_of(inst)->max_memory_mb;
  if (limit > 0 && inst->state == SUP_I_READY && inst->rss > (uint64_t)limit << 20) {
    sup_log(SUP_WARN, "%s: RSS %llu MiB is over max_memory_mb %d; restarting it", inst->label,
            (unsigned long long)(inst->rss >> 20), limit);
    emit(inst, "memory", "over max_memory_mb");
    sup_instance_stop(inst, SUP_STOP_RESTART);
  }
}

/* ---- Allocation ---- */

struct sup_instance *sup_instance_new(struct sup_service *svc, int index) {
  struct sup_instance *inst = calloc(1, sizeof(*inst));
  if (inst == NULL)
    return NULL;
  inst->svc = svc;
  inst->index = index;
  inst->state = SUP_I_EXITED;
  inst->last_code = -1;
  snprintf(inst->label, sizeof(inst->label), "%s[%d]", svc->cfg->name, index);
  sup_backoff_init(&inst->backoff, (uint64_t)svc->cfg->restart.backoff_initial_ms,
                   (uint64_t)svc->cfg->restart.backoff_max_ms);
  uv_loop_t *loop = sup_host_loop(svc->host);
  uv_timer_init(loop, &inst->timer);
  uv_timer_init(loop, &inst->hb);
  inst->timer.data = inst->hb.data = inst;
  return inst;
}

static void on_inst_timer_closed(uv_handle_t *h) {
  struct sup_instance *inst = h->data;
  if (--inst->closing > 0)
    return;
  for (size_t i = 0; i < inst->ntopics; i++)
    free(inst->topics[i]);
  free(inst->topics);
  free(inst);
}

void sup_instance_free(struct sup_instance *inst) {
  if (inst->run) {
    inst->run->inst = NULL;
    inst->run = NULL;
  }
  inst->closing = 2;
  uv_close((uv_handle_t *)&inst->timer, on_inst_timer_closed);
  uv_close((uv_handle_t *)&inst->hb, on_inst_timer_closed);
}
