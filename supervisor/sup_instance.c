/* sup_instance — the instance state machine: the (state, event) table, its
 * actions, and the channel traffic and timers that become events. See
 * sup_instance.h; the table is drawn in ARCHITECTURE.md. */
#include "sup_instance.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc_msg.h"
#include "sup_health.h"
#include "sup_host.h"
#include "sup_listens.h"
#include "sup_log.h"
#include "sup_probe.h"
#include "sup_proc.h"
#include "sup_restart.h"
#include "sup_run.h"
#include "sup_sdsock.h"
#include "sup_service.h"

#define EOF_GRACE_MS 1000        /* channel closed, process still there: broken */
#define BAD_LINES_PER_SEC 100    /* more invalid lines in a second: broken */
#define CPU_MIN_INTERVAL_MS 1000 /* cpu_percent is over a second or more */
#define WATCHDOG_MAX_MS 86400000 /* a WATCHDOG_USEC= longer than a day counts as a day */

static const char *const state_names[] = {
#define XX(e, s, p) s,
    SUP_ISTATE_MAP(XX)
#undef XX
};
static const char *const state_ids[] = {
#define XX(e, s, p) #e,
    SUP_ISTATE_MAP(XX)
#undef XX
};
static const unsigned char state_has_process[] = {
#define XX(e, s, p) p,
    SUP_ISTATE_MAP(XX)
#undef XX
};
static const char *const event_names[] = {
#define XX(e, s) s,
    SUP_IEVENT_MAP(XX)
#undef XX
};

const char *sup_istate_name(enum sup_istate s) {
  return state_names[s];
}

const char *sup_istate_id(enum sup_istate s) {
  return state_ids[s];
}

const char *sup_ievent_name(enum sup_ievent e) {
  return event_names[e];
}

static const struct cfg_service *cfg_of(const struct sup_instance *inst) {
  return inst->svc->cfg;
}

/* Emits an event about inst (logged, and streamed to `events` clients). */
static void emit(struct sup_instance *inst, const char *type, const char *detail) {
  struct sup_event ev = {.type = type,
                         .service = cfg_of(inst)->name,
                         .index = inst->index,
                         .pid = sup_instance_pid(inst),
                         .code = inst->last_code,
                         .signal = inst->last_signal,
                         .detail = detail};
  sup_host_emit(inst->svc->host, &ev);
}

/* Every state change goes through here. The hooks hear when the instance
 * starts or stops taking work (the gateway binds connections to it). */
static void set_state(struct sup_instance *inst, enum sup_istate s) {
  enum sup_istate old = inst->state;
  if (old != s)
    sup_log(SUP_DEBUG, "%s: %s -> %s", inst->label, state_ids[old], state_ids[s]);
  inst->state = s;
  sup_service_changed(inst->svc);
  if ((old == SUP_I_READY) != (s == SUP_I_READY))
    sup_host_instance_routable(inst->svc->host, inst, s == SUP_I_READY);
}

static void deadline(struct sup_instance *inst, uint64_t ms);
static void stop_timers(struct sup_instance *inst);
static void arm_watchdog(struct sup_instance *inst);
static void start_heartbeat(struct sup_instance *inst);
static void spawn(struct sup_instance *inst);

/* ---- Actions: stopping and killing ---- */

static void signal_group(struct sup_instance *inst, int sig) {
  sup_proc_kill_group(inst->run->pid, sig);
}

/* The SIGTERM step of a stop: stop_signal (default SIGTERM) to the main
 * process only; the program is in charge of its children, and whatever is
 * left of its group gets SIGKILL when it exits (on_exit_cb). */
static void signal_stop(struct sup_instance *inst) {
  int sig = cfg_of(inst)->stop_signal;
  if (kill(inst->run->pid, sig) != 0 && errno != ESRCH)
    sup_log(SUP_WARN, "%s: kill(%d, SIG%s) failed: %s", inst->label, (int)inst->run->pid,
            sigabbrev_np(sig), strerror(errno));
}

/* SIGKILL to the group now; the exit then says what follows (state). */
static void kill_now(struct sup_instance *inst, enum sup_istate s, const char *why) {
  sup_log(SUP_WARN, "%s: %s; killing process group %d", inst->label, why, (int)inst->run->pid);
  stop_timers(inst);
  set_state(inst, s);
  signal_group(inst, SIGKILL);
}

/* Hung, broken, late: killed by muster, its exit is a crash. */
static void act_kill(struct sup_instance *inst, const char *why) {
  kill_now(inst, SUP_I_KILLED, why);
}

