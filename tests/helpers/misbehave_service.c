/* misbehave_service — a service that breaks the rules on purpose, for the
 * supervisor's tests. MISBEHAVE selects how (after sending `ready`):
 *   grow           allocate and touch 8 MiB every 20 ms (memory limit)
 *   fork           fork a grandchild that sleeps forever in our process
 *                  group; its pid is written to $MISBEHAVE_PIDFILE
 *   ignore_term    ignore SIGTERM and the shutdown message, keep answering
 *                  pings (only SIGKILL ends it)
 *   record_signal  ignore the shutdown message, keep answering pings; on
 *                  SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1 or SIGUSR2
 *                  print "got SIGNAME" (stdout) and exit 0
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
 *   unknown_id     answer each request for id + $MISBEHAVE_ID_DELTA (default
 *                  1000), or for the id written in the file
 *                  $MISBEHAVE_ID_FILE when it holds one (to aim at another
 *                  instance's request), with body "stray", then correctly
 *                  with "right"
 *   double_response  like double_reply; with ?kind=stream the first answer
 *                  is a streamed head, then a second `response` for the
 *                  same id, then the chunk "streamed" and the end
 *   flood_stdout   the same as spam;  bad_response  the same as bad_reply
 *   stdout_huge    write 100 MB on stdout without a newline (from a thread,
 *                  so pings are still answered), then "after the huge line"
 *   hold           never answer a request; print "request ID" on each and
 *                  "cancel ID" on each cancel (stdout, flushed); /now is
 *                  answered at once with "now". On SIGUSR1: answer every
 *                  held request (200, "late") with a write(2) of its own,
 *                  then create $MISBEHAVE_ANSWERED_FILE (the answers are in
 *                  the channel by then, whether muster reads or not)
 * Unknown or empty: behaves (answers pings, nothing else). */
#include <fcntl.h>
#include <inttypes.h>
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
static uv_signal_t usr1;
static int64_t held[64]; /* hold: ids neither answered nor cancelled */
static size_t nheld;
static char **blocks;
static size_t nblocks;

/* Writes a raw line on the channel, bypassing the library. */
static void raw(const char *line) {
  if (write(3, line, strlen(line)) < 0)
    exit(1);
}

/* Writes a 200 `response` for id with a text body, bypassing the library
 * (ahead of its queued writes: ordering is kept). */
static void raw_response(int64_t id, const char *body) {
  char line[160];
  snprintf(line, sizeof(line),
           "{\"type\":\"response\",\"id\":%" PRId64 ",\"status\":200,\"body\":\"%s\"}\n", id, body);
  raw(line);
}

static void free_handle(uv_handle_t *h) {
  free(h);
}

/* double_response ?kind=stream: the second `response` must follow the
 * streamed head, which the library writes from a prepare handle (just
 * before the loop polls). A check handle runs just after the poll: its
 * second run comes after the next prepare, so after the head. */
struct second {
  uv_check_t check;
  struct ipc_req *req;
  int runs;
};

static void on_second_response(uv_check_t *t) {
  struct second *sec = (struct second *)t;
  struct ipc_req *req = sec->req;
  if (req != NULL && ++sec->runs < 2)
    return;
  uv_check_stop(t);
  uv_close((uv_handle_t *)t, free_handle);
  if (req == NULL)
    return; /* cancelled meanwhile */
  raw_response(req->id, "second");
  ipc_stream_write(req, "streamed", 8);
  ipc_stream_end(req);
}

static void on_cancel(struct ipc_req *req) {
  if (strcmp(mode, "double_response") == 0 && req->data != NULL)
    ((struct second *)req->data)->req = NULL;
  if (strcmp(mode, "hold") == 0) {
    for (size_t i = 0; i < nheld; i++)
      if (held[i] == req->id)
        held[i] = held[--nheld];
    printf("cancel %" PRId64 "\n", req->id);
    fflush(stdout);
  }
}

/* The modes added for tests/chaos/test_children.py and test_connections.py.
 * Returns 1 when req was handled. */
static int on_request_more(struct ipc_req *req) {
  if (strcmp(mode, "unknown_id") == 0) {
    const char *d = getenv("MISBEHAVE_ID_DELTA"), *path = getenv("MISBEHAVE_ID_FILE");
    long long target = (long long)req->id + (d ? atoll(d) : 1000);
    FILE *f = path ? fopen(path, "r") : NULL;
    if (f) {
      if (fscanf(f, "%lld", &target) != 1)
        target = (long long)req->id + (d ? atoll(d) : 1000);
      fclose(f);
    }
    raw_response(target, "stray");
    ipc_respond(req, 200, NULL, 0, "right", 5);
    return 1;
  }
  if (strcmp(mode, "double_response") == 0 && strstr(req->query, "kind=stream")) {
    struct second *sec = calloc(1, sizeof(*sec));
    if (sec == NULL || ipc_stream_begin(req, 200, NULL, 0) < 0)
      exit(1);
    sec->req = req;
    req->data = sec;
    uv_check_init(ipc_service_loop(req->svc), &sec->check);
    uv_check_start(&sec->check, on_second_response);
    return 1;
  }
  if (strcmp(mode, "hold") == 0) {
    if (strcmp(req->subpath, "/now") == 0) {
      ipc_respond(req, 200, NULL, 0, "now", 3);
    } else {
      if (nheld < sizeof(held) / sizeof(held[0]))
        held[nheld++] = req->id;
      printf("request %" PRId64 "\n", req->id);
      fflush(stdout);
    }
    return 1;
  }
  return 0;
}

