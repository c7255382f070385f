/* misbehave_service — a service that breaks the rules on purpose, for the
 * supervisor's tests. MISBEHAVE selects how (after sending `ready`):
 *   grow           allocate and touch 8 MiB every 20 ms (memory limit)
 *   fork           fork a grandchild that sleeps forever in our process
 *                  group; its pid is written to $MISBEHAVE_PIDFILE
 *   ignore_term    ignore SIGTERM and the shutdown message, keep answering
 *                  pings (only SIGKILL ends it)
 *   close_channel  close fd 3 but keep running
 *   garbage        write invalid lines on the channel, fast
 *   spam           write lines to stdout as fast as it can
 *   junk_few       write three invalid lines on the channel, then behave
 *   huge_line      write 100 MB on the channel without a newline
 *   stray_ids      answer each request twice: first as an unknown id
 *                  (id + 1000000), then correctly
 *   double_reply   answer each request twice with the same id ("first",
 *                  then "second")
 *   bad_reply      answer requests with an invalid response: ?kind=status
 *                  (status 42), name (a header name with a space), value
 *                  (a header value holding CR LF)
 * Unknown or empty: behaves (answers pings, nothing else). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "ipc_frame.h"
#include "ipc_service.h"

static const char *mode = "";
static uv_timer_t tick;
static char **blocks;
static size_t nblocks;

/* Writes a raw line on the channel, bypassing the library. */
static void raw(const char *line) {
  if (write(3, line, strlen(line)) < 0)
    exit(1);
}

static void on_request(struct ipc_req *req) {
  char line[160];
  if (strcmp(mode, "stray_ids") == 0 || strcmp(mode, "double_reply") == 0) {
    int stray = mode[0] == 's';
    snprintf(line, sizeof(line),
             "{\"type\":\"response\",\"id\":%lld,\"status\":200,\"body\":\"%s\"}\n",
             (long long)req->id + (stray ? 1000000 : 0), stray ? "stray" : "first");
    raw(line); /* ahead of the library's queued writes: ordering is kept */
    ipc_respond(req, 200, NULL, 0, stray ? "right" : "second", stray ? 5 : 6);
    return;
  }
  if (strcmp(mode, "bad_reply") == 0) {
    static const struct ipc_hdr bad_name[] = {{"bad name", "x"}};
    static const struct ipc_hdr bad_value[] = {{"x-bad", "a\r\nset-cookie: evil=1"}};
    if (strstr(req->query, "kind=status"))
      ipc_respond(req, 42, NULL, 0, "x", 1);
    else if (strstr(req->query, "kind=name"))
      ipc_respond(req, 200, bad_name, 1, "x", 1);
    else
      ipc_respond(req, 200, bad_value, 1, "x", 1);
    return;
  }
  ipc_respond_error(req, 404, "misbehave_service answers nothing");
}

static void on_tick(uv_timer_t *t) {
  if (strcmp(mode, "grow") == 0) {
    char **b = realloc(blocks, (nblocks + 1) * sizeof(*b));
    if (b == NULL)
      return;
    blocks = b;
    if ((blocks[nblocks] = malloc(8 << 20)) != NULL)
      memset(blocks[nblocks++], 1, 8 << 20); /* touch: make it resident */
  } else if (strcmp(mode, "garbage") == 0) {
    static const char junk[] = "this is not json\n";
    for (int i = 0; i < 50; i++)
      if (write(3, junk, sizeof(junk) - 1) < 0)
        break;
  } else if (strcmp(mode, "spam") == 0) {
    for (int i = 0; i < 1000; i++)
      printf("spam line %d with some padding to make it longer than short\n", i);
    fflush(stdout);
  }
}

/* Forks a grandchild that stays in our process group, writing its pid. */
static void fork_grandchild(void) {
  pid_t pid = fork();
  if (pid == 0) {
    for (;;)
      pause();
  }
  const char *pidfile = getenv("MISBEHAVE_PIDFILE");
  FILE *f = pidfile ? fopen(pidfile, "w") : NULL;
  if (f) {
    fprintf(f, "%d\n", (int)pid);
    fclose(f);
  }
}

/* Answers pings from a blocking loop and ignores everything else,
 * shutdown included. */
static int on_stubborn_line(void *ctx, const char *line, size_t len) {
  struct ipc_msg m;
  char err[128];
  if (ipc_msg_parse(&m, line, len, err, sizeof(err)) == 0) {
    if (m.type == IPC_T_PING) {
      struct ipc_buf b;
      ipc_buf_init(&b);
      ipc_enc_pong(&b, m.seq);
      if (write(3, b.data, b.len) < 0)
        exit(1);
      ipc_buf_free(&b);
    }
    ipc_msg_free(&m);
  }
  return 0;
}

static int stubborn(void) {
  static const char ready[] = "{\"type\":\"ready\"}\n";
  struct ipc_frame f;
  char buf[4096];
  ssize_t n;
  signal(SIGTERM, SIG_IGN);
  if (write(3, ready, sizeof(ready) - 1) < 0)
    return 1;
  ipc_frame_init(&f, 0);
  while ((n = read(3, buf, sizeof(buf))) > 0)
    ipc_frame_feed(&f, buf, (size_t)n, on_stubborn_line, NULL);
  for (;;)
    pause(); /* even with muster gone: only SIGKILL ends it */
}

int main(void) {
  uv_loop_t *loop = uv_default_loop();
  struct ipc_service_cbs cbs = {.on_request = on_request};
  mode = getenv("MISBEHAVE") ? getenv("MISBEHAVE") : "";
  if (strcmp(mode, "fork") == 0)
    fork_grandchild(); /* before the loop: the child must not share it */
  if (strcmp(mode, "ignore_term") == 0)
    return stubborn();
  if (strcmp(mode, "close_channel") == 0) {
    /* Say ready by hand, hang up the channel, and keep living. */
    static const char ready[] = "{\"type\":\"ready\"}\n";
    if (write(3, ready, sizeof(ready) - 1) < 0)
      return 1;
    close(3);
    for (;;)
      pause();
  }
  struct ipc_service *svc = ipc_service_new(loop, &cbs, NULL);
  if (svc == NULL)
    return 1;
  ipc_service_ready(svc);
  if (strcmp(mode, "junk_few") == 0) {
    ipc_service_set_autopong(svc, 1);
    raw("this is not json\n{\"type\":\"nonsense\"}\n{\"type\":\"pong\",\"seq\":\"x\"}\n");
  }
  if (strcmp(mode, "huge_line") == 0) {
    static char block[1 << 20];
    memset(block, 'x', sizeof(block));
    fcntl(3, F_SETFL, fcntl(3, F_GETFL) & ~O_NONBLOCK); /* libuv made it non-blocking */
    for (int i = 0; i < 100; i++) /* 100 MB, no newline: muster must give up */
      if (write(3, block, sizeof(block)) < 0)
        return 1;
  }
  uv_timer_init(loop, &tick);
  uv_timer_start(&tick, on_tick, 20, 20);
  return ipc_service_run(svc);
}