/* Forced shutdown, or broken while stopping for good: no more grace. */
static void act_kill_final(struct sup_instance *inst, const char *why) {
  kill_now(inst, SUP_I_STOPPING, why ? why : "forced stop");
}

/* " (it listens on port 3000 instead: does it read PORT?)" when the
 * process or its descendants listen on TCP ports, else "". */
static void listen_hint(const struct sup_instance *inst, char *out, size_t size) {
  int ports[4];
  size_t n = sup_listens_of(inst->run->pid, ports, 4);
  size_t k = 0;
  out[0] = '\0';
  for (size_t i = 0; i < n && k < size; i++)
    k += (size_t)snprintf(out + k, size - k, "%s%d", i == 0 ? " (it listens on port " : ", ",
                          ports[i]);
  if (n > 0 && k < size)
    snprintf(out + k, size - k, " instead: does it read %s?)",
             inst->run->up_path ? "MUSTER_SOCKET" : "PORT");
}

static void act_ready_timeout(struct sup_instance *inst, const char *why) {
  char msg[256], hint[96];
  if (inst->probe) {
    listen_hint(inst, hint, sizeof(hint));
    snprintf(msg, sizeof(msg), "%s not accepting connections within %d ms%s",
             sup_probe_what(inst->probe), cfg_of(inst)->ready_timeout_ms, hint);
  } else if (cfg_of(inst)->ready == CFG_READY_EXITED)
    snprintf(msg, sizeof(msg), "a one-shot job still running after ready_timeout_ms (%d ms)",
             cfg_of(inst)->ready_timeout_ms);
  else if (inst->run->sd)
    snprintf(msg, sizeof(msg), "no READY=1 on its NOTIFY_SOCKET within %d ms",
             cfg_of(inst)->ready_timeout_ms);
  else
    snprintf(msg, sizeof(msg), "no ready message within %d ms", cfg_of(inst)->ready_timeout_ms);
  act_kill(inst, msg);
}

/* The stop stages: the shutdown message, SIGTERM at half of
 * stop_timeout_ms, SIGKILL at all of it. s: STOPPING or RESTARTING. */
static void stop_into(struct sup_instance *inst, enum sup_istate s) {
  int total = cfg_of(inst)->stop_timeout_ms;
  struct ipc_channel *ch = sup_instance_channel(inst);
  stop_timers(inst);
  set_state(inst, s);
  if (total == 0) {
    signal_group(inst, SIGKILL);
    return;
  }
  if (ch) {
    ipc_enc_shutdown(ipc_channel_begin(ch), total / 2);
    ipc_channel_commit(ch);
    inst->stop_stage = 0;
    deadline(inst, (uint64_t)(total / 2));
  } else { /* nobody to ask: the stop signal at once, SIGKILL still at all of it */
    signal_stop(inst);
    inst->stop_stage = 1;
    deadline(inst, (uint64_t)total);
  }
}

static void act_stop(struct sup_instance *inst, const char *why) {
  stop_into(inst, SUP_I_STOPPING);
}

static void act_restart(struct sup_instance *inst, const char *why) {
  stop_into(inst, SUP_I_RESTARTING);
}

/* The next stop stage is due. */
static void act_stop_stage(struct sup_instance *inst, const char *why) {
  int total = cfg_of(inst)->stop_timeout_ms;
  if (inst->stop_stage == 0) {
    sup_log(SUP_INFO, "%s: not gone after the shutdown message; SIG%s to pid %d", inst->label,
            sigabbrev_np(cfg_of(inst)->stop_signal), (int)inst->run->pid);
    signal_stop(inst);
    inst->stop_stage = 1;
    deadline(inst, (uint64_t)(total - total / 2));
  } else {
    sup_log(SUP_WARN, "%s: still running %d ms after the shutdown request; SIGKILL", inst->label,
            total);
    signal_group(inst, SIGKILL);
  }
}

/* A replacement or a kill under way becomes a stop for good. */
static void act_make_final(struct sup_instance *inst, const char *why) {
  set_state(inst, SUP_I_STOPPING);
}

static void act_drain(struct sup_instance *inst, const char *why) {
  set_state(inst, SUP_I_DRAINING);
  emit(inst, "drain", "no new requests; stopping once idle");
  if (inst->inflight == 0)
    act_stop(inst, NULL);
  else
    deadline(inst, (uint64_t)cfg_of(inst)->stop_timeout_ms);
}

