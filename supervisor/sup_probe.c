/* sup_probe — is the upstream's port accepting connections yet, is the
 * worker still running? See sup_probe.h. */
#include "sup_probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "sup_host.h"
#include "sup_instance.h"
#include "sup_log.h"
#include "sup_service.h"
#include "util_unix.h"

struct sup_probe {
  struct sup_instance *inst; /* the instance, NULL once cancelled or done */
  uv_timer_t timer;          /* the delay before the next try */
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
    uv_handle_t h;
  } sock; /* the try under way */
  uv_connect_t creq;
  uint64_t delay;          /* the last delay, ms */
  int port;                /* 127.0.0.1:port, or 0 for path */
  int open;                /* handles not yet closed */
  unsigned connecting : 1; /* sock is open (a try is under way) */
  unsigned v6 : 1;         /* the try under way is [::1]'s (127.0.0.1 refused) */
  unsigned running : 1;    /* a worker's: the first delay's end is READY */
  char what[128];          /* "port 3000", for messages */
  char path[];             /* the Unix socket */
};

uint64_t sup_probe_next_delay(uint64_t last) {
  if (last == 0)
    return SUP_PROBE_FIRST_MS;
  return last * 2 > SUP_PROBE_MAX_MS ? SUP_PROBE_MAX_MS : last * 2;
}

const char *sup_probe_what(const struct sup_probe *p) {
  return p->what;
}

/* One handle of p is closed; the last one frees it. */
static void on_closed(uv_handle_t *h) {
  struct sup_probe *p = h->data;
  if (--p->open == 0)
    free(p);
}

/* The PROBE event is due: the state table decides. A worker that is
 * still running (no EXIT cancelled the probe) is ready. */
static void on_delay(uv_timer_t *t) {
  struct sup_probe *p = t->data;
  struct sup_instance *inst = p->inst;
  if (inst == NULL)
    return;
  if (!p->running) {
    sup_instance_event(inst, SUP_E_PROBE, NULL);
    return;
  }
  p->inst = NULL; /* done: nothing more from this probe */
  sup_log(SUP_DEBUG, "%s: still running after %llu ms", inst->label, (unsigned long long)p->delay);
  sup_instance_event(inst, SUP_E_READY, NULL);
}

/* The socket of the last try is closed: the next try is armed. */
static void on_sock_closed(uv_handle_t *h) {
  struct sup_probe *p = h->data;
  p->connecting = 0;
  if (p->inst) {
    p->delay = sup_probe_next_delay(p->delay);
    uv_timer_start(&p->timer, on_delay, p->delay, 0);
  }
  on_closed(h);
}

static void connect_tcp(struct sup_probe *p, int v6);

/* 127.0.0.1 refused and its socket is closed: [::1] in the same try. */
static void on_v4_closed(uv_handle_t *h) {
  struct sup_probe *p = h->data;
  if (p->inst == NULL) { /* cancelled meanwhile */
    p->connecting = 0;
    on_closed(h);
    return;
  }
  p->open--;
  connect_tcp(p, 1);
}

/* A try ended: a connection is the READY event, a refusal waits (after
 * 127.0.0.1's, [::1] is tried: a Node program told to listen on
 * "localhost" listens there when /etc/hosts names ::1 first). */
static void on_connect(uv_connect_t *req, int status) {
  struct sup_probe *p = req->data;
  struct sup_instance *inst = p->inst;
  int again = status < 0 && inst != NULL && p->port != 0 && !p->v6;
  uv_close(&p->sock.h, again ? on_v4_closed : on_sock_closed);
  if (inst == NULL || status < 0)
    return;
  p->inst = NULL; /* done: nothing more from this probe */
  if (inst->run)
    inst->run->up_ipv6 = p->v6;
  sup_log(SUP_DEBUG, "%s: %s accepts connections%s", inst->label, p->what, p->v6 ? " on ::1" : "");
  sup_instance_event(inst, SUP_E_READY, NULL);
}

/* Connects to 127.0.0.1:port, or [::1]:port. */
static void connect_tcp(struct sup_probe *p, int v6) {
  struct sockaddr_storage sa;
  p->open++;
  p->v6 = v6 != 0;
  uv_tcp_init(p->timer.loop, &p->sock.tcp);
  util_loopback_addr(&sa, p->port, v6);
  if (uv_tcp_connect(&p->creq, &p->sock.tcp, (struct sockaddr *)&sa, on_connect) < 0)
    uv_close(&p->sock.h, on_sock_closed); /* out of descriptors: next time */
}

void sup_probe_try(struct sup_probe *p) {
  if (p->connecting || p->inst == NULL)
    return;
  p->creq.data = p;
  p->sock.h.data = p;
  p->connecting = 1;
  if (p->port == 0) {
    p->open++;
    uv_pipe_init(p->timer.loop, &p->sock.pipe, 0);
    uv_pipe_connect(&p->creq, &p->sock.pipe, p->path, on_connect);
    return;
  }
  connect_tcp(p, 0);
}

struct sup_probe *sup_probe_start(struct sup_instance *inst, int port, const char *path) {
  size_t plen = path ? strlen(path) : 0;
  struct sup_probe *p = calloc(1, sizeof(*p) + plen + 1);
  if (p == NULL)
    return NULL;
  p->inst = inst;
  p->port = port;
  if (path)
    memcpy(p->path, path, plen + 1);
  p->running = port == 0 && path == NULL;
  if (port)
    snprintf(p->what, sizeof(p->what), "port %d", port);
  else if (path)
    snprintf(p->what, sizeof(p->what), "socket %s", path);
  else
    snprintf(p->what, sizeof(p->what), "the process");
  uv_timer_init(sup_host_loop(inst->svc->host), &p->timer);
  p->timer.data = p;
  p->open = 1;
  p->delay = p->running ? (uint64_t)inst->svc->cfg->ready_after_ms : SUP_PROBE_FIRST_MS;
  /* The loop's clock is read once a turn: brought up to date first, the
   * delay counts from now, after the spawn, never from before it (a
   * worker is not ready sooner than ready_after_ms). */
  uv_update_time(sup_host_loop(inst->svc->host));
  uv_timer_start(&p->timer, on_delay, p->delay, 0);
  return p;
}

void sup_probe_cancel(struct sup_probe *p) {
  p->inst = NULL;
  uv_close((uv_handle_t *)&p->timer, on_closed); /* a try under way closes in its callback */
}
