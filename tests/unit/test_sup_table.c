/* Unit tests for the instance state machine's table (sup_instance.c),
 * read through sup_instance__action(): invariants every state and event
 * must keep, and the table as ARCHITECTURE.md draws it. */
#include "sup_instance.h"
#include "test.h"

static const int has_process[SUP_I__COUNT] = {
#define XX(e, s, p) p,
    SUP_ISTATE_MAP(XX)
#undef XX
};

static const void *act(enum sup_istate s, enum sup_ievent e) {
  return sup_instance__action(s, e);
}

/* Checks that event e acts exactly in the states marked in want[]. */
static void acts_in(enum sup_ievent e, const int want[SUP_I__COUNT], int line) {
  for (int s = 0; s < SUP_I__COUNT; s++) {
    if ((act((enum sup_istate)s, e) != NULL) != want[s]) {
      printf("  line %d: %s in %s: %s\n", line, sup_ievent_name(e),
             sup_istate_id((enum sup_istate)s), want[s] ? "no action" : "an action");
      test_cur_failed = 1;
    }
  }
}
#define ACTS_IN(e, ...) acts_in(e, (const int[SUP_I__COUNT]){__VA_ARGS__}, __LINE__)

/* ---- Invariants ---- */

TEST(exit_acts_exactly_where_there_is_a_process) {
  /* A process state with no EXIT action would be stuck after the exit; an
   * EXIT without a process cannot happen. */
  acts_in(SUP_E_EXIT, has_process, __LINE__);
  CHECK_INT(has_process[SUP_I_EXITED], 0);
  CHECK_INT(has_process[SUP_I_BACKOFF], 0);
}

TEST(kill_acts_in_every_process_state) {
  /* A forced shutdown must reach every process, whatever it is doing. */
  acts_in(SUP_E_KILL, has_process, __LINE__);
}

TEST(start_and_restart_spawn_when_there_is_none) {
  CHECK(act(SUP_I_EXITED, SUP_E_START) != NULL);
  CHECK(act(SUP_I_EXITED, SUP_E_RESTART) != NULL);
  CHECK(act(SUP_I_BACKOFF, SUP_E_START) != NULL);
  CHECK(act(SUP_I_BACKOFF, SUP_E_RESTART) != NULL);
  /* START never disturbs a process that is there. */
  for (int s = 0; s < SUP_I__COUNT; s++)
    if (has_process[s])
      CHECK(act((enum sup_istate)s, SUP_E_START) == NULL);
}

TEST(ready_only_in_starting) {
  ACTS_IN(SUP_E_READY, [SUP_I_STARTING] = 1);
  /* an upstream's port is tried only while the instance waits for it */
  ACTS_IN(SUP_E_PROBE, [SUP_I_STARTING] = 1);
}

TEST(idle_only_in_draining) {
  ACTS_IN(SUP_E_IDLE, [SUP_I_DRAINING] = 1);
}

TEST(stop_acts_unless_stopped_or_stopping) {
  /* STOP in KILLED or RESTARTING makes the stop final: no respawn after. */
  ACTS_IN(SUP_E_STOP, [SUP_I_BACKOFF] = 1, [SUP_I_STARTING] = 1, [SUP_I_READY] = 1,
          [SUP_I_DRAINING] = 1, [SUP_I_RESTARTING] = 1, [SUP_I_KILLED] = 1);
}

TEST(timer_only_in_states_with_a_deadline) {
  ACTS_IN(SUP_E_TIMER, [SUP_I_BACKOFF] = 1, [SUP_I_STARTING] = 1, [SUP_I_DRAINING] = 1,
          [SUP_I_STOPPING] = 1, [SUP_I_RESTARTING] = 1);
}

TEST(hung_broken_drain_where_they_mean_something) {
  /* HUNG only while the process should answer pings; BROKEN also while it
   * stops (it goes to SIGKILL); DRAIN gives up a pending backoff, and in a
   * stop, like STOP, makes it final. */
  ACTS_IN(SUP_E_HUNG, [SUP_I_STARTING] = 1, [SUP_I_READY] = 1, [SUP_I_DRAINING] = 1);
  /* UNHEALTHY only once ready: health checks start with the ready state. */
  ACTS_IN(SUP_E_UNHEALTHY, [SUP_I_READY] = 1, [SUP_I_DRAINING] = 1);
  ACTS_IN(SUP_E_BROKEN, [SUP_I_STARTING] = 1, [SUP_I_READY] = 1, [SUP_I_DRAINING] = 1,
          [SUP_I_STOPPING] = 1, [SUP_I_RESTARTING] = 1);
  ACTS_IN(SUP_E_DRAIN, [SUP_I_BACKOFF] = 1, [SUP_I_STARTING] = 1, [SUP_I_READY] = 1,
          [SUP_I_RESTARTING] = 1, [SUP_I_KILLED] = 1);
}

