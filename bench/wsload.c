/* wsload — the load generator of bench/ws.py: many WebSocket clients on
 * one libuv loop, speaking plain RFC 6455 (muster, Node's ws) or
 * Socket.IO's Engine.IO v4 over WebSocket (`-k sio`: "0" open, "40"
 * connect, "2"/"3" ping/pong, "42[...]" events).
 *
 *   wsload broadcast -p PORT [-u PATH] [-c 10000] [-n 20] [-b 3] [-s 100] [-k ws|sio] [-W]
 *     every connection is a receiver; connection 0 also publishes: a burst
 *     of -n messages of -s bytes in one write, then waits until every
 *     connection has all of them; -b bursts. Figure: deliveries per second.
 *   wsload echo -p PORT [-u PATH] [-c 100] [-i 1] [-s 64] [-w 1] [-d 5] [-k ws|sio]
 *     each connection keeps -i messages in flight, sending the next when
 *     an echo comes back; -w seconds of warm-up, then -d measured.
 *     Figures: messages per second, latency percentiles.
 *   wsload fanout -p PORT[,PORT...] [-u PATH] [-c 1000] [-P 4] [-i 32 | -r RATE] [-s 100]
 *                 [-w 1] [-d 5] [-k ws|sio]
 *     several hosts of one cluster (bench/cluster.py): -c receivers on each
 *     port, all in the room; the first -P connections of the first port
 *     also publish, in turn: either -i publications in flight (the next
 *     goes when every receiver has one), or -r publications a second at a
 *     fixed pace (at most FAN_CAP in flight; what the server cannot take
 *     is counted as not sent). Each publication carries its send time
 *     (CLOCK_MONOTONIC, which every process of the machine shares) and its
 *     number, so each delivery gives a latency: separately for the
 *     publishers' host and the others, and of the first delivery of each
 *     publication on each host (the hop itself, before the host's fan-out
 *     to its receivers and the client's reading of them all). -w seconds
 *     of warm-up, -d measured, then up to 10 s for what is in flight to
 *     arrive. Figures: deliveries and complete publications per second,
 *     p50/p99/p99.9 per side (10 µs steps, up to 10 s).
 *     With -P 0 it is a probe that only receives (a few connections that
 *     joined before the load's, so each host writes to them first): after
 *     "connected" it measures from one line on stdin to the next.
 *
 * A publication is text starting with 'P' (Socket.IO: the event "pub"),
 * an echo text starting with 'E' (the event "echo"); what the servers do
 * with them is in bench/ws_service.c, ws_peer.js and sio_peer.js.
 *
 * Output on stdout, one line at a time: "connected N SECONDS" once every
 * connection is open; with -W it then waits for a line on stdin (the
 * caller measures memory meanwhile; end of input quits); "start" and
 * "end" around the measured part (the caller reads the servers' CPU
 * time there); last, the figures as one JSON object, with this process's
 * CPU use over the measured part so a reader sees whether the client was
 * the limit. Any failure (refused, closed, timed out) ends the run with a
 * message on stderr and status 1. Bounded by -T seconds (default 120). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="        /* RFC 6455 §1.3's example key ... */
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" /* ... and its answer */
#define MAX_HEAD 8192
#define HIST_US 1000000 /* latency histogram: 1 µs steps up to 1 s */
#define MAX_INFLIGHT 64
#define MAX_PORTS 16
#define FAN_RING 65536 /* fanout: publications tracked (by number, mod this) */
#define FAN_CAP 16384  /* fanout: in flight at most */
#define FAN_STAMP 24   /* fanout: 16 hex digits of send time, 8 of number, after 'P' */
#define FAN_STEP_US 10 /* fanout: latency histograms in 10 µs steps, up to 10 s */

enum mode { M_BROADCAST = 0, M_ECHO, M_FANOUT };
enum kind { K_WS = 0, K_SIO };
enum cstate { C_IDLE = 0, C_CONNECTING, C_HANDSHAKE, C_SIO_OPEN, C_SIO_CONNECT, C_OPEN };

/* One client connection. */
struct conn {
  uv_tcp_t tcp;
  uv_connect_t creq;
  int idx;
  int host; /* index in opt.ports */
  enum cstate state;
  char *in; /* an incomplete head or frame, or NULL */
  size_t in_len, in_cap;
  uint64_t sent[MAX_INFLIGHT]; /* echo: send times of the messages in flight (ring) */
  unsigned head, n;            /* echo: oldest in the ring, how many */
};

/* A write that did not go out at once: its bytes follow. */
struct wreq {
  uv_write_t req;
  char data[];
};

