/* sup_restart — the restart decision. See sup_restart.h. */
#include "sup_restart.h"

enum sup_restart_verdict sup_restart_decide(const struct sup_restart_facts *f, struct sup_window *w,
                                            struct sup_backoff *b, uint64_t *delay_ms) {
  enum cfg_restart_policy policy = f->cfg->policy;
  if (f->held || policy == CFG_RESTART_NEVER || (policy == CFG_RESTART_ON_FAILURE && f->clean))
    return SUP_RESTART_STAY_EXITED;
  if (f->ready_ms && f->now_ms - f->ready_ms >= (uint64_t)f->cfg->window_s * 1000)
    sup_backoff_reset(b); /* it had proved stable */
  if (!f->clean && sup_window_add(w, f->now_ms))
    return SUP_RESTART_FAIL_SERVICE; /* a clean exit never counts */
  *delay_ms = sup_backoff_next(b, f->rnd);
  return *delay_ms == 0 ? SUP_RESTART_NOW : SUP_RESTART_BACKOFF;
}

const char *sup_restart_verdict_name(enum sup_restart_verdict v) {
  switch (v) {
  case SUP_RESTART_STAY_EXITED:
    return "stay-exited";
  case SUP_RESTART_FAIL_SERVICE:
    return "fail-service";
  case SUP_RESTART_NOW:
    return "restart-now";
  case SUP_RESTART_BACKOFF:
    return "backoff";
  }
  return "?";
}
