/* Unit tests for sup_proc: /proc/PID/stat parsing, the CPU percentage,
 * sampling this very process, and the variables no child inherits. */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "sup_proc.h"
#include "test.h"

#define STAT(s) s, sizeof(s) - 1

TEST(stat_cpu_plain) {
  uint64_t t = 0;
  CHECK_INT(sup_proc_stat_cpu(STAT("1234 (dummy_service) S 1 1234 1234 0 -1 4194560 120 0 0 0 "
                                   "17 5 0 0 20 0 1 0 12345 1000 100 18446744073709551615\n"),
                              &t),
            0);
  CHECK_INT(t, 22);
}

TEST(stat_cpu_name_with_spaces_and_parens) {
  uint64_t t = 0;
  /* A command name is whatever the process chose: "a b) c (" included. */
  CHECK_INT(
      sup_proc_stat_cpu(STAT("77 (a b) S 1 2 3 (x) R 1 77 77 0 -1 0 0 0 0 0 300 200 0 0"), &t), 0);
  CHECK_INT(t, 500);
}

TEST(stat_cpu_rejects_bad_lines) {
  uint64_t t = 7;
  CHECK_INT(sup_proc_stat_cpu(STAT(""), &t), UV_EINVAL);
  CHECK_INT(sup_proc_stat_cpu(STAT("12 no parens S 1 2 3"), &t), UV_EINVAL);
  CHECK_INT(sup_proc_stat_cpu(STAT("12 (short) S 1 2 3 4 5"), &t), UV_EINVAL);
  CHECK_INT(sup_proc_stat_cpu(STAT("1 (x) S 1 1 1 0 -1 0 0 0 0 0 1x 2 0"), &t), UV_EINVAL);
  CHECK_INT(t, 7); /* untouched on failure */
}

TEST(stat_parse_gives_rss_too) {
  uint64_t t = 0, pages = 0;
  /* Fields 14, 15 (utime, stime) and 24 (rss, pages). */
  CHECK_INT(sup_proc_stat_parse(STAT("1234 (dummy_service) S 1 1234 1234 0 -1 4194560 120 0 0 0 "
                                     "17 5 0 0 20 0 1 0 12345 1000 437 18446744073709551615\n"),
                                &t, &pages),
            0);
  CHECK_INT(t, 22);
  CHECK_INT(pages, 437);
  /* Cut before field 24: an error with the RSS, fine without. */
  CHECK_INT(sup_proc_stat_parse(STAT("1 (x) S 1 1 1 0 -1 0 0 0 0 0 3 4 0 0 20"), &t, &pages),
            UV_EINVAL);
  CHECK_INT(sup_proc_stat_parse(STAT("1 (x) S 1 1 1 0 -1 0 0 0 0 0 3 4 0 0 20"), &t, NULL), 0);
  CHECK_INT(t, 7);
  CHECK_INT(
      sup_proc_stat_parse(STAT("1 (x) S 1 1 1 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 5 6 -7"), &t, &pages),
      UV_EINVAL);
}

TEST(cpu_update_keeps_a_minimum_interval) {
  long hz = sysconf(_SC_CLK_TCK);
  struct sup_cpu c = {0};
  sup_proc_cpu_update(&c, 42, 1000, 5000, 1000); /* first reading: the baseline */
  CHECK_INT(c.pid, 42);
  CHECK(c.percent == 0);
  sup_proc_cpu_update(&c, 42, 1000 + (uint64_t)hz / 2, 5400, 1000); /* too soon: ignored */
  CHECK(c.percent == 0);
  CHECK_INT(c.at_ms, 5000);
  sup_proc_cpu_update(&c, 42, 1000 + (uint64_t)hz / 2, 6000, 1000); /* half a core over 1 s */
  CHECK_INT((int)(c.percent + 0.5), 50);
  CHECK_INT(c.at_ms, 6000);
  sup_proc_cpu_update(&c, 42, 1000 + (uint64_t)hz, 6500, 1000); /* kept: 50 % */
  CHECK_INT((int)(c.percent + 0.5), 50);
  sup_proc_cpu_update(&c, 43, 10, 6600, 1000); /* a new process starts over */
  CHECK(c.percent == 0);
  CHECK_INT(c.pid, 43);
}

