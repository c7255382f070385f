/* sup_drain — taking a host out of a load balancer (SPEC §10): /readyz
 * fails and answers carry `connection: close` for gateway.drain_delay_ms
 * (the balancer's health checks see it and send new clients elsewhere,
 * and kept-alive clients leave after their next answer), then the gateway
 * stops accepting while existing connections finish (WebSocket clients
 * get 1001 and reconnect through the balancer). `musterctl drain` stops
 * there, services running, until `undrain`; SIGTERM with a drain delay
 * goes on to the usual shutdown. */
#include "sup_host.h"

#include "sup_log.h"

/* Tells every hook set the drain's new phase. */
static void drain_hooks(struct sup_host *h, enum sup_drain_phase phase) {
  for (size_t k = 0; k < h->nhooks; k++)
    if (h->hooks[k].drain)
      h->hooks[k].drain(h->hooks[k].ctx, (int)phase);
}

/* drain_delay_ms passed: the listeners close; SIGTERM's drain goes on to
 * the shutdown. */
static void on_drain_delay(uv_timer_t *t) {
  struct sup_host *h = t->data;
  drain_hooks(h, SUP_DRAIN_CLOSE);
  sup_log(SUP_INFO, "drain: the gateway stopped accepting");
  if (h->drain_then_stop)
    sup_host_shutdown(h);
}

/* The first step, for both ways in. */
static void drain_begin(struct sup_host *h) {
  int ms = h->cfg->gateway.drain_delay_ms;
  h->draining = 1;
  drain_hooks(h, SUP_DRAIN_BEGIN);
  struct sup_event ev = {.type = "drain",
                         .index = -1,
                         .code = -1,
                         .detail = "readyz fails; the gateway stops accepting after the delay"};
  sup_host_emit(h, &ev);
  uv_timer_start(&h->drain_timer, on_drain_delay, (uint64_t)(ms > 0 ? ms : 0), 0);
}

int sup_host_drain(struct sup_host *h) {
  if (h->stopping || h->drain_then_stop)
    return UV_ECANCELED;
  if (h->draining)
    return UV_EALREADY;
  drain_begin(h);
  return 0;
}

void sup_host_drain_before_stop(struct sup_host *h) {
  h->drain_then_stop = 1;
  sup_log(SUP_INFO, "draining for %d ms before stopping (gateway.drain_delay_ms)",
          h->cfg->gateway.drain_delay_ms);
  if (!h->draining)
    drain_begin(h);
  else if (!uv_is_active((uv_handle_t *)&h->drain_timer))
    sup_host_shutdown(h); /* drained already: go on */
}

int sup_host_undrain(struct sup_host *h) {
  if (!h->draining || h->stopping || h->drain_then_stop)
    return UV_EINVAL;
  uv_timer_stop(&h->drain_timer);
  h->draining = 0;
  drain_hooks(h, SUP_DRAIN_END); /* listening again before the event is told */
  struct sup_event ev = {
      .type = "undrain", .index = -1, .code = -1, .detail = "the gateway accepts again"};
  sup_host_emit(h, &ev);
  return 0;
}
