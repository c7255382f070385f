/* Unit tests for sup_restart (with sup_backoff): every verdict, the
 * window, the backoff's growth and its reset after a stable run. */
#include <stdlib.h>

#include "sup_restart.h"
#include "test.h"

#define MID (1u << 31) /* jitter factor exactly 1.0 */

/* A service's restart state: its settings, window and one instance's backoff. */
struct svc {
  struct cfg_restart cfg;
  struct sup_window w;
  struct sup_backoff b;
};

static void svc_init(struct svc *s, enum cfg_restart_policy policy, int max_restarts,
                     int window_s) {
  s->cfg = (struct cfg_restart){.policy = policy,
                                .backoff_initial_ms = 100,
                                .backoff_max_ms = 1000,
                                .max_restarts = max_restarts,
                                .window_s = window_s};
  if (sup_window_init(&s->w, (unsigned)max_restarts, (uint64_t)window_s * 1000) != 0)
    abort();
  sup_backoff_init(&s->b, 100, 1000);
}

/* An exit at now_ms (never ready), clean or not. *delay is set to a
 * marker first: it must be set for BACKOFF (and NOW says 0 through it). */
static enum sup_restart_verdict exit_at(struct svc *s, int clean, uint64_t now_ms,
                                        uint64_t *delay) {
  struct sup_restart_facts f = {.cfg = &s->cfg, .clean = clean, .now_ms = now_ms, .rnd = MID};
  *delay = 777777;
  return sup_restart_decide(&f, &s->w, &s->b, delay);
}

static enum sup_restart_verdict decide(struct svc *s, const struct sup_restart_facts *f,
                                       uint64_t *delay) {
  *delay = 777777;
  return sup_restart_decide(f, &s->w, &s->b, delay);
}

/* ---- Verdicts ---- */

TEST(held_stays_exited) {
  /* Host stopping, service stopped or failed, instance removed: whatever
   * the policy and the exit. */
  enum cfg_restart_policy pol[] = {CFG_RESTART_ALWAYS, CFG_RESTART_ON_FAILURE, CFG_RESTART_NEVER};
  for (int p = 0; p < 3; p++) {
    for (int clean = 0; clean < 2; clean++) {
      struct svc s;
      uint64_t d;
      svc_init(&s, pol[p], 3, 10);
      struct sup_restart_facts f = {.cfg = &s.cfg, .clean = clean, .held = 1, .now_ms = 5000};
      CHECK_INT(decide(&s, &f, &d), SUP_RESTART_STAY_EXITED);
      sup_window_free(&s.w);
    }
  }
}

TEST(never_stays_exited) {
  struct svc s;
  uint64_t d;
  svc_init(&s, CFG_RESTART_NEVER, 3, 10);
  CHECK_INT(exit_at(&s, 0, 1000, &d), SUP_RESTART_STAY_EXITED);
  CHECK_INT(exit_at(&s, 1, 2000, &d), SUP_RESTART_STAY_EXITED);
  sup_window_free(&s.w);
}

TEST(on_failure_clean_stays_exited) {
  struct svc s;
  uint64_t d;
  svc_init(&s, CFG_RESTART_ON_FAILURE, 3, 10);
  CHECK_INT(exit_at(&s, 1, 1000, &d), SUP_RESTART_STAY_EXITED);
  sup_window_free(&s.w);
}

TEST(on_failure_unclean_restarts) {
  struct svc s;
  uint64_t d;
  svc_init(&s, CFG_RESTART_ON_FAILURE, 3, 10);
  CHECK_INT(exit_at(&s, 0, 1000, &d), SUP_RESTART_NOW);
  CHECK_INT(d, 0);
  CHECK_INT(exit_at(&s, 0, 1100, &d), SUP_RESTART_BACKOFF);
  CHECK_INT(d, 100);
  sup_window_free(&s.w);
}

TEST(always_restarts_a_clean_exit) {
  struct svc s;
  uint64_t d;
  svc_init(&s, CFG_RESTART_ALWAYS, 3, 10);
  CHECK_INT(exit_at(&s, 1, 1000, &d), SUP_RESTART_NOW);
  CHECK_INT(exit_at(&s, 1, 1100, &d), SUP_RESTART_BACKOFF);
  CHECK_INT(exit_at(&s, 0, 1200, &d), SUP_RESTART_BACKOFF);
  sup_window_free(&s.w);
}

TEST(clean_exits_never_count_toward_max_restarts) {
  /* success_exit_codes: restarted under always, with the backoff, but a
   * clean exit never fills the window. */
  struct svc s;
  uint64_t d;
  svc_init(&s, CFG_RESTART_ALWAYS, 2, 60);
  for (int i = 0; i < 50; i++) {
    enum sup_restart_verdict v = exit_at(&s, 1, 1000 + (uint64_t)i, &d);
    CHECK(v == SUP_RESTART_NOW || v == SUP_RESTART_BACKOFF);
  }
  CHECK_INT(sup_window_count(&s.w, 1050), 0);
  CHECK(d > 0 && d <= 1000);                                   /* throttled */
  CHECK(exit_at(&s, 0, 1060, &d) != SUP_RESTART_FAIL_SERVICE); /* the first failure counts 1 */
  sup_window_free(&s.w);
}