TEST(cpu_percent) {
  CHECK_INT((int)(sup_proc_cpu_percent(100, 100, 1000) + 0.5), 100); /* one core */
  CHECK_INT((int)(sup_proc_cpu_percent(50, 100, 1000) + 0.5), 50);
  CHECK_INT((int)(sup_proc_cpu_percent(400, 100, 2000) + 0.5), 200); /* two cores */
  CHECK_INT((int)sup_proc_cpu_percent(10, 100, 0), 0);
  CHECK_INT((int)sup_proc_cpu_percent(10, 0, 1000), 0);
}

/* Burns CPU for about ms milliseconds of this thread's time. */
static void burn(long ms) {
  struct timespec a, b;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
  volatile unsigned long x = 0;
  do {
    for (int i = 0; i < 100000; i++)
      x += (unsigned long)i;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
  } while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < ms);
}

/* This process's CPU time so far, ms. */
static double cpu_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

TEST(sample_this_process) {
  struct sup_cpu c = {0};
  uint64_t t0 = sup_now_ms();
  double c0 = cpu_ms();
  CHECK_INT(sup_proc_cpu_sample(&c, getpid(), t0), 0);
  CHECK_INT(c.pid, getpid());
  CHECK(c.percent == 0); /* one reading: no interval yet */
  burn(300);
  uint64_t t1 = sup_now_ms();
  double c1 = cpu_ms();
  CHECK_INT(sup_proc_cpu_sample(&c, getpid(), t1), 0);
  /* What the process used over the wall time between the readings, as
   * the kernel's clock says: a loaded machine stretches the wall time,
   * so the expectation comes from the measurement, not from 100 %. The
   * kernel counts in ticks (10 ms): allow two at each end. */
  CHECK(t1 > t0);
  double want = (c1 - c0) * 100.0 / (double)(t1 - t0);
  double slack = 4 * 10 * 100.0 / (double)(t1 - t0) + 2;
  CHECK(c.percent > want - slack && c.percent < want + slack);
  /* Another pid starts over. */
  CHECK_INT(sup_proc_cpu_sample(&c, getppid(), sup_now_ms()), 0);
  CHECK(c.percent == 0);
  CHECK_INT(c.pid, getppid());
}

TEST(sample_gone_process) {
  struct sup_cpu c = {.pid = 5, .ticks = 9, .at_ms = 1, .percent = 50};
  CHECK(sup_proc_cpu_sample(&c, 0x3fffffff, sup_now_ms()) < 0);
  CHECK_INT(c.pid, 0);
  CHECK(c.percent == 0);
}

TEST(env_private_variables_are_not_inherited) {
  char *base[] = {"PATH=/bin",          "NOTIFY_SOCKET=/run/systemd/notify",
                  "LISTEN_FDS=2",       "LISTEN_PID=1",
                  "LISTEN_FDNAMES=a:b", "WATCHDOG_USEC=1000000",
                  "WATCHDOG_PID=1",     "NOTIFY_SOCKETS=kept",
                  "MY_LISTEN_X=kept",   NULL};
  char *set[] = {"MUSTER_INSTANCE=0"};
  char **env = sup_proc_env_build(base, set, 1);
  CHECK(env != NULL);
  size_t n = 0;
  for (; env && env[n]; n++)
    CHECK(!sup_proc_env_private(env[n]));
  CHECK_INT(n, 4);
  if (env && n == 4) {
    CHECK_STR(env[0], "PATH=/bin");
    CHECK_STR(env[1], "NOTIFY_SOCKETS=kept");
    CHECK_STR(env[2], "MY_LISTEN_X=kept");
    CHECK_STR(env[3], "MUSTER_INSTANCE=0");
  }
  sup_proc_env_free(env);
  CHECK(sup_proc_env_private("NOTIFY_SOCKET"));
  CHECK(!sup_proc_env_private("NOTIFY"));
}

int main(void) {
  RUN(stat_cpu_plain);
  RUN(stat_cpu_name_with_spaces_and_parens);
  RUN(stat_cpu_rejects_bad_lines);
  RUN(stat_parse_gives_rss_too);
  RUN(cpu_update_keeps_a_minimum_interval);
  RUN(cpu_percent);
  RUN(sample_this_process);
  RUN(sample_gone_process);
  RUN(env_private_variables_are_not_inherited);
  return test_summary();
}
