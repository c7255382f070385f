/* Unit tests for gw_ws_notice: notices kept per service and sent, in the
 * order they came, to an instance's channel (a real ipc_channel over a
 * socketpair, read back from the other end), only the named service's;
 * and the bound: past GW_WS_NOTICES_MAX the oldest goes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "gw_ws_notice.h"
#include "ipc_channel.h"
#include "test.h"

#define L(s) s, strlen(s)

static void on_line(struct ipc_channel *ch, const char *line, size_t len) {
  (void)ch, (void)line, (void)len;
}
static void on_error(struct ipc_channel *ch, int err) {
  (void)ch, (void)err;
}
static void on_closed(struct ipc_channel *ch) {
  (void)ch;
}

/* What arrived at fd within the loop's turns, as one string. */
static void read_back(uv_loop_t *loop, int fd, char *out, size_t cap) {
  size_t got = 0;
  for (int i = 0; i < 10; i++)
    uv_run(loop, UV_RUN_NOWAIT);
  ssize_t n;
  while (got + 1 < cap && (n = recv(fd, out + got, cap - 1 - got, MSG_DONTWAIT)) > 0)
    got += (size_t)n;
  out[got] = '\0';
}

TEST(flush_sends_the_services_own_in_order) {
  static const struct ipc_channel_cbs cbs = {on_line, on_error, NULL};
  uv_loop_t loop;
  struct ipc_channel ch;
  struct gw_ws_notices ns;
  int sv[2];
  char buf[256];
  CHECK(uv_loop_init(&loop) == 0);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  CHECK(ipc_channel_open(&ch, &loop, sv[0], 0, &cbs, NULL) == 0);
  gw_ws_notices_init(&ns);
  gw_ws_notice_hold(&ns, "chat", L("{\"n\":1}\n"));
  gw_ws_notice_hold(&ns, "other", L("{\"n\":2}\n"));
  gw_ws_notice_hold(&ns, "chat", L("{\"n\":3}\n"));
  CHECK_INT(ns.n, 3);
  CHECK_INT(gw_ws_notice_flush(&ns, "nobody", &ch), 0);
  CHECK_INT(gw_ws_notice_flush(&ns, "chat", &ch), 2);
  CHECK_INT(ns.n, 1);
  read_back(&loop, sv[1], buf, sizeof(buf));
  CHECK_STR(buf, "{\"n\":1}\n{\"n\":3}\n");
  CHECK_INT(gw_ws_notice_flush(&ns, "chat", &ch), 0); /* sent once */
  CHECK_INT(gw_ws_notice_flush(&ns, "other", &ch), 1);
  read_back(&loop, sv[1], buf, sizeof(buf));
  CHECK_STR(buf, "{\"n\":2}\n");
  CHECK_INT(ns.n, 0);
  gw_ws_notices_free(&ns);
  ipc_channel_close(&ch, 0, on_closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  close(sv[1]);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST(the_oldest_goes_past_the_bound) {
  struct gw_ws_notices ns;
  char line[32];
  gw_ws_notices_init(&ns);
  for (int i = 0; i <= GW_WS_NOTICES_MAX; i++) {
    int n = snprintf(line, sizeof(line), "{\"n\":%d}\n", i);
    gw_ws_notice_hold(&ns, "chat", line, (size_t)n);
  }
  CHECK_INT(ns.n, GW_WS_NOTICES_MAX);
  struct gw_ws_notice *first = TAILQ_FIRST(&ns.q);
  CHECK(first != NULL && first->len == strlen("{\"n\":1}\n") &&
        memcmp(first->data, "{\"n\":1}\n", first->len) == 0);
  CHECK_STR(first->service, "chat");
  gw_ws_notices_free(&ns);
  CHECK_INT(ns.n, 0);
}

int main(void) {
  RUN(flush_sends_the_services_own_in_order);
  RUN(the_oldest_goes_past_the_bound);
  return test_summary();
}