static void act_drain_timeout(struct sup_instance *inst, const char *why) {
  sup_log(SUP_WARN, "%s: still %u requests in flight after %d ms of draining; stopping it",
          inst->label, inst->inflight, cfg_of(inst)->stop_timeout_ms);
  act_stop(inst, NULL);
}

/* Stopped while waiting to restart. */
static void act_give_up(struct sup_instance *inst, const char *why) {
  uv_timer_stop(&inst->timer);
  set_state(inst, SUP_I_EXITED);
  emit(inst, "stop", "stopped while waiting to restart");
}

/* ---- Actions: exits ---- */

/* An exit muster did not ask for (or a kill of its own): the restart
 * policy, the window and the backoff decide (sup_restart). */
static void after_crash(struct sup_instance *inst, int clean) {
  struct sup_service *svc = inst->svc;
  char detail[64];
  uint64_t delay = 0;
  struct sup_restart_facts f = {.cfg = &cfg_of(inst)->restart,
                                .clean = clean,
                                .now_ms = sup_now_ms(),
                                .held = sup_host_stopping(svc->host) || svc->stopped ||
                                        svc->failed || inst->removing,
                                .ready_ms = inst->ready_ms,
                                .rnd = (uint32_t)random()};
  enum sup_restart_verdict v = sup_restart_decide(&f, &svc->window, &inst->backoff, &delay);
  if (v == SUP_RESTART_STAY_EXITED || v == SUP_RESTART_FAIL_SERVICE) {
    set_state(inst, SUP_I_EXITED);
    if (v == SUP_RESTART_FAIL_SERVICE)
      sup_service_fail(svc, inst);
    return;
  }
  inst->restarts++;
  svc->restarts_total++;
  if (v == SUP_RESTART_NOW) {
    emit(inst, "restart", "restarting now");
    spawn(inst);
    return;
  }
  snprintf(detail, sizeof(detail), "restarting in %llu ms", (unsigned long long)delay);
  set_state(inst, SUP_I_BACKOFF);
  emit(inst, "backoff", detail);
  deadline(inst, delay);
}

/* Clean: one of success_exit_codes, no signal, not killed by muster. A
 * one-shot job's clean exit is its success: what depends on it may start
 * (the event "completed"), and the restart policy (on-failure, never)
 * leaves it exited. */
static void act_crashed(struct sup_instance *inst, const char *why) {
  int by_us = inst->state == SUP_I_KILLED;
  int clean = !by_us && inst->last_signal == 0 && cfg_success_exit(cfg_of(inst), inst->last_code);
  if (clean && inst->state == SUP_I_STARTING && cfg_of(inst)->ready == CFG_READY_EXITED) {
    char detail[64];
    uv_timer_stop(&inst->timer);
    inst->completed = 1;
    snprintf(detail, sizeof(detail), "exited with code %d after %llu ms", inst->last_code,
             (unsigned long long)(sup_now_ms() - inst->started_ms));
    emit(inst, "completed", detail);
  }
  after_crash(inst, clean);
}

static void act_stopped(struct sup_instance *inst, const char *why) {
  set_state(inst, SUP_I_EXITED);
  emit(inst, "stop", "stopped");
}

static void act_replaced(struct sup_instance *inst, const char *why) {
  inst->restarts++;
  inst->svc->restarts_total++;
  emit(inst, "restart", "planned restart");
  spawn(inst);
}

/* ---- Actions: starting ---- */

static void act_spawn(struct sup_instance *inst, const char *why) {
  spawn(inst);
}

/* The readiness probe goes (upstream.ready "port", ready "running"). */
static void stop_probe(struct sup_instance *inst) {
  if (inst->probe) {
    sup_probe_cancel(inst->probe);
    inst->probe = NULL;
  }
}

/* upstream.ready "port": time to try the instance's port again. */
static void act_probe(struct sup_instance *inst, const char *why) {
  if (inst->probe)
    sup_probe_try(inst->probe);
}

static void act_ready(struct sup_instance *inst, const char *why) {
  char detail[64];
  uv_timer_stop(&inst->timer);
  stop_probe(inst);
  inst->ready_ms = sup_now_ms();
  snprintf(detail, sizeof(detail), "ready in %llu ms",
           (unsigned long long)(inst->ready_ms - inst->started_ms));
  set_state(inst, SUP_I_READY);
  emit(inst, "ready", detail);
  /* The beats: pings for a program that speaks IPC (an upstream without a
   * channel gets none) and the health check (services[].health, SPEC §12)
   * when there is one. */
  start_heartbeat(inst);
  arm_watchdog(inst);
  sup_instance_sample(inst); /* the CPU baseline of a first `status` */
}