TEST(verdict_names) {
  CHECK_STR(sup_restart_verdict_name(SUP_RESTART_STAY_EXITED), "stay-exited");
  CHECK_STR(sup_restart_verdict_name(SUP_RESTART_FAIL_SERVICE), "fail-service");
  CHECK_STR(sup_restart_verdict_name(SUP_RESTART_NOW), "restart-now");
  CHECK_STR(sup_restart_verdict_name(SUP_RESTART_BACKOFF), "backoff");
  CHECK_STR(sup_restart_verdict_name((enum sup_restart_verdict)99), "?");
}

/* ---- The window ---- */

TEST(window_full_fails_the_service) {
  struct svc s;
  uint64_t d;
  svc_init(&s, CFG_RESTART_ALWAYS, 3, 10);
  CHECK(exit_at(&s, 0, 1000, &d) != SUP_RESTART_FAIL_SERVICE);
  CHECK(exit_at(&s, 0, 2000, &d) != SUP_RESTART_FAIL_SERVICE);
  CHECK(exit_at(&s, 0, 3000, &d) != SUP_RESTART_FAIL_SERVICE);
  unsigned attempt = s.b.attempt;
  CHECK_INT(exit_at(&s, 0, 4000, &d), SUP_RESTART_FAIL_SERVICE); /* 4th within 10 s */
  CHECK_INT(s.b.attempt, attempt); /* no restart: no backoff step spent */
  sup_window_free(&s.w);
}

TEST(window_slides_past_old_restarts) {
  struct svc s;
  uint64_t d;
  svc_init(&s, CFG_RESTART_ALWAYS, 2, 10);
  CHECK(exit_at(&s, 0, 1000, &d) != SUP_RESTART_FAIL_SERVICE);
  CHECK(exit_at(&s, 0, 2000, &d) != SUP_RESTART_FAIL_SERVICE);
  CHECK(exit_at(&s, 0, 11000, &d) != SUP_RESTART_FAIL_SERVICE); /* 1000 expired */
  CHECK_INT(sup_window_count(&s.w, 11000), 2);
  CHECK_INT(exit_at(&s, 0, 11500, &d), SUP_RESTART_FAIL_SERVICE);
  sup_window_free(&s.w);
}

TEST(window_is_the_services) {
  /* Two instances (two backoffs) share one window. */
  struct svc s;
  struct sup_backoff other;
  uint64_t d;
  svc_init(&s, CFG_RESTART_ALWAYS, 2, 10);
  sup_backoff_init(&other, 100, 1000);
  struct sup_restart_facts f = {.cfg = &s.cfg, .now_ms = 1000, .rnd = MID};
  CHECK_INT(sup_restart_decide(&f, &s.w, &other, &d), SUP_RESTART_NOW);
  CHECK_INT(exit_at(&s, 0, 1100, &d), SUP_RESTART_NOW); /* its own first */
  f.now_ms = 1200;
  CHECK_INT(sup_restart_decide(&f, &s.w, &other, &d), SUP_RESTART_FAIL_SERVICE);
  sup_window_free(&s.w);
}

TEST(held_and_policy_exits_leave_window_and_backoff) {
  struct svc s;
  uint64_t d;
  svc_init(&s, CFG_RESTART_ON_FAILURE, 2, 10);
  CHECK_INT(exit_at(&s, 0, 1000, &d), SUP_RESTART_NOW);
  CHECK_INT(sup_window_count(&s.w, 1000), 1);
  unsigned attempt = s.b.attempt;
  for (int i = 0; i < 10; i++) {
    struct sup_restart_facts held = {.cfg = &s.cfg, .clean = 0, .held = 1, .now_ms = 1001};
    CHECK_INT(decide(&s, &held, &d), SUP_RESTART_STAY_EXITED);
    CHECK_INT(exit_at(&s, 1, 1002, &d), SUP_RESTART_STAY_EXITED); /* clean, on-failure */
  }
  s.cfg.policy = CFG_RESTART_NEVER;
  CHECK_INT(exit_at(&s, 0, 1003, &d), SUP_RESTART_STAY_EXITED);
  CHECK_INT(sup_window_count(&s.w, 1003), 1);
  CHECK_INT(s.b.attempt, attempt);
  /* So the next crash is only the 2nd restart in the window, the 2nd delay. */
  s.cfg.policy = CFG_RESTART_ON_FAILURE;
  CHECK_INT(exit_at(&s, 0, 1004, &d), SUP_RESTART_BACKOFF);
  CHECK_INT(d, 100);
  sup_window_free(&s.w);
}

/* ---- Backoff ---- */

TEST(delays_grow_to_the_cap) {
  struct svc s;
  uint64_t d, t = 1000;
  const uint64_t want[] = {0, 100, 200, 400, 800, 1000, 1000};
  svc_init(&s, CFG_RESTART_ALWAYS, 100, 10);
  for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
    enum sup_restart_verdict v = exit_at(&s, 0, t += 10, &d);
    CHECK_INT(v, want[i] ? SUP_RESTART_BACKOFF : SUP_RESTART_NOW);
    CHECK_INT(d, want[i]);
  }
  sup_window_free(&s.w);
}