static struct {
  enum mode mode;
  enum kind kind;
  int port;                     /* the first of ports */
  int ports[MAX_PORTS], nports; /* fanout: one per host; others: port */
  int npub;                     /* fanout: publishers */
  double rate;                  /* fanout: publications/s, 0: a window of -i */
  const char *path;
  int conns;                /* fanout: per port */
  int total;                /* connections in all */
  int pubs, bursts, size;   /* broadcast */
  int inflight;             /* echo */
  double warmup_s, seconds; /* echo */
  int wait_stdin;
  int concurrency; /* handshakes in progress at most */
  double timeout_s;
} opt = {.npub = -1,
         .conns = -1,
         .pubs = 20,
         .bursts = 3,
         .size = -1,
         .inflight = 1,
         .warmup_s = 1,
         .seconds = 5,
         .concurrency = 200,
         .timeout_s = 120};

static struct {
  uv_loop_t *loop;
  struct conn *conns;
  int started, opened;
  uint64_t t_begin; /* the run began (connecting) */
  char *msg;        /* the payload each client message carries (text) */
  size_t msg_len;
  size_t want_len; /* the payload length a delivery must have */
  uint32_t mask_state;
  /* broadcast */
  uint64_t delivered, expect, bad;
  int burst;
  uint64_t burst_t0, burst_ns[64];
  /* echo */
  int measuring, stopping;
  uint64_t echoed, inflight_total;
  uint32_t *hist;
  uint64_t max_ns;
  /* fanout */
  int body_off;                             /* where the payload starts in st.msg */
  uint64_t now;                             /* the time of the read being taken apart */
  uint64_t pub_sent, pub_done, pub_skipped; /* since the start */
  uint64_t pub_window_sent, pub_window_done, pub_window_skipped; /* measured */
  uint64_t fan_delivered, fan_window_delivered;
  uint32_t *fan_count;     /* deliveries of each publication in flight (ring) */
  uint64_t fan_rate_t0;    /* -r: when the pace started */
  int next_pub;            /* the publisher that sends next */
  uint16_t *fan_seen;      /* the hosts each publication in flight reached (ring) */
  uint32_t *hist_remote;   /* latency on the other hosts; hist: the publishers' */
  uint32_t *hist_first[2]; /* of the first delivery of each on a host: its, the others' */
  uint64_t n_local, n_remote, max_local_ns, max_remote_ns;
  uint64_t n_first[2], max_first_ns[2];
  uv_timer_t pace;
  /* the measured part */
  uint64_t t0, t1;
  struct rusage ru0, ru1;
  uv_timer_t deadline, phase;
  uv_pipe_t in;
} st;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Ends the run: the message on stderr, status 1. */
static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "wsload: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static double secs(uint64_t ns) {
  return (double)ns / 1e9;
}

/* ---- Writing ---- */

static void on_written(uv_write_t *r, int status) {
  struct conn *c = r->handle->data;
  free(r);
  if (status < 0)
    fail("connection %d: write: %s", c->idx, uv_strerror(status));
}

/* Sends n bytes: at once when the socket takes them, else a copy queued. */
static void conn_write(struct conn *c, const char *p, size_t n) {
  uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
  int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
  if (w == (int)n)
    return;
  if (w < 0 && w != UV_EAGAIN)
    fail("connection %d: write: %s", c->idx, uv_strerror(w));
  size_t done = w < 0 ? 0 : (size_t)w;
  struct wreq *r = malloc(sizeof(*r) + n - done);
  if (r == NULL)
    fail("out of memory");
  memcpy(r->data, p + done, n - done);
  b = uv_buf_init(r->data, (unsigned)(n - done));
  int rc = uv_write(&r->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
  if (rc < 0)
    fail("connection %d: write: %s", c->idx, uv_strerror(rc));
}

/* The next masking key (xorshift32: clients must mask, any key will do). */
static uint32_t next_mask(void) {
  uint32_t x = st.mask_state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return st.mask_state = x;
}

/* A masked client frame of opcode op holding p[0..n) into out (n + 14
 * bytes at most). Returns its length. */
static size_t frame(char *out, int op, const char *p, size_t n) {
  size_t h = 0;
  uint32_t key = next_mask();
  unsigned char mk[4];
  out[h++] = (char)(0x80 | op);
  if (n < 126) {
    out[h++] = (char)(0x80 | n);
  } else if (n < 65536) {
    out[h++] = (char)(0x80 | 126);
    out[h++] = (char)(n >> 8);
    out[h++] = (char)n;
  } else {
    out[h++] = (char)(0x80 | 127);
    for (int i = 7; i >= 0; i--)
      out[h++] = (char)((uint64_t)n >> (8 * i));
  }
  memcpy(mk, &key, 4);
  memcpy(out + h, mk, 4);
  h += 4;
  for (size_t i = 0; i < n; i++)
    out[h + i] = (char)(p[i] ^ mk[i & 3]);
  return h + n;
}

/* Sends one text message. */
static void send_text(struct conn *c, const char *p, size_t n) {
  char stackbuf[512];
  char *out = n + 14 <= sizeof(stackbuf) ? stackbuf : malloc(n + 14);
  if (out == NULL)
    fail("out of memory");
  conn_write(c, out, frame(out, 1, p, n));
  if (out != stackbuf)
    free(out);
}

/* ---- The tests ---- */

static void begin_measure(void) {
  st.t0 = uv_hrtime();
  getrusage(RUSAGE_SELF, &st.ru0);
  printf("start\n");
}

static void end_measure(void) {
  st.t1 = uv_hrtime();
  getrusage(RUSAGE_SELF, &st.ru1);
  printf("end\n");
}

static double tv_s(struct timeval a, struct timeval b) {
  return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_usec - a.tv_usec) / 1e6;
}

