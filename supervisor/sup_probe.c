/* sup_probe — is the upstream's port accepting connections yet? See
 * sup_probe.h. */
#include "sup_probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "sup_host.h"
#include "sup_instance.h"
#include "sup_log.h"
#include "sup_service.h"

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

/* The PROBE event is due: the state table decides. */
static void on_delay(uv_timer_t *t) {
  struct sup_probe *p = t->data;
  if (p->inst)
    sup_instance_event(p->inst, SUP_E_PROBE, NULL);
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

/* A try ended: a connection is the READY event, a refusal waits. */
static void on_connect(uv_connect_t *req, int status) {
  struct sup_probe *p = req->data;
  struct sup_instance *inst = p->inst;
  uv_close(&p->sock.h, on_sock_closed);
  if (inst == NULL || status < 0)
    return;
  p->inst = NULL; /* done: nothing more from this probe */
  sup_log(SUP_DEBUG, "%s: %s accepts connections", inst->label, p->what);
  sup_instance_event(inst, SUP_E_READY, NULL);
}

void sup_probe_try(struct sup_probe *p) {
  uv_loop_t *loop = p->timer.loop;
  struct sockaddr_in sa;
  if (p->connecting || p->inst == NULL)
    return;
  p->creq.data = p;
  p->sock.h.data = p;
  p->connecting = 1;
  p->open++;
  if (p->port == 0) {
    uv_pipe_init(loop, &p->sock.pipe, 0);
    uv_pipe_connect(&p->creq, &p->sock.pipe, p->path, on_connect);
    return;
  }
  uv_tcp_init(loop, &p->sock.tcp);
  uv_ip4_addr("127.0.0.1", p->port, &sa);
  if (uv_tcp_connect(&p->creq, &p->sock.tcp, (struct sockaddr *)&sa, on_connect) < 0)
    uv_close(&p->sock.h, on_sock_closed); /* out of descriptors: next time */
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
  if (port)
    snprintf(p->what, sizeof(p->what), "port %d", port);
  else
    snprintf(p->what, sizeof(p->what), "socket %s", path);
  uv_timer_init(sup_host_loop(inst->svc->host), &p->timer);
  p->timer.data = p;
  p->open = 1;
  p->delay = SUP_PROBE_FIRST_MS;
  uv_timer_start(&p->timer, on_delay, p->delay, 0);
  return p;
}

void sup_probe_cancel(struct sup_probe *p) {
  p->inst = NULL;
  uv_close((uv_handle_t *)&p->timer, on_closed); /* a try under way closes in its callback */
}