TEST(delays_with_jitter_bounds) {
  /* The 3rd restart's delay is 200 ms +-20%, never past the cap. */
  const uint32_t rnd[] = {0, 1u << 30, MID, 0xFFFFFFFFu};
  const uint64_t want[] = {160, 180, 200, 239};
  for (int i = 0; i < 4; i++) {
    struct svc s;
    uint64_t d;
    svc_init(&s, CFG_RESTART_ALWAYS, 100, 10);
    struct sup_restart_facts f = {.cfg = &s.cfg, .now_ms = 1000, .rnd = rnd[i]};
    decide(&s, &f, &d);
    decide(&s, &f, &d);
    CHECK_INT(decide(&s, &f, &d), SUP_RESTART_BACKOFF);
    CHECK_INT(d, want[i]);
    sup_window_free(&s.w);
  }
  for (uint64_t r = 0; r <= 0xFFFFFFFFu; r += 0x01000193u) {
    struct svc s;
    uint64_t d;
    svc_init(&s, CFG_RESTART_ALWAYS, 100, 10);
    struct sup_restart_facts f = {.cfg = &s.cfg, .now_ms = 1000, .rnd = (uint32_t)r};
    for (int k = 0; k < 8; k++) { /* up to the cap: 1000 * 1.2 > max */
      decide(&s, &f, &d);
      CHECK(d <= 1000);
    }
    CHECK(d >= 800);
    sup_window_free(&s.w);
  }
}

TEST(first_restart_after_stable_run_is_immediate) {
  struct svc s;
  uint64_t d;
  svc_init(&s, CFG_RESTART_ALWAYS, 100, 10);
  exit_at(&s, 0, 1000, &d);
  exit_at(&s, 0, 1100, &d);
  exit_at(&s, 0, 1300, &d);
  CHECK_INT(d, 200);
  /* Ready at 2000, crashed at 12000: it stayed ready for window_s. */
  struct sup_restart_facts f = {.cfg = &s.cfg, .now_ms = 12000, .ready_ms = 2000, .rnd = MID};
  CHECK_INT(decide(&s, &f, &d), SUP_RESTART_NOW);
  CHECK_INT(d, 0);
  CHECK_INT(exit_at(&s, 0, 12100, &d), SUP_RESTART_BACKOFF); /* the sequence starts over */
  CHECK_INT(d, 100);
  sup_window_free(&s.w);
}

TEST(ready_shorter_than_window_keeps_backoff) {
  struct svc s;
  uint64_t d;
  svc_init(&s, CFG_RESTART_ALWAYS, 100, 10);
  exit_at(&s, 0, 1000, &d);
  exit_at(&s, 0, 1100, &d);
  /* Ready at 2000, crashed 1 ms short of 10 s later. */
  struct sup_restart_facts f = {.cfg = &s.cfg, .now_ms = 11999, .ready_ms = 2000, .rnd = MID};
  CHECK_INT(decide(&s, &f, &d), SUP_RESTART_BACKOFF);
  CHECK_INT(d, 200);
  /* Exactly window_s counts as stable. */
  f.now_ms = 12000;
  CHECK_INT(decide(&s, &f, &d), SUP_RESTART_NOW);
  sup_window_free(&s.w);
}

TEST(never_ready_never_resets) {
  /* ready_ms 0 means it never became ready, however long it ran. */
  struct svc s;
  uint64_t d;
  svc_init(&s, CFG_RESTART_ALWAYS, 100, 10);
  exit_at(&s, 0, 1000, &d);
  CHECK_INT(exit_at(&s, 0, 1000000, &d), SUP_RESTART_BACKOFF);
  sup_window_free(&s.w);
}

TEST(zero_initial_backoff_always_now) {
  struct svc s;
  uint64_t d;
  svc_init(&s, CFG_RESTART_ALWAYS, 100, 10);
  sup_backoff_init(&s.b, 0, 0);
  for (int i = 0; i < 5; i++) {
    CHECK_INT(exit_at(&s, 0, 1000 + (uint64_t)i, &d), SUP_RESTART_NOW);
    CHECK_INT(d, 0);
  }
  sup_window_free(&s.w);
}

int main(void) {
  RUN(held_stays_exited);
  RUN(never_stays_exited);
  RUN(on_failure_clean_stays_exited);
  RUN(on_failure_unclean_restarts);
  RUN(always_restarts_a_clean_exit);
  RUN(clean_exits_never_count_toward_max_restarts);
  RUN(verdict_names);
  RUN(window_full_fails_the_service);
  RUN(window_slides_past_old_restarts);
  RUN(window_is_the_services);
  RUN(held_and_policy_exits_leave_window_and_backoff);
  RUN(delays_grow_to_the_cap);
  RUN(delays_with_jitter_bounds);
  RUN(first_restart_after_stable_run_is_immediate);
  RUN(ready_shorter_than_window_keeps_backoff);
  RUN(never_ready_never_resets);
  RUN(zero_initial_backoff_always_now);
  return test_summary();
}