/* Prints what every test reports: the measured time and the client's CPU. */
static void print_common(void) {
  double wall = secs(st.t1 - st.t0);
  double user = tv_s(st.ru0.ru_utime, st.ru1.ru_utime);
  double sys = tv_s(st.ru0.ru_stime, st.ru1.ru_stime);
  printf("\"kind\":\"%s\",\"conns\":%d,\"size\":%d,\"seconds\":%.6f,"
         "\"client_user_s\":%.3f,\"client_sys_s\":%.3f,\"client_cpu_pct\":%.1f",
         opt.kind == K_SIO ? "sio" : "ws", opt.conns, opt.size, wall, user, sys,
         wall > 0 ? 100.0 * (user + sys) / wall : 0.0);
}

/* One burst: -n publications written at once by connection 0. */
static void do_burst(void) {
  size_t one = st.msg_len + 14, len = 0;
  char *buf = malloc(one * (size_t)opt.pubs);
  if (buf == NULL)
    fail("out of memory");
  for (int i = 0; i < opt.pubs; i++)
    len += frame(buf + len, 1, st.msg, st.msg_len);
  st.expect += (uint64_t)opt.conns * (uint64_t)opt.pubs;
  st.burst_t0 = uv_hrtime();
  conn_write(&st.conns[0], buf, len);
  free(buf);
}

static void broadcast_done(void) {
  end_measure();
  printf("{\"mode\":\"broadcast\",");
  print_common();
  printf(",\"pubs\":%d,\"bursts\":%d,\"deliveries\":%llu,\"bad\":%llu,\"rate\":%.1f,"
         "\"burst_ms\":[",
         opt.pubs, opt.bursts, (unsigned long long)st.delivered, (unsigned long long)st.bad,
         (double)st.delivered / secs(st.t1 - st.t0));
  for (int i = 0; i < opt.bursts; i++)
    printf("%s%.3f", i ? "," : "", (double)st.burst_ns[i] / 1e6);
  printf("]}\n");
  fflush(stdout);
  exit(0);
}

/* A publication reached a connection. */
static void on_delivery(size_t len) {
  st.delivered++;
  if (len != st.want_len)
    st.bad++;
  if (st.delivered < st.expect)
    return;
  if (st.delivered > st.expect)
    fail("%llu deliveries, %llu expected", (unsigned long long)st.delivered,
         (unsigned long long)st.expect);
  st.burst_ns[st.burst] = uv_hrtime() - st.burst_t0;
  if (++st.burst == opt.bursts)
    broadcast_done();
  else
    do_burst();
}

static void echo_send(struct conn *c) {
  c->sent[(c->head + c->n) % MAX_INFLIGHT] = uv_hrtime();
  c->n++;
  st.inflight_total++;
  send_text(c, st.msg, st.msg_len);
}

/* The nearest-rank percentile p of a histogram of count samples, in µs. */
static unsigned hist_pct(const uint32_t *h, uint64_t count, double p) {
  uint64_t rank = (uint64_t)(p * (double)count + 0.999999), sum = 0;
  for (unsigned i = 0; i < HIST_US; i++) {
    sum += h[i];
    if (sum >= rank && rank > 0)
      return i;
  }
  return HIST_US;
}

static unsigned pct_us(double p) {
  return hist_pct(st.hist, st.echoed, p);
}

static void echo_done(void) {
  printf("{\"mode\":\"echo\",");
  print_common();
  printf(",\"inflight\":%d,\"messages\":%llu,\"bad\":%llu,\"rate\":%.1f,\"p50_us\":%u,"
         "\"p99_us\":%u,\"p999_us\":%u,\"max_us\":%.0f}\n",
         opt.inflight, (unsigned long long)st.echoed, (unsigned long long)st.bad,
         (double)st.echoed / secs(st.t1 - st.t0), pct_us(0.50), pct_us(0.99), pct_us(0.999),
         (double)st.max_ns / 1e3);
  fflush(stdout);
  exit(0);
}

/* An echo came back to c. */
static void on_echo(struct conn *c, size_t len) {
  if (c->n == 0)
    fail("connection %d: a message nobody sent", c->idx);
  uint64_t ns = uv_hrtime() - c->sent[c->head];
  c->head = (c->head + 1) % MAX_INFLIGHT;
  c->n--;
  st.inflight_total--;
  if (st.measuring) {
    st.echoed++;
    st.hist[ns / 1000 < HIST_US ? ns / 1000 : HIST_US - 1]++;
    if (ns > st.max_ns)
      st.max_ns = ns;
    if (len != st.want_len)
      st.bad++;
  }
  if (!st.stopping)
    echo_send(c);
  else if (st.inflight_total == 0)
    echo_done();
}

