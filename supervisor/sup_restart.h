/* sup_restart — what an instance's exit leads to, when muster did not ask
 * it to stop. Pure: the caller gathers the facts (the policy, how the
 * process ended, the service's situation, the time) and acts on the
 * answer; the restart window and the backoff (sup_backoff.h) are updated
 * here, so every branch is tested without a process or a clock
 * (tests/unit/test_sup_restart.c).
 *
 *   host stopping, service stopped/failed, instance being removed  → stay exited
 *   policy never, or on-failure after a clean exit                   → stay exited
 *   one restart too many within window_s (clean exits never count)   → service failed
 *   else → restart now (the first after a stable run) or back off
 *
 * A clean exit is one of success_exit_codes (default 0), with no signal,
 * and not a kill by muster; under `always` it restarts with the backoff
 * (a program that exits at once is still throttled) but can never fail
 * the service.
 *
 * An instance that had stayed ready for window_s proved stable: its
 * backoff starts over. */
#ifndef MUSTER_SUP_RESTART_H
#define MUSTER_SUP_RESTART_H

#include <stdint.h>

#include "cfg.h"
#include "sup_backoff.h"

enum sup_restart_verdict {
  SUP_RESTART_STAY_EXITED = 0, /* no restart */
  SUP_RESTART_FAIL_SERVICE,    /* crash loop: the service goes failed */
  SUP_RESTART_NOW,             /* spawn again at once */
  SUP_RESTART_BACKOFF          /* spawn again after *delay_ms */
};

/* The facts about one exit. */
struct sup_restart_facts {
  const struct cfg_restart *cfg; /* the service's restart settings */
  int clean;                     /* a success exit code, no signal, not killed by muster */
  int held;                      /* host stopping, service stopped or failed, instance removed */
  uint64_t now_ms;               /* monotonic time of the exit */
  uint64_t ready_ms;             /* when it last became ready, 0 if it never did */
  uint32_t rnd;                  /* any random value (the backoff's jitter) */
};

/* Decides, recording the restart in the service's window w and the
 * instance's backoff b when there is one. *delay_ms is set for BACKOFF. */
enum sup_restart_verdict sup_restart_decide(const struct sup_restart_facts *f, struct sup_window *w,
                                            struct sup_backoff *b, uint64_t *delay_ms);

/* Its name, for messages and tests ("backoff", ...). */
const char *sup_restart_verdict_name(enum sup_restart_verdict v);

#endif