/* ---- The table ---- */

typedef void (*sup_iact)(struct sup_instance *inst, const char *why);

/* What each event does in each state; NULL: nothing. */
/* one row per state, as ARCHITECTURE.md draws it */
// clang-format off
static const sup_iact table[SUP_I__COUNT][SUP_E__COUNT] = {
    [SUP_I_EXITED] = {[SUP_E_START] = act_spawn, [SUP_E_RESTART] = act_spawn},
    [SUP_I_BACKOFF] = {[SUP_E_START] = act_spawn, [SUP_E_RESTART] = act_spawn,
                       [SUP_E_TIMER] = act_spawn, [SUP_E_STOP] = act_give_up,
                       [SUP_E_DRAIN] = act_give_up},
    [SUP_I_STARTING] = {[SUP_E_READY] = act_ready, [SUP_E_PROBE] = act_probe,
                        [SUP_E_TIMER] = act_ready_timeout,
                        [SUP_E_STOP] = act_stop, [SUP_E_DRAIN] = act_stop,
                        [SUP_E_RESTART] = act_restart, [SUP_E_HUNG] = act_kill,
                        [SUP_E_BROKEN] = act_kill, [SUP_E_KILL] = act_kill_final,
                        [SUP_E_EXIT] = act_crashed},
    [SUP_I_READY] = {[SUP_E_STOP] = act_stop, [SUP_E_DRAIN] = act_drain,
                     [SUP_E_RESTART] = act_restart, [SUP_E_HUNG] = act_kill,
                     [SUP_E_UNHEALTHY] = act_kill, [SUP_E_BROKEN] = act_kill,
                     [SUP_E_KILL] = act_kill_final, [SUP_E_EXIT] = act_crashed},
    [SUP_I_DRAINING] = {[SUP_E_STOP] = act_stop, [SUP_E_IDLE] = act_stop,
                        [SUP_E_TIMER] = act_drain_timeout, [SUP_E_RESTART] = act_restart,
                        [SUP_E_HUNG] = act_kill, [SUP_E_UNHEALTHY] = act_kill,
                        [SUP_E_BROKEN] = act_kill, [SUP_E_KILL] = act_kill_final,
                        [SUP_E_EXIT] = act_crashed},
    [SUP_I_STOPPING] = {[SUP_E_TIMER] = act_stop_stage, [SUP_E_BROKEN] = act_kill_final,
                        [SUP_E_KILL] = act_kill_final, [SUP_E_EXIT] = act_stopped},
    [SUP_I_RESTARTING] = {[SUP_E_STOP] = act_make_final, [SUP_E_DRAIN] = act_make_final,
                          [SUP_E_TIMER] = act_stop_stage, [SUP_E_BROKEN] = act_kill,
                          [SUP_E_KILL] = act_kill_final, [SUP_E_EXIT] = act_replaced},
    [SUP_I_KILLED] = {[SUP_E_STOP] = act_make_final, [SUP_E_DRAIN] = act_make_final,
                      [SUP_E_KILL] = act_kill_final, [SUP_E_EXIT] = act_crashed},
};
// clang-format on

const void *sup_instance__action(enum sup_istate s, enum sup_ievent e) {
  return (const void *)table[s][e];
}

void sup_instance_event(struct sup_instance *inst, enum sup_ievent ev, const char *why) {
  sup_iact act = table[inst->state][ev];
  sup_log(SUP_DEBUG, "%s: %s in %s%s", inst->label, event_names[ev], state_ids[inst->state],
          act ? "" : " (nothing to do)");
  /* A process state without a process: its exit is being handled right
   * now (a hook called back); only the exit itself may act. */
  if (act == NULL || (state_has_process[inst->state] && inst->run == NULL && ev != SUP_E_EXIT))
    return;
  act(inst, why);
}

/* ---- Timers: the state's deadline and the heartbeat ---- */

static void on_deadline(uv_timer_t *t) {
  sup_instance_event(t->data, SUP_E_TIMER, NULL);
}

static void deadline(struct sup_instance *inst, uint64_t ms) {
  uv_timer_start(&inst->timer, on_deadline, ms, 0);
}

/* Stops the deadline, the grace, the watchdog, the heartbeat and a
 * health check. */