static void on_phase(uv_timer_t *t) {
  if (!st.measuring) { /* the warm-up is over */
    st.measuring = 1;
    begin_measure();
    uv_timer_start(t, on_phase, (uint64_t)(opt.seconds * 1000), 0);
    return;
  }
  end_measure();
  st.measuring = 0; /* what comes back from now on is not counted */
  st.stopping = 1;
  if (st.inflight_total == 0)
    echo_done();
}

/* ---- Fanout: several hosts, publications with their send time ---- */

static void hex_put(char *out, uint64_t v, int digits) {
  static const char hx[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; i--, v >>= 4)
    out[i] = hx[v & 15];
}

static int hex_get(const char *p, int digits, uint64_t *v) {
  uint64_t x = 0;
  for (int i = 0; i < digits; i++) {
    char ch = p[i];
    unsigned d;
    if (ch >= '0' && ch <= '9')
      d = (unsigned)(ch - '0');
    else if (ch >= 'a' && ch <= 'f')
      d = (unsigned)(ch - 'a' + 10);
    else
      return -1;
    x = x << 4 | d;
  }
  *v = x;
  return 0;
}

/* The next publication, from the next publisher: its send time and
 * number written into the payload. */
static void fan_send(void) {
  struct conn *c = &st.conns[st.next_pub];
  uint64_t seq = st.pub_sent++;
  st.next_pub = (st.next_pub + 1) % opt.npub;
  st.fan_count[seq % FAN_RING] = 0;
  st.fan_seen[seq % FAN_RING] = 0;
  if (st.measuring)
    st.pub_window_sent++;
  hex_put(st.msg + st.body_off + 1, uv_hrtime(), 16);
  hex_put(st.msg + st.body_off + 17, seq, 8);
  send_text(c, st.msg, st.msg_len);
}

static void fan_side(const char *name, const uint32_t *h, uint64_t n, uint64_t max_ns) {
  printf("\"%s\":{\"n\":%llu,\"p50_us\":%u,\"p99_us\":%u,\"p999_us\":%u,\"max_us\":%.0f}", name,
         (unsigned long long)n, FAN_STEP_US * hist_pct(h, n, 0.50),
         FAN_STEP_US * hist_pct(h, n, 0.99), FAN_STEP_US * hist_pct(h, n, 0.999),
         (double)max_ns / 1e3);
}

static void fan_done(void) {
  double wall = secs(st.t1 - st.t0);
  printf("{\"mode\":\"fanout\",");
  print_common();
  printf(",\"hosts\":%d,\"receivers\":%d,\"publishers\":%d,\"window\":%d,\"offered\":%.1f,"
         "\"deliveries\":%llu,\"bad\":%llu,\"rate\":%.1f,\"pubs_sent\":%llu,\"pubs_done\":%llu,"
         "\"pub_rate\":%.1f,\"skipped\":%llu,\"incomplete\":%llu,",
         opt.nports, opt.total, opt.npub, opt.rate > 0 ? 0 : opt.inflight, opt.rate,
         (unsigned long long)st.fan_window_delivered, (unsigned long long)st.bad,
         (double)st.fan_window_delivered / wall, (unsigned long long)st.pub_window_sent,
         (unsigned long long)st.pub_window_done, (double)st.pub_window_done / wall,
         (unsigned long long)st.pub_window_skipped,
         (unsigned long long)(st.pub_sent - st.pub_done));
  fan_side("local", st.hist, st.n_local, st.max_local_ns);
  printf(",");
  fan_side("remote", st.hist_remote, st.n_remote, st.max_remote_ns);
  printf(",");
  fan_side("first_local", st.hist_first[0], st.n_first[0], st.max_first_ns[0]);
  printf(",");
  fan_side("first_remote", st.hist_first[1], st.n_first[1], st.max_first_ns[1]);
  printf("}\n");
  fflush(stdout);
  exit(0);
}

