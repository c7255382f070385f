/* Unit tests for sup_sdmsg: sd_notify(3) datagrams as programs send them
 * (sd_notify, sd_notifyf, systemd-notify, go-systemd), and what is
 * refused or ignored. */
#include <string.h>

#include "sup_sdmsg.h"
#include "test.h"

static int parse(struct sup_sdmsg *m, const char *s) {
  char why[96];
  return sup_sdmsg_parse(m, s, strlen(s), why, sizeof(why));
}

TEST(ready_and_status) {
  struct sup_sdmsg m;
  CHECK(parse(&m, "READY=1\nSTATUS=Processing requests...") == 0);
  CHECK(m.ready && !m.watchdog && !m.stopping && m.bad == 0);
  CHECK(m.status_len == 22 && memcmp(m.status, "Processing requests...", 22) == 0);
  CHECK(m.extend_usec == -1 && m.watchdog_usec == -1 && m.err == -1);
  /* a trailing newline, as systemd-notify writes it; an empty STATUS= */
  CHECK(parse(&m, "READY=1\nSTATUS=\n") == 0 && m.ready && m.status_len == 0 && m.status);
}

TEST(watchdog_and_timeouts) {
  struct sup_sdmsg m;
  CHECK(parse(&m, "WATCHDOG=1") == 0 && m.watchdog && !m.trigger);
  CHECK(parse(&m, "WATCHDOG=trigger") == 0 && m.trigger && !m.watchdog);
  CHECK(parse(&m, "WATCHDOG_USEC=20000000\nEXTEND_TIMEOUT_USEC=0") == 0);
  CHECK(m.watchdog_usec == 20000000 && m.extend_usec == 0);
  CHECK(parse(&m, "STOPPING=1\nRELOADING=1\nERRNO=2\nMAINPID=4242") == 0);
  CHECK(m.stopping && m.reloading && m.err == 2 && m.mainpid && m.bad == 0);
}

TEST(bad_values_are_counted_and_the_rest_counts) {
  struct sup_sdmsg m;
  CHECK(parse(&m, "READY=yes\nWATCHDOG_USEC=0\nERRNO=-1\nEXTEND_TIMEOUT_USEC=1e6\nSTATUS=ok") == 0);
  CHECK(!m.ready && m.watchdog_usec == -1 && m.err == -1 && m.extend_usec == -1);
  CHECK(m.bad == 4 && m.first_bad_len == 9 && memcmp(m.first_bad, "READY=yes", 9) == 0);
  CHECK(m.status_len == 2);
  /* no '=', an empty key, overflow, MAINPID=0 */
  CHECK(parse(&m, "BOGUS\n=1\nWATCHDOG_USEC=99999999999999999999\nMAINPID=0\nREADY=1") == 0);
  CHECK(m.bad == 4 && m.ready);
  /* keys muster does not know: ignored, not bad */
  CHECK(parse(&m, "FDSTORE=1\nFDNAME=db\nX_MY_KEY=v\nREADY=1") == 0 && m.bad == 0 && m.ready);
  /* empty lines are skipped */
  CHECK(parse(&m, "\n\nREADY=1\n\n") == 0 && m.ready && m.bad == 0);
}

TEST(refused_whole) {
  struct sup_sdmsg m;
  char why[96];
  CHECK(sup_sdmsg_parse(&m, "", 0, why, sizeof(why)) == -1 && strstr(why, "empty"));
  CHECK(sup_sdmsg_parse(&m, "READY=1\0", 8, why, sizeof(why)) == -1 && strstr(why, "NUL"));
  CHECK(!m.ready);
}

TEST(status_text) {
  char out[SUP_SDMSG_STATUS_MAX + 1], small[8];
  CHECK(sup_sdmsg_status("a\tb\x1b[1m", 7, out, sizeof(out)) == 7 && strcmp(out, "a b [1m") == 0);
  /* cut at a character's start: "é" (2 bytes) does not fit in 7 */
  CHECK(sup_sdmsg_status("abcdef\xc3\xa9", 8, small, sizeof(small)) == 6 &&
        strcmp(small, "abcdef") == 0);
  char big[600];
  memset(big, 'x', sizeof(big));
  CHECK(sup_sdmsg_status(big, sizeof(big), out, sizeof(out)) == SUP_SDMSG_STATUS_MAX);
  /* a sequence cut at the end of the text is dropped */
  CHECK(sup_sdmsg_status("ok\xe2\x82", 4, out, sizeof(out)) == 2 && strcmp(out, "ok") == 0);
}

int main(void) {
  RUN(ready_and_status);
  RUN(watchdog_and_timeouts);
  RUN(bad_values_are_counted_and_the_rest_counts);
  RUN(refused_whole);
  RUN(status_text);
  return test_summary();
}