static void stop_timers(struct sup_instance *inst) {
  uv_timer_stop(&inst->timer);
  uv_timer_stop(&inst->grace);
  uv_timer_stop(&inst->watchdog);
  sup_host_beat_remove(inst->svc->host, &inst->beat);
  if (inst->hcheck != NULL) {
    sup_health_cancel(inst->hcheck);
    inst->hcheck = NULL;
  }
  stop_probe(inst);
}

/* ---- Health checks (sup_health.c) ---- */

/* A check passed or failed: heartbeat_misses failures in a row restart the
 * instance, as a kill by muster (a crash), like missed pongs. */
static void health_result(struct sup_instance *inst, int ok, const char *why) {
  int limit = cfg_of(inst)->heartbeat_misses;
  char detail[240];
  if (ok) {
    if (inst->health_fails > 0)
      sup_log(SUP_INFO, "%s: health check passes again: %s", inst->label, why);
    inst->health_fails = 0;
    return;
  }
  inst->health_fails++;
  sup_log(SUP_WARN, "%s: health check failed (%d of %d): %s", inst->label, inst->health_fails,
          limit, why);
  if (inst->health_fails < limit)
    return;
  snprintf(detail, sizeof(detail), "health check failed %d times in a row: %s", inst->health_fails,
           why);
  emit(inst, "unhealthy", detail);
  sup_instance_event(inst, SUP_E_UNHEALTHY, detail);
}

void sup_instance_health_done(struct sup_instance *inst, struct sup_hcheck *c, int ok,
                              const char *why) {
  if (inst->hcheck != c)
    return;
  inst->hcheck = NULL;
  health_result(inst, ok, why);
}

/* At each beat: a check still running has failed (the beat is its
 * timeout); then the next one starts. */
static void health_beat(struct sup_instance *inst) {
  char why[200];
  if (inst->hcheck != NULL) {
    sup_health_cancel(inst->hcheck);
    inst->hcheck = NULL;
    snprintf(why, sizeof(why), "no answer within %d ms", cfg_of(inst)->heartbeat_ms);
    health_result(inst, 0, why);
  }
  if (inst->state != SUP_I_READY && inst->state != SUP_I_DRAINING)
    return; /* killed just now */
  if ((inst->hcheck = sup_health_start(inst, why, sizeof(why))) == NULL)
    health_result(inst, 0, why);
}

/* Sends a ping. An idle channel (nothing queued, no write in flight) gets
 * it with one uv_try_write() at once: through the queue, each uv_write()
 * also costs an epoll_ctl() to add and drop POLLOUT, which with 1,000
 * instances was a tenth of muster's idle CPU. Anything not written goes
 * through the queue as usual, so the order of lines holds. */
static void send_ping(struct sup_instance *inst, struct ipc_channel *ch) {
  struct ipc_buf *b = ipc_channel_begin(ch);
  ipc_enc_ping(b, ++inst->ping_seq);
  if (ch->mark == 0 && !ch->writing && !b->oom) {
    uv_buf_t buf = uv_buf_init(b->data, (unsigned)b->len);
    int n = uv_try_write((uv_stream_t *)&ch->pipe, &buf, 1);
    if (n > 0)
      ipc_buf_consume(b, (size_t)n);
  }
  ipc_channel_commit(ch); /* the rest, if any */
  inst->ping_outstanding = 1;
}

void sup_instance_beat(struct sup_instance *inst, uint64_t now) {
  uint64_t period = (uint64_t)cfg_of(inst)->heartbeat_ms;
  sup_host_beat_add(inst->svc->host, &inst->beat, sup_sched_next(inst->beat.due, now, period));
  if (inst->ping_outstanding && ++inst->misses >= cfg_of(inst)->heartbeat_misses) {
    char why[96];
    snprintf(why, sizeof(why), "missed %d pongs in a row (hung)", inst->misses);
    sup_instance_event(inst, SUP_E_HUNG, why); /* unqueues the beat */
    return;
  }
  struct ipc_channel *ch = sup_instance_channel(inst);
  if (ch != NULL)
    send_ping(inst, ch);
  if (cfg_of(inst)->health.kind != CFG_HEALTH_NONE && inst->run != NULL)
    health_beat(inst);
}

/* Beats start one heartbeat_ms after ready, on the wheel's grid. */
static void start_heartbeat(struct sup_instance *inst) {
  int ms = cfg_of(inst)->heartbeat_ms;
  struct sup_host *h = inst->svc->host;
  inst->ping_outstanding = 0;
  inst->misses = 0;
  inst->health_fails = 0;
  if (ms > 0)
    sup_host_beat_add(h, &inst->beat, sup_sched_first(uv_now(sup_host_loop(h)), (uint64_t)ms));
}