/* A publication reached c. */
static void on_fan(struct conn *c, const char *p, size_t n) {
  uint64_t ts, seq;
  int probe = opt.npub == 0;
  if (n != st.want_len || hex_get(p + st.body_off + 1, 16, &ts) != 0 ||
      hex_get(p + st.body_off + 17, 8, &seq) != 0 ||
      (!probe && (seq >= st.pub_sent || st.pub_sent - seq > FAN_RING))) {
    st.bad++;
    return;
  }
  st.fan_delivered++;
  if (st.measuring) {
    uint64_t ns = st.now > ts ? st.now - ts : 0, step = ns / (1000 * FAN_STEP_US);
    uint64_t bk = step < HIST_US ? step : HIST_US - 1;
    st.fan_window_delivered++;
    if (c->host == 0) {
      st.hist[bk]++;
      st.n_local++;
      st.max_local_ns = ns > st.max_local_ns ? ns : st.max_local_ns;
    } else {
      st.hist_remote[bk]++;
      st.n_remote++;
      st.max_remote_ns = ns > st.max_remote_ns ? ns : st.max_remote_ns;
    }
    if (!probe && !(st.fan_seen[seq % FAN_RING] & (1u << c->host))) { /* the first on its host */
      int side = c->host != 0;
      st.hist_first[side][bk]++;
      st.n_first[side]++;
      st.max_first_ns[side] = ns > st.max_first_ns[side] ? ns : st.max_first_ns[side];
    }
  }
  if (probe)
    return;
  st.fan_seen[seq % FAN_RING] |= (uint16_t)(1u << c->host);
  uint32_t k = ++st.fan_count[seq % FAN_RING];
  if (k > (uint32_t)opt.total)
    fail("publication %llu delivered %u times to %d receivers", (unsigned long long)seq, k,
         opt.total);
  if (k < (uint32_t)opt.total)
    return;
  st.pub_done++;
  if (st.measuring)
    st.pub_window_done++;
  if (st.stopping) {
    if (st.pub_done == st.pub_sent)
      fan_done();
  } else if (opt.rate <= 0) {
    fan_send();
  }
}

/* -r: sends what is due by now (at most FAN_CAP in flight). */
static void fan_pace(uv_timer_t *t) {
  uint64_t due = (uint64_t)((double)(uv_hrtime() - st.fan_rate_t0) / 1e9 * opt.rate);
  while (st.pub_sent + st.pub_skipped < due) {
    if (st.pub_sent - st.pub_done >= FAN_CAP) {
      st.pub_skipped++;
      st.pub_window_skipped += (uint64_t)st.measuring;
    } else {
      fan_send();
    }
  }
}

/* Warm-up over: measuring; measured part over: what is in flight may
 * arrive (up to 10 s); then the figures. */
static void fan_phase(uv_timer_t *t) {
  if (!st.measuring && !st.stopping) {
    st.measuring = 1;
    begin_measure();
    uv_timer_start(t, fan_phase, (uint64_t)(opt.seconds * 1000), 0);
    return;
  }
  if (st.measuring) {
    end_measure();
    st.measuring = 0;
    st.stopping = 1;
    if (opt.rate > 0)
      uv_timer_stop(&st.pace);
    if (st.pub_done == st.pub_sent)
      fan_done();
    uv_timer_start(t, fan_phase, 10000, 0);
    return;
  }
  fan_done(); /* some never arrived: "incomplete" */
}

static void fan_alloc(void) {
  st.fan_count = calloc(FAN_RING, sizeof(*st.fan_count));
  st.fan_seen = calloc(FAN_RING, sizeof(*st.fan_seen));
  st.hist_remote = calloc(HIST_US, sizeof(*st.hist_remote));
  st.hist_first[0] = calloc(HIST_US, sizeof(*st.hist_first[0]));
  st.hist_first[1] = calloc(HIST_US, sizeof(*st.hist_first[1]));
  if (st.fan_count == NULL || st.fan_seen == NULL || st.hist_remote == NULL ||
      st.hist_first[0] == NULL || st.hist_first[1] == NULL)
    fail("out of memory");
}

static void fan_start(void) {
  fan_alloc();
  if (opt.rate > 0) {
    st.fan_rate_t0 = uv_hrtime();
    uv_timer_init(st.loop, &st.pace);
    uv_timer_start(&st.pace, fan_pace, 1, 1);
  } else {
    for (int i = 0; i < opt.inflight; i++)
      fan_send();
  }
  uv_timer_init(st.loop, &st.phase);
  uv_timer_start(&st.phase, fan_phase, (uint64_t)(opt.warmup_s * 1000), 0);
}

static void on_stdin_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b);

/* The probe (-P 0): a line on stdin starts the measured part, the next
 * ends it. */
static void on_probe_stdin(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  if (n < 0)
    fail("end of input before the probe's end");
  for (ssize_t i = 0; i < n; i++) {
    if (b->base[i] != '\n')
      continue;
    if (!st.measuring) {
      st.measuring = 1;
      begin_measure();
    } else {
      end_measure();
      st.measuring = 0;
      fan_done();
    }
  }
}

static void run_test(void) {
  if (opt.mode == M_FANOUT && opt.npub == 0) {
    fan_alloc();
    if (uv_pipe_init(st.loop, &st.in, 0) != 0 || uv_pipe_open(&st.in, 0) != 0)
      fail("cannot read stdin");
    uv_read_start((uv_stream_t *)&st.in, on_stdin_alloc, on_probe_stdin);
    return;
  }
  if (opt.mode == M_FANOUT) {
    fan_start();
    return;
  }
  if (opt.mode == M_BROADCAST) {
    begin_measure();
    do_burst();
    return;
  }
  for (int i = 0; i < opt.conns; i++)
    for (int k = 0; k < opt.inflight; k++)
      echo_send(&st.conns[i]);
  uv_timer_init(st.loop, &st.phase);
  uv_timer_start(&st.phase, on_phase, (uint64_t)(opt.warmup_s * 1000), 0);
}