/* ---- The table as drawn in ARCHITECTURE.md ---- */

/* The drawing: the action of each (state, event) by name; "" is none. Two
 * cells share a name exactly when the code shares the action. */
static const char *const drawn[SUP_I__COUNT][SUP_E__COUNT] = {
    /* events in order: START STOP RESTART DRAIN IDLE READY PROBE TIMER HUNG UNHEALTHY BROKEN
     * KILL EXIT */
    [SUP_I_EXITED] = {"spawn", "", "spawn", "", "", "", "", "", "", "", "", "", ""},
    [SUP_I_BACKOFF] = {"spawn", "give up", "spawn", "give up", "", "", "", "spawn", "", "", "", "",
                       ""},
    [SUP_I_STARTING] = {"", "stop", "restart", "stop", "", "ready", "probe", "ready timeout",
                        "kill", "", "kill", "kill final", "crashed"},
    [SUP_I_READY] = {"", "stop", "restart", "drain", "", "", "", "", "kill", "kill", "kill",
                     "kill final", "crashed"},
    [SUP_I_DRAINING] = {"", "stop", "restart", "", "stop", "", "", "drain timeout", "kill", "kill",
                        "kill", "kill final", "crashed"},
    [SUP_I_STOPPING] = {"", "", "", "", "", "", "", "next stop stage", "", "", "kill final",
                        "kill final", "stopped"},
    [SUP_I_RESTARTING] = {"", "make final", "", "make final", "", "", "", "next stop stage", "", "",
                          "kill", "kill final", "replaced"},
    [SUP_I_KILLED] = {"", "make final", "", "make final", "", "", "", "", "", "", "", "kill final",
                      "crashed"},
};

TEST(table_matches_the_drawing) {
  enum { N = SUP_I__COUNT * SUP_E__COUNT };
  for (int a = 0; a < N; a++) {
    enum sup_istate sa = (enum sup_istate)(a / SUP_E__COUNT);
    enum sup_ievent ea = (enum sup_ievent)(a % SUP_E__COUNT);
    const char *na = drawn[sa][ea];
    if ((act(sa, ea) == NULL) != (*na == '\0')) {
      printf("  %s in %s: drawn \"%s\"\n", sup_ievent_name(ea), sup_istate_id(sa), na);
      test_cur_failed = 1;
    }
    for (int b = a + 1; b < N && *na; b++) {
      enum sup_istate sb = (enum sup_istate)(b / SUP_E__COUNT);
      enum sup_ievent eb = (enum sup_ievent)(b % SUP_E__COUNT);
      const char *nb = drawn[sb][eb];
      if (*nb && (act(sa, ea) == act(sb, eb)) != (strcmp(na, nb) == 0)) {
        printf("  %s in %s (\"%s\") and %s in %s (\"%s\"): %s action\n", sup_ievent_name(ea),
               sup_istate_id(sa), na, sup_ievent_name(eb), sup_istate_id(sb), nb,
               act(sa, ea) == act(sb, eb) ? "the same" : "a different");
        test_cur_failed = 1;
      }
    }
  }
}

/* ---- Names ---- */

TEST(names) {
  CHECK_STR(sup_istate_name(SUP_I_EXITED), "exited");
  CHECK_STR(sup_istate_name(SUP_I_READY), "ready");
  /* status shows the three stops alike; the debug log tells them apart. */
  CHECK_STR(sup_istate_name(SUP_I_STOPPING), "stopping");
  CHECK_STR(sup_istate_name(SUP_I_RESTARTING), "stopping");
  CHECK_STR(sup_istate_name(SUP_I_KILLED), "stopping");
  CHECK_STR(sup_istate_id(SUP_I_RESTARTING), "RESTARTING");
  CHECK_STR(sup_istate_id(SUP_I_KILLED), "KILLED");
  CHECK_STR(sup_ievent_name(SUP_E_START), "start");
  CHECK_STR(sup_ievent_name(SUP_E_EXIT), "exit");
}

int main(void) {
  RUN(exit_acts_exactly_where_there_is_a_process);
  RUN(kill_acts_in_every_process_state);
  RUN(start_and_restart_spawn_when_there_is_none);
  RUN(ready_only_in_starting);
  RUN(idle_only_in_draining);
  RUN(stop_acts_unless_stopped_or_stopping);
  RUN(timer_only_in_states_with_a_deadline);
  RUN(hung_broken_drain_where_they_mean_something);
  RUN(table_matches_the_drawing);
  RUN(names);
  return test_summary();
}