/* ---- Channel traffic ---- */

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
    sup_instance_event(inst, SUP_E_BROKEN, "flood of invalid messages");
}

/* A line that is not a valid message: dropped, counted; an invalid
 * answer to a known request fails that request now (502). */
static void on_invalid_line(struct sup_instance *inst, const char *line, size_t len,
                            const char *err) {
  int64_t id;
  bad_line(inst, err);
  if (ipc_msg_response_id(line, len, &id)) {
    struct ipc_msg bad = {.type = IPC_T_RESPONSE, .id = id, .status = 0};
    sup_host_instance_msg(inst->svc->host, inst, &bad);
  }
}

static void on_msg(struct sup_instance *inst, const struct ipc_msg *m) {
  switch (m->type) {
  case IPC_T_READY:
    sup_instance_event(inst, SUP_E_READY, NULL);
    break;
  case IPC_T_PONG:
    if (m->seq == inst->ping_seq) {
      inst->ping_outstanding = 0;
      inst->misses = 0;
    }
    break;
  case IPC_T_RESPONSE:
  case IPC_T_CHUNK:
  case IPC_T_END:
  case IPC_T_WS_SEND:
  case IPC_T_WS_CLOSE:
  case IPC_T_JOIN:
  case IPC_T_LEAVE:
  case IPC_T_META:
  case IPC_T_ACK:
    sup_host_instance_msg(inst->svc->host, inst, m);
    break;
  case IPC_T_SUBSCRIBE:
  case IPC_T_UNSUBSCRIBE:
  case IPC_T_PUBLISH:
    sup_pubsub_msg(inst->svc->host, inst, m);
    break;
  default:
    bad_line(inst, "a message type services do not send");
    break;
  }
}

static void on_ch_line(struct ipc_channel *ch, const char *line, size_t len) {
  struct sup_run *run = ch->data;
  struct ipc_msg m;
  char err[160];
  if (run->inst == NULL)
    return;
  if (ipc_msg_parse(&m, line, len, err, sizeof(err)) != 0) {
    on_invalid_line(run->inst, line, len, err);
    return;
  }
  on_msg(run->inst, &m);
  ipc_msg_free(&m);
}

static void on_eof_grace(uv_timer_t *t) {
  struct sup_instance *inst = t->data;
  if (inst->run && !inst->run->exited)
    sup_instance_event(inst, SUP_E_BROKEN, "closed its channel but kept running");
}

static void on_ch_error(struct ipc_channel *ch, int err) {
  struct sup_run *run = ch->data;
  struct sup_instance *inst = run->inst;
  run->ch_dead = 1;
  if (inst == NULL)
    return;
  if (err == UV_E2BIG) {
    sup_instance_event(inst, SUP_E_BROKEN, "sent a line longer than 64 MiB");
  } else if (inst->state == SUP_I_STARTING || inst->state == SUP_I_READY ||
             inst->state == SUP_I_DRAINING) {
    /* Usually the process is exiting; if it is not gone soon, it is broken. */
    sup_host_beat_remove(inst->svc->host, &inst->beat);
    uv_timer_start(&inst->grace, on_eof_grace, EOF_GRACE_MS, 0);
  }
}

/* ---- sd_notify (ready "notify", sup_sdsock) ---- */

static void on_watchdog(uv_timer_t *t) {
  struct sup_instance *inst = t->data;
  char why[96];
  if (inst->run == NULL) /* stopped at the exit; never due without a process */
    return;
  snprintf(why, sizeof(why), "no WATCHDOG=1 within %d ms (hung)", inst->run->watchdog_ms);
  sup_instance_event(inst, SUP_E_HUNG, why);
}

/* (Re)starts the watchdog of a ready instance that has one. */
static void arm_watchdog(struct sup_instance *inst) {
  if (inst->run->sd != NULL && inst->run->watchdog_ms > 0 &&
      (inst->state == SUP_I_READY || inst->state == SUP_I_DRAINING))
    uv_timer_start(&inst->watchdog, on_watchdog, (uint64_t)inst->run->watchdog_ms, 0);
}

/* EXTEND_TIMEOUT_USEC=: the deadline of a start or a stop moves to usec
 * from now, when that is later (systemd's rule). The stop's deadline is
 * its SIGKILL. */