static void on_request(struct ipc_req *req) {
  if (on_request_more(req))
    return;
  if (strcmp(mode, "stray_ids") == 0 || strcmp(mode, "double_reply") == 0 ||
      strcmp(mode, "double_response") == 0) {
    int stray = mode[0] == 's'; /* stray_ids; double_reply and double_response: not */
    raw_response(req->id + (stray ? 1000000 : 0), stray ? "stray" : "first");
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

/* hold, SIGUSR1: the held requests answered behind the library's back
 * (it still holds them; they are freed at the end of the run). */
static void on_usr1(uv_signal_t *s, int signum) {
  const char *path = getenv("MISBEHAVE_ANSWERED_FILE");
  (void)s;
  (void)signum;
  for (size_t i = 0; i < nheld; i++)
    raw_response(held[i], "late");
  nheld = 0;
  FILE *f = path ? fopen(path, "w") : NULL;
  if (f)
    fclose(f);
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

/* record_signal: says which signal came, and exits. */
static void on_recorded(int sig) {
  static const char *const names[] = {
      [SIGTERM] = "SIGTERM", [SIGINT] = "SIGINT",   [SIGQUIT] = "SIGQUIT",
      [SIGHUP] = "SIGHUP",   [SIGUSR1] = "SIGUSR1", [SIGUSR2] = "SIGUSR2"};
  const char *name = names[sig] ? names[sig] : "another signal";
  if (write(1, "got ", 4) < 0 || write(1, name, strlen(name)) < 0 || write(1, "\n", 1) < 0)
    _exit(1);
  _exit(0);
}

static int stubborn(int record) {
  static const char ready[] = "{\"type\":\"ready\"}\n";
  static const int recorded[] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2};
  struct ipc_frame f;
  char buf[4096];
  ssize_t n;
  for (size_t i = 0; record && i < sizeof(recorded) / sizeof(recorded[0]); i++)
    signal(recorded[i], on_recorded);
  if (!record)
    signal(SIGTERM, SIG_IGN);
  if (write(3, ready, sizeof(ready) - 1) < 0)
    return 1;
  ipc_frame_init(&f, 0);
  while ((n = read(3, buf, sizeof(buf))) > 0)
    ipc_frame_feed(&f, buf, (size_t)n, on_stubborn_line, NULL);
  for (;;)
    pause(); /* even with muster gone: only SIGKILL ends it */
}

/* stdout_huge: 100 MB on stdout, no newline, off the loop thread. */
static void write_huge_stdout(void *arg) {
  static char block[1 << 20];
  (void)arg;
  memset(block, 'y', sizeof(block));
  fcntl(1, F_SETFL, fcntl(1, F_GETFL) & ~O_NONBLOCK);
  for (int i = 0; i < 100; i++)
    if (write(1, block, sizeof(block)) < 0)
      return;
  static const char after[] = "\nafter the huge line\n";
  if (write(1, after, sizeof(after) - 1) < 0)
    return;
}

int main(void) {
  uv_loop_t *loop = uv_default_loop();
  struct ipc_service_cbs cbs = {.on_request = on_request, .on_cancel = on_cancel};
  uv_thread_t huge_writer;
  mode = getenv("MISBEHAVE") ? getenv("MISBEHAVE") : "";
  if (strcmp(mode, "flood_stdout") == 0)
    mode = "spam";
  if (strcmp(mode, "bad_response") == 0)
    mode = "bad_reply";
  if (strcmp(mode, "fork") == 0)
    fork_grandchild(); /* before the loop: the child must not share it */
  if (strcmp(mode, "ignore_term") == 0 || strcmp(mode, "record_signal") == 0)
    return stubborn(mode[0] == 'r');
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
  if (strcmp(mode, "stdout_huge") == 0 && uv_thread_create(&huge_writer, write_huge_stdout, NULL))
    return 1;
  uv_timer_init(loop, &tick);
  uv_timer_start(&tick, on_tick, 20, 20);
  if (strcmp(mode, "hold") == 0) {
    uv_signal_init(loop, &usr1);
    uv_signal_start(&usr1, on_usr1, SIGUSR1);
    uv_unref((uv_handle_t *)&usr1);
  }
  return ipc_service_run(svc);
}