/* ---- Waiting for the caller (-W) ---- */

static char stdin_buf[256];

static void on_stdin_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b) {
  *b = uv_buf_init(stdin_buf, sizeof(stdin_buf));
}

static void on_stdin(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  if (n < 0)
    fail("end of input before the test began");
  if (n > 0 && memchr(b->base, '\n', (size_t)n)) {
    uv_read_stop(s);
    run_test();
  }
}

static void all_connected(void) {
  printf("connected %d %.3f\n", opt.total, secs(uv_hrtime() - st.t_begin));
  if (!opt.wait_stdin) {
    run_test();
    return;
  }
  if (uv_pipe_init(st.loop, &st.in, 0) != 0 || uv_pipe_open(&st.in, 0) != 0)
    fail("cannot read stdin");
  uv_read_start((uv_stream_t *)&st.in, on_stdin_alloc, on_stdin);
}

/* ---- Reading ---- */

static void start_more(void);

static void on_open(struct conn *c) {
  c->state = C_OPEN;
  if (++st.opened == opt.total)
    all_connected();
  else
    start_more();
}

/* A complete message (text or binary) from the server. */
static void on_message(struct conn *c, const char *p, size_t n) {
  if (opt.kind == K_SIO) {
    if (n == 1 && p[0] == '2') { /* ping */
      send_text(c, "3", 1);
      return;
    }
    if (c->state == C_SIO_OPEN && n >= 1 && p[0] == '0') {
      c->state = C_SIO_CONNECT;
      send_text(c, "40", 2);
      return;
    }
    if (c->state == C_SIO_CONNECT && n >= 2 && p[0] == '4' && p[1] == '0') {
      on_open(c);
      return;
    }
    if (n < 2 || p[0] != '4' || p[1] != '2')
      fail("connection %d: unexpected Engine.IO packet \"%.*s\"", c->idx, (int)(n < 60 ? n : 60),
           p);
  }
  if (c->state != C_OPEN)
    fail("connection %d: a message before the connection was open", c->idx);
  if (opt.mode == M_BROADCAST)
    on_delivery(n);
  else if (opt.mode == M_FANOUT)
    on_fan(c, p, n);
  else
    on_echo(c, n);
}

/* One frame from the server (unmasked). */
static void on_frame(struct conn *c, int op, const char *p, size_t n) {
  switch (op) {
  case 0: /* a continuation: servers here do not fragment */
  case 1:
  case 2:
    on_message(c, p, n);
    break;
  case 8:
    fail("connection %d: closed by the server (%u)", c->idx,
         n >= 2 ? (unsigned)((unsigned char)p[0] << 8 | (unsigned char)p[1]) : 1005u);
  case 9: {
    char out[140];
    conn_write(c, out, frame(out, 10, p, n < 125 ? n : 125));
    break;
  }
  default:
    break;
  }
}

/* The server's 101; returns the length of the head, 0 while incomplete. */
static size_t on_head(struct conn *c, const char *p, size_t n) {
  const char *end = memmem(p, n, "\r\n\r\n", 4);
  if (end == NULL) {
    if (n > MAX_HEAD)
      fail("connection %d: a head of over %d bytes", c->idx, MAX_HEAD);
    return 0;
  }
  size_t len = (size_t)(end - p) + 4;
  if (n < 12 || memcmp(p, "HTTP/1.1 101", 12) != 0 || memmem(p, len, ACCEPT, 28) == NULL)
    fail("connection %d: not a WebSocket handshake: \"%.*s\"", c->idx, (int)(len < 200 ? len : 200),
         p);
  if (opt.kind == K_SIO)
    c->state = C_SIO_OPEN;
  else
    on_open(c);
  return len;
}

/* Takes whole heads and frames from p[0..n); returns the bytes used. */
static size_t consume(struct conn *c, const char *p, size_t n) {
  size_t off = 0;
  if (c->state == C_HANDSHAKE) {
    off = on_head(c, p, n);
    if (off == 0)
      return 0;
  }
  while (n - off >= 2) {
    const unsigned char *h = (const unsigned char *)p + off;
    size_t hl = 2;
    uint64_t len = h[1] & 0x7f;
    if (h[1] & 0x80)
      fail("connection %d: a masked frame from the server", c->idx);
    if (len == 126) {
      if (n - off < 4)
        break;
      len = (uint64_t)h[2] << 8 | h[3];
      hl = 4;
    } else if (len == 127) {
      if (n - off < 10)
        break;
      len = 0;
      for (int i = 0; i < 8; i++)
        len = len << 8 | h[2 + i];
      hl = 10;
    }
    if (n - off - hl < len)
      break;
    on_frame(c, h[0] & 0x0f, p + off + hl, (size_t)len);
    off += hl + (size_t)len;
  }
  return off;
}