static void extend_deadline(struct sup_instance *inst, int64_t usec) {
  uint64_t ms = (uint64_t)(usec + 999) / 1000;
  if (inst->state != SUP_I_STARTING && inst->state != SUP_I_STOPPING &&
      inst->state != SUP_I_RESTARTING)
    return;
  if (!uv_is_active((uv_handle_t *)&inst->timer) || uv_timer_get_due_in(&inst->timer) >= ms)
    return;
  sup_log(SUP_DEBUG, "%s: EXTEND_TIMEOUT_USEC: deadline in %llu ms", inst->label,
          (unsigned long long)ms);
  deadline(inst, ms);
}

/* What the log says of the keys muster only reports. */
static void notified_log(struct sup_instance *inst, const struct sup_sdmsg *m) {
  if (m->err >= 0)
    sup_log(SUP_WARN, "%s: reports ERRNO=%d (%s)", inst->label, m->err, strerror(m->err));
  if (m->stopping)
    sup_log(SUP_INFO, "%s: reports STOPPING=1", inst->label);
  if (m->mainpid)
    sup_log(SUP_DEBUG, "%s: MAINPID= ignored: muster watches the process it started", inst->label);
  if (m->bad > 0)
    sup_log(SUP_WARN, "%s: NOTIFY_SOCKET: %u assignment%s ignored, the first \"%.*s\"", inst->label,
            m->bad, m->bad == 1 ? "" : "s", (int)(m->first_bad_len > 60 ? 60 : m->first_bad_len),
            m->first_bad);
}

void sup_instance_notified(struct sup_instance *inst, const struct sup_sdmsg *m) {
  if (inst->run == NULL)
    return;
  notified_log(inst, m);
  if (m->trigger) {
    sup_instance_event(inst, SUP_E_HUNG, "sent WATCHDOG=trigger");
    return;
  }
  if (m->watchdog_usec > 0) /* the period changes now, as systemd's WATCHDOG_USEC= */
    inst->run->watchdog_ms = m->watchdog_usec >= (int64_t)WATCHDOG_MAX_MS * 1000
                                 ? WATCHDOG_MAX_MS
                                 : (int)((m->watchdog_usec + 999) / 1000);
  if (m->extend_usec >= 0)
    extend_deadline(inst, m->extend_usec);
  if (m->ready)
    sup_instance_event(inst, SUP_E_READY, NULL); /* in STARTING; arms the watchdog */
  if (m->watchdog || m->watchdog_usec > 0)
    arm_watchdog(inst);
}

/* ---- Spawn and exit ---- */

/* 1 when an exit (status or sig) is how a program ends when muster stops
 * it: by the stop signal (a program with no handler for it), or with a
 * clean code (0, a success code, or 128 + the signal from a shell). */
static int asked_exit(const struct sup_instance *inst, int64_t status, int sig) {
  const struct cfg_service *c = cfg_of(inst);
  if (inst->state != SUP_I_STOPPING && inst->state != SUP_I_RESTARTING)
    return 0;
  if (sig)
    return sig == c->stop_signal;
  return status == 0 || status == 128 + c->stop_signal || cfg_success_exit(c, (int)status);
}

/* The process of run is gone: what every exit does, then the event. */
static void on_exit_cb(struct sup_run *run, int64_t status, int sig) {
  struct sup_instance *inst = run->inst;
  char detail[96];
  run->exited = 1;
  sup_proc_kill_group(run->pid, SIGKILL); /* whatever it forked and left */
  sup_run_release(run);
  sup_pubsub_run_done(run->host, run); /* its subscriptions end with it */
  if (inst == NULL)
    return;
  inst->run = NULL;
  run->inst = NULL;
  stop_timers(inst);
  inst->last_code = sig ? -1 : (int)status;
  inst->last_signal = sig;
  inst->rss = 0;
  if (sig)
    snprintf(detail, sizeof(detail), "killed by signal %d (%s)", sig, strsignal(sig));
  else
    snprintf(detail, sizeof(detail), "exited with code %d", (int)status);
  struct sup_event ev = {.type = "exit",
                         .service = cfg_of(inst)->name,
                         .index = inst->index,
                         .pid = run->pid,
                         .code = inst->last_code,
                         .signal = sig,
                         .detail = detail,
                         .asked = asked_exit(inst, status, sig)};
  sup_host_emit(inst->svc->host, &ev);
  sup_host_instance_gone(inst->svc->host, inst);
  sup_instance_event(inst, SUP_E_EXIT, NULL);
}

/* A new process for inst (state starting); a spawn that fails is handled
 * as a crash: restart policy and backoff apply. */
