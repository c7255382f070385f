/* Fuzz target: the gateway's request handling, bytes in → responses out.
 *
 * A real gw_server runs in-process on a loopback port, on a host whose one
 * service is configured but never started (so routed requests get 503;
 * 404, the health path, 100-continue and every limit are reachable). Each
 * input is written on a new connection, which is then half-closed; the
 * loop runs until the server closes the connection. Checks: the server
 * always closes (no hang), every response is a well-formed HTTP/1.1
 * response with a length, and nothing crashes or leaks. */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "cfg.h"
#include "gw_server.h"
#include "sup_host.h"
#include "sup_log.h"

static struct sup_host host;
static int port;

static int free_port(void) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  bind(fd, (struct sockaddr *)&sa, sizeof(sa));
  getsockname(fd, (struct sockaddr *)&sa, &len);
  close(fd);
  return ntohs(sa.sin_port);
}

/* Sets the gateway up once: small limits so they are reached. */
static void setup(void) {
  char text[1024];
  port = free_port();
  snprintf(text, sizeof(text),
           "{\"gateway\": {\"listen\": \"127.0.0.1:%d\", \"max_header_bytes\": 2048,"
           " \"max_body_bytes\": 4096, \"access_log\": null, \"max_connections\": 64},"
           " \"control\": {\"socket\": \"/tmp/muster-fuzz.sock\"},"
           " \"logs\": {\"dir\": \"/tmp/muster-fuzz-logs\"},"
           " \"services\": [{\"name\": \"s\", \"command\": [\"/bin/true\"],"
           " \"routes\": [\"/s\", {\"prefix\": \"/h\", \"methods\": [\"GET\"], \"host\": \"a.b\"}]}]}",
           port);
  struct cfg_env env = {.file = "fuzz.json", .dir = "/tmp", .path = "/usr/bin:/bin"};
  struct cfg *cfg = NULL;
  struct cfg_errors errs;
  cfg_errors_init(&errs);
  if (cfg_parse(text, strlen(text), &env, &cfg, &errs) != 0) {
    cfg_errors_print(&errs, stderr);
    abort();
  }
  cfg_errors_free(&errs);
  sup_log_set_level(SUP_ERROR);
  if (sup_host_init(&host, uv_default_loop(), cfg, "fuzz.json", NULL) != 0 ||
      gw_server_start(&host) == NULL)
    abort();
}

/* Checks the bytes the server sent: a sequence of responses. */
static void check_responses(const char *p, size_t n) {
  while (n > 0) {
    assert(n >= 12 && memcmp(p, "HTTP/1.1 ", 9) == 0);
    const char *end = memmem(p, n, "\r\n\r\n", 4);
    assert(end != NULL);
    size_t head = (size_t)(end - p) + 4;
    int status = atoi(p + 9);
    assert(status >= 100 && status <= 599);
    if (status == 100) { /* interim: no length */
      p += head, n -= head;
      continue;
    }
    const char *cl = memmem(p, head, "\r\ncontent-length: ", 18);
    assert(cl != NULL); /* the gateway's own answers always carry a length */
    assert(memmem(p, head, "\r\nx-request-id: ", 16) != NULL);
    size_t len = (size_t)strtoul(cl + 18, NULL, 10);
    assert(head + len <= n);
    p += head + len;
    n -= head + len;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  static char out[1 << 20];
  if (!ready) {
    setup();
    ready = 1;
  }
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
    abort();
  size_t sent = 0, got = 0;
  int shut = 0, closed = 0;
  for (long i = 0; i < 2000000 && !closed; i++) {
    uv_run(uv_default_loop(), UV_RUN_NOWAIT);
    if (sent < size) {
      ssize_t w = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
      if (w > 0)
        sent += (size_t)w;
      else if (w < 0 && errno != EAGAIN && errno != ENOTCONN)
        sent = size; /* reset by the server: it closed early */
    } else if (!shut) {
      shutdown(fd, SHUT_WR);
      shut = 1;
    }
    ssize_t r = recv(fd, out + got, sizeof(out) - got, 0);
    if (r > 0)
      got += (size_t)r;
    else if (r == 0 || (r < 0 && errno == ECONNRESET))
      closed = 1;
    assert(got < sizeof(out));
  }
  assert(closed); /* the server must end every connection it was sent EOF on */
  close(fd);
  check_responses(out, got);
  return 0;
}