static char rbuf[256 << 10]; /* every read lands here: one loop, consumed at once */

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b) {
  *b = uv_buf_init(rbuf, sizeof(rbuf));
}

/* Keeps bytes for the next read. */
static void keep(struct conn *c, const char *p, size_t n) {
  c->in_len = n;
  if (n == 0)
    return;
  if (n > c->in_cap) {
    char *q = realloc(c->in, n);
    if (q == NULL)
      fail("out of memory");
    c->in = q;
    c->in_cap = n;
  }
  memmove(c->in, p, n);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  struct conn *c = s->data;
  if (nread < 0)
    fail("connection %d: read: %s", c->idx,
         nread == UV_EOF ? "closed by the server" : uv_strerror((int)nread));
  if (nread == 0)
    return;
  const char *p = b->base;
  size_t n = (size_t)nread;
  st.now = uv_hrtime(); /* every delivery in this read arrived now */
  if (c->in_len > 0) {  /* a partial head or frame waits: join them */
    if (c->in_len + n > c->in_cap) {
      char *q = realloc(c->in, c->in_len + n);
      if (q == NULL)
        fail("out of memory");
      c->in = q;
      c->in_cap = c->in_len + n;
    }
    memcpy(c->in + c->in_len, p, n);
    p = c->in;
    n = c->in_len + n;
  }
  size_t used = consume(c, p, n);
  keep(c, p + used, n - used);
}

/* ---- Connecting ---- */

static void on_connect(uv_connect_t *r, int status) {
  struct conn *c = r->data;
  char req[512];
  if (status < 0)
    fail("connection %d: connect: %s", c->idx, uv_strerror(status));
  uv_tcp_nodelay(&c->tcp, 1);
  int n = snprintf(req, sizeof(req),
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n",
                   opt.path, opt.ports[c->host]);
  c->state = C_HANDSHAKE;
  conn_write(c, req, (size_t)n);
  int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (rc < 0)
    fail("connection %d: read: %s", c->idx, uv_strerror(rc));
}

static void conn_start(struct conn *c) {
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", opt.ports[c->host], &a);
  uv_tcp_init(st.loop, &c->tcp);
  c->tcp.data = c;
  c->creq.data = c;
  c->state = C_CONNECTING;
  int rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&a, on_connect);
  if (rc < 0)
    fail("connection %d: connect: %s", c->idx, uv_strerror(rc));
}

/* Starts connections while fewer than -C are in their handshake. */
static void start_more(void) {
  while (st.started < opt.total && st.started - st.opened < opt.concurrency)
    conn_start(&st.conns[st.started++]);
}

/* ---- Set-up ---- */

static void on_deadline(uv_timer_t *t) {
  if (st.opened < opt.total)
    fail("timed out after %.0f s: %d of %d connections open", opt.timeout_s, st.opened, opt.total);
  fail("timed out after %.0f s (broadcast: %llu of %llu deliveries; echo: %llu in flight)",
       opt.timeout_s, (unsigned long long)st.delivered, (unsigned long long)st.expect,
       (unsigned long long)st.inflight_total);
}

/* Raises the soft limit on open files to what -c needs (up to the hard one). */
static void raise_nofile(void) {
  struct rlimit rl;
  rlim_t need = (rlim_t)opt.total + 64;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    fail("getrlimit: %s", strerror(errno));
  if (rl.rlim_cur >= need)
    return;
  if (rl.rlim_max < need)
    fail("%d connections need %llu open files; the hard limit is %llu", opt.total,
         (unsigned long long)need, (unsigned long long)rl.rlim_max);
  rl.rlim_cur = need;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
    fail("setrlimit: %s", strerror(errno));
}

/* The text every client message carries: 'P' or 'E' and filler to -s
 * bytes, inside 42["pub",...] / 42["echo",...] for Socket.IO. Sets the
 * length a delivery must have. */
static void make_payload(void) {
  int pub = opt.mode != M_ECHO;
  const char *ev = pub ? "pub" : "echo";
  const char *back = pub ? "msg" : "echo";
  size_t n = (size_t)opt.size;
  char *s = malloc(n + 32);
  if (s == NULL)
    fail("out of memory");
  size_t off = 0;
  if (opt.kind == K_SIO)
    off = (size_t)sprintf(s, "42[\"%s\",\"", ev);
  st.body_off = (int)off; /* also in what comes back: "pub" and "msg" are as long */
  s[off] = pub ? 'P' : 'E';
  for (size_t i = 1; i < n; i++)
    s[off + i] = (char)('a' + i % 26);
  off += n;
  if (opt.kind == K_SIO)
    off += (size_t)sprintf(s + off, "\"]");
  st.msg = s;
  st.msg_len = off;
  st.want_len = opt.kind == K_SIO ? n + strlen(back) + 9 : n; /* 42["msg","..."] */
}