static void spawn(struct sup_instance *inst) {
  static const struct ipc_channel_cbs chcbs = {on_ch_line, on_ch_error, NULL};
  char detail[64];
  struct sup_run *run = calloc(1, sizeof(*run));
  if (run == NULL) {
    sup_log(SUP_ERROR, "%s: out of memory while spawning", inst->label);
    return;
  }
  run->host = inst->svc->host;
  sup_host_run_opened(run->host, run);
  inst->ready_ms = 0;
  inst->started_ms = sup_now_ms();
  inst->ping_outstanding = inst->misses = 0;
  set_state(inst, SUP_I_STARTING);
  if (sup_run_spawn(run, inst, &chcbs, on_exit_cb) < 0) { /* run is closing or gone */
    inst->last_code = 127; /* as a shell reports "command not found" */
    inst->last_signal = 0;
    after_crash(inst, 0);
    return;
  }
  inst->run = run;
  run->inst = inst;
  snprintf(detail, sizeof(detail), "spawned pid %d", (int)run->pid);
  emit(inst, "spawn", detail);
  inst->completed = 0;
  enum cfg_ready mode = cfg_ready_of(cfg_of(inst));
  if (mode == CFG_READY_PORT || mode == CFG_READY_RUNNING) /* its port accepts, or it runs */
    inst->probe = sup_probe_start(inst, run->up_port, run->up_path);
  if (mode != CFG_READY_RUNNING || inst->probe == NULL) /* a worker has none */
    deadline(inst, (uint64_t)cfg_of(inst)->ready_timeout_ms);
}

/* ---- Queries and small acts ---- */

void sup_instance_acquire(struct sup_instance *inst) {
  inst->inflight++;
  inst->requests++;
}

void sup_instance_released(struct sup_instance *inst) {
  if (inst->inflight > 0)
    inst->inflight--;
  if (inst->inflight == 0 && inst->state == SUP_I_DRAINING)
    sup_instance_event(inst, SUP_E_IDLE, NULL);
}

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
  return inst->state == SUP_I_READY && inst->run && (inst->run->no_channel || !inst->run->ch_dead);
}

pid_t sup_instance_pid(const struct sup_instance *inst) {
  return inst->run ? inst->run->pid : 0;
}

/* The CPU figure changes at most once a second (CPU_MIN_INTERVAL_MS):
 * until then only the RSS is read, from the cheaper /proc/PID/statm. */
void sup_instance_sample(struct sup_instance *inst) {
  uint64_t ticks, rss, now = sup_now_ms();
  if (inst->run == NULL)
    return;
  pid_t pid = inst->run->pid;
  if (inst->cpu.pid == pid && now < inst->cpu.at_ms + CPU_MIN_INTERVAL_MS) {
    inst->rss = sup_proc_rss(pid);
    return;
  }
  if (sup_proc_stat_read(pid, &ticks, &rss) != 0)
    return;
  inst->rss = rss;
  sup_proc_cpu_update(&inst->cpu, pid, ticks, now, CPU_MIN_INTERVAL_MS);
}

void sup_instance_check_memory(struct sup_instance *inst) {
  if (inst->run == NULL)
    return;
  sup_instance_sample(inst);
  int limit = cfg_of(inst)->max_memory_mb;
  if (limit > 0 && inst->state == SUP_I_READY && inst->rss > (uint64_t)limit << 20) {
    sup_log(SUP_WARN, "%s: RSS %llu MiB is over max_memory_mb %d; restarting it", inst->label,
            (unsigned long long)(inst->rss >> 20), limit);
    emit(inst, "memory", "over max_memory_mb");
    sup_instance_restart(inst);
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
  uv_timer_init(loop, &inst->grace);
  uv_timer_init(loop, &inst->watchdog);
  inst->timer.data = inst->grace.data = inst->watchdog.data = inst;
  return inst;
}

static void on_inst_timer_closed(uv_handle_t *h) {
  struct sup_instance *inst = h->data;
  if (--inst->closing == 0)
    free(inst);
}

void sup_instance_free(struct sup_instance *inst) {
  stop_probe(inst);
  if (inst->run) {
    inst->run->inst = NULL;
    inst->run = NULL;
  }
  stop_timers(inst);
  inst->closing = 3;
  uv_close((uv_handle_t *)&inst->timer, on_inst_timer_closed);
  uv_close((uv_handle_t *)&inst->grace, on_inst_timer_closed);
  uv_close((uv_handle_t *)&inst->watchdog, on_inst_timer_closed);
}
