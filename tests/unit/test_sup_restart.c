/* Unit tests for sup_restart: every branch of the decision, and that a
 * clean exit (success_exit_codes) is throttled but never fails a service. */
#include "sup_restart.h"
#include "test.h"

static const uint32_t MID = 1u << 31; /* jitter factor exactly 1.0 */

/* The facts of an exit at now (ready 10 ms before) under policy. */
static struct sup_restart_facts facts(const struct cfg_restart *r, int clean, uint64_t now) {
  struct sup_restart_facts f = {
      .cfg = r, .clean = clean, .now_ms = now, .ready_ms = now - 10, .rnd = MID};
  return f;
}

TEST(policies) {
  struct cfg_restart r = {CFG_RESTART_ALWAYS, 100, 1000, 10, 60};
  struct sup_window w;
  struct sup_backoff b;
  uint64_t d = 0;
  CHECK_INT(sup_window_init(&w, 10, 60000), 0);
  sup_backoff_init(&b, 100, 1000);
  struct sup_restart_facts f = facts(&r, 0, 1000);
  CHECK_INT(sup_restart_decide(&f, &w, &b, &d), SUP_RESTART_NOW);
  CHECK_INT(sup_restart_decide(&f, &w, &b, &d), SUP_RESTART_BACKOFF);
  CHECK_INT(d, 100);
  r.policy = CFG_RESTART_NEVER;
  CHECK_INT(sup_restart_decide(&f, &w, &b, &d), SUP_RESTART_STAY_EXITED);
  r.policy = CFG_RESTART_ON_FAILURE;
  CHECK_INT(sup_restart_decide(&f, &w, &b, &d), SUP_RESTART_BACKOFF); /* a failure */
  f.clean = 1;
  CHECK_INT(sup_restart_decide(&f, &w, &b, &d), SUP_RESTART_STAY_EXITED);
  f.clean = 0;
  f.held = 1; /* shutdown, stopped, removed */
  CHECK_INT(sup_restart_decide(&f, &w, &b, &d), SUP_RESTART_STAY_EXITED);
  sup_window_free(&w);
}

TEST(crash_loop_fails_the_service) {
  struct cfg_restart r = {CFG_RESTART_ALWAYS, 1, 5, 3, 60};
  struct sup_window w;
  struct sup_backoff b;
  uint64_t d;
  CHECK_INT(sup_window_init(&w, 3, 60000), 0);
  sup_backoff_init(&b, 1, 5);
  for (int i = 0; i < 3; i++) {
    struct sup_restart_facts f = facts(&r, 0, 1000 + (uint64_t)i);
    CHECK(sup_restart_decide(&f, &w, &b, &d) != SUP_RESTART_FAIL_SERVICE);
  }
  struct sup_restart_facts f = facts(&r, 0, 1010);
  CHECK_INT(sup_restart_decide(&f, &w, &b, &d), SUP_RESTART_FAIL_SERVICE);
  sup_window_free(&w);
}

TEST(clean_exits_never_count_toward_max_restarts) {
  struct cfg_restart r = {CFG_RESTART_ALWAYS, 1, 5, 2, 60};
  struct sup_window w;
  struct sup_backoff b;
  uint64_t d;
  CHECK_INT(sup_window_init(&w, 2, 60000), 0);
  sup_backoff_init(&b, 1, 5);
  for (int i = 0; i < 50; i++) {
    struct sup_restart_facts f = facts(&r, 1, 1000 + (uint64_t)i);
    enum sup_restart_verdict v = sup_restart_decide(&f, &w, &b, &d);
    CHECK(v == SUP_RESTART_NOW || v == SUP_RESTART_BACKOFF); /* restarted, throttled */
  }
  CHECK_INT(sup_window_count(&w, 1050), 0);
  CHECK(d > 0); /* the backoff still applies */
  sup_window_free(&w);
}

TEST(a_stable_run_resets_the_backoff) {
  struct cfg_restart r = {CFG_RESTART_ALWAYS, 100, 1000, 100, 1};
  struct sup_window w;
  struct sup_backoff b;
  uint64_t d;
  CHECK_INT(sup_window_init(&w, 100, 1000), 0);
  sup_backoff_init(&b, 100, 1000);
  struct sup_restart_facts f = facts(&r, 0, 5000);
  sup_restart_decide(&f, &w, &b, &d);
  CHECK_INT(sup_restart_decide(&f, &w, &b, &d), SUP_RESTART_BACKOFF);
  f.ready_ms = 5000 - 1000; /* ready for window_s */
  CHECK_INT(sup_restart_decide(&f, &w, &b, &d), SUP_RESTART_NOW);
  CHECK_STR(sup_restart_verdict_name(SUP_RESTART_NOW), "restart-now");
  sup_window_free(&w);
}

int main(void) {
  RUN(policies);
  RUN(crash_loop_fails_the_service);
  RUN(clean_exits_never_count_toward_max_restarts);
  RUN(a_stable_run_resets_the_backoff);
  return test_summary();
}