static void usage(void) {
  fprintf(stderr,
          "usage: wsload broadcast|echo|fanout -p PORT[,PORT...] [-u PATH] [-k ws|sio] [-c CONNS]\n"
          "         [-s SIZE] [-n PUBS] [-b BURSTS] [-i INFLIGHT] [-w WARMUP_S] [-d SECONDS]\n"
          "         [-C CONCURRENCY] [-P PUBLISHERS] [-r RATE] [-T TIMEOUT_S] [-W]\n");
  exit(2);
}

static void parse_args(int argc, char **argv) {
  int ch;
  if (argc < 2)
    usage();
  if (strcmp(argv[1], "broadcast") == 0)
    opt.mode = M_BROADCAST;
  else if (strcmp(argv[1], "echo") == 0)
    opt.mode = M_ECHO;
  else if (strcmp(argv[1], "fanout") == 0)
    opt.mode = M_FANOUT;
  else
    usage();
  optind = 2;
  opt.inflight = 0; /* unset */
  while ((ch = getopt(argc, argv, "p:u:k:c:s:n:b:i:w:d:C:T:WP:r:")) != -1) {
    switch (ch) {
    case 'p':
      for (char *q = optarg; *q && opt.nports < MAX_PORTS; q += *q == ',') {
        char *end;
        opt.ports[opt.nports++] = (int)strtol(q, &end, 10);
        if (end == q || (*end != ',' && *end != '\0'))
          usage();
        q = end;
      }
      opt.port = opt.ports[0];
      break;
    case 'P':
      opt.npub = atoi(optarg);
      break;
    case 'r':
      opt.rate = atof(optarg);
      break;
    case 'u':
      opt.path = optarg;
      break;
    case 'k':
      opt.kind = strcmp(optarg, "sio") == 0 ? K_SIO : K_WS;
      break;
    case 'c':
      opt.conns = atoi(optarg);
      break;
    case 's':
      opt.size = atoi(optarg);
      break;
    case 'n':
      opt.pubs = atoi(optarg);
      break;
    case 'b':
      opt.bursts = atoi(optarg);
      break;
    case 'i':
      opt.inflight = atoi(optarg);
      break;
    case 'w':
      opt.warmup_s = atof(optarg);
      break;
    case 'd':
      opt.seconds = atof(optarg);
      break;
    case 'C':
      opt.concurrency = atoi(optarg);
      break;
    case 'T':
      opt.timeout_s = atof(optarg);
      break;
    case 'W':
      opt.wait_stdin = 1;
      break;
    default:
      usage();
    }
  }
  if (opt.conns < 0)
    opt.conns = opt.mode == M_BROADCAST ? 10000 : opt.mode == M_FANOUT ? 1000 : 100;
  if (opt.size < 0)
    opt.size = opt.mode == M_ECHO ? 64 : 100;
  if (opt.inflight == 0)
    opt.inflight = opt.mode == M_FANOUT ? 32 : 1;
  if (opt.npub < 0)
    opt.npub = 4;
  if (opt.mode != M_FANOUT && opt.nports > 1)
    usage(); /* several ports: fanout only */
  opt.total = opt.conns * (opt.nports > 0 ? opt.nports : 1);
  for (int i = 0; i < opt.nports; i++)
    if (opt.ports[i] <= 0 || opt.ports[i] > 65535)
      usage();
  if (opt.path == NULL)
    opt.path = opt.kind == K_SIO ? "/socket.io/?EIO=4&transport=websocket" : "/";
  if (opt.port <= 0 || opt.port > 65535 || opt.conns < 1 || opt.size < 1 || opt.size > 60000 ||
      opt.pubs < 1 || opt.bursts < 1 || opt.bursts > 64 || opt.inflight < 1 ||
      opt.inflight > (opt.mode == M_FANOUT ? FAN_CAP : MAX_INFLIGHT) || opt.concurrency < 1 ||
      opt.seconds <= 0 || opt.timeout_s <= 0 || opt.rate < 0 ||
      (opt.mode == M_FANOUT && (opt.size < 1 + FAN_STAMP || opt.npub < 0 || opt.npub > opt.conns)))
    usage();
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  setvbuf(stdout, NULL, _IOLBF, 0);
  raise_nofile();
  make_payload();
  st.loop = uv_default_loop();
  st.mask_state = 0x9e3779b9u;
  st.conns = calloc((size_t)opt.total, sizeof(*st.conns));
  st.hist = calloc(HIST_US, sizeof(*st.hist));
  if (st.conns == NULL || st.hist == NULL)
    fail("out of memory");
  for (int i = 0; i < opt.total; i++) {
    st.conns[i].idx = i;
    st.conns[i].host = i / opt.conns;
  }
  uv_timer_init(st.loop, &st.deadline);
  uv_timer_start(&st.deadline, on_deadline, (uint64_t)(opt.timeout_s * 1000), 0);
  st.t_begin = uv_hrtime();
  start_more();
  uv_run(st.loop, UV_RUN_DEFAULT);
  return 0;
}
