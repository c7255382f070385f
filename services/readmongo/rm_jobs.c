/* rm_jobs — operations on the thread pool. See rm_jobs.h. */
#include "rm_jobs.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "ipc_text.h"
#include "rm_json.h"
#include "rm_ops.h"
#include "rm_pending.h"
#include "rm_pool.h"

#define PIECE_BYTES (1 << 20) /* largest chunk message we send */

enum job_state {
  JOB_WAITING = 0, /* in the FIFO, holds no slot */
  JOB_RUNNING,     /* a step is on the thread pool */
  JOB_PAUSED,      /* a stream waits for the channel to drain */
};

struct job {
  struct rm_pending pending; /* first member: req->data points here */
  struct ipc_req *req;       /* NULL once answered or cancelled */
  struct rm_op op;           /* what to run (owned) */
  struct rm_exec exec;       /* driver state (worker side while RUNNING) */
  struct rm_result res;      /* the last step's result */
  uv_work_t work;
  enum job_state state;
  unsigned started : 1;  /* the stream's head was sent */
  unsigned closing : 1;  /* the step only closes exec, then the job ends */
  TAILQ_ENTRY(job) link; /* in `waiting` or `paused` */
};

TAILQ_HEAD(job_list, job);

static struct {
  uv_loop_t *loop;
  const struct rm_config *cfg;
  int slots_free;          /* query slots not held by a job */
  struct job_list waiting; /* FIFO of jobs without a slot */
  struct job_list paused;  /* streams waiting for on_drain */
  size_t count;            /* jobs alive */
  int stopping;
  struct ipc_service *svc; /* the channel, once a request came */
} J;

static const struct ipc_hdr json_hdr[] = {{"content-type", "application/json"}};
static const struct ipc_hdr ndjson_hdr[] = {{"content-type", "application/x-ndjson"}};

/* ---- Answers ---- */

void rm_respond_error(struct ipc_req *req, const struct rm_err *err) {
  struct ipc_hdr h[3] = {{"content-type", "application/json"}};
  size_t nh = 1;
  if (err->allow)
    h[nh++] = (struct ipc_hdr){"allow", err->allow};
  if (err->status == 503)
    h[nh++] = (struct ipc_hdr){"retry-after", "1"};
  if (err->status >= 500)
    fprintf(stderr, "readmongo: %s %s -> %d: %s\n", req->method, req->path, err->status, err->msg);
  struct ipc_buf b;
  ipc_buf_init(&b);
  ipc_buf_adds(&b, "{\"error\":");
  ipc_json_str(&b, err->msg, strlen(err->msg));
  if (err->code != 0) {
    ipc_buf_adds(&b, ",\"code\":");
    ipc_buf_addi(&b, err->code);
  }
  ipc_buf_addc(&b, '}');
  if (b.oom)
    ipc_respond_error(req, 500, "out of memory");
  else
    ipc_respond(req, err->status, h, nh, b.data, b.len);
  ipc_buf_free(&b);
}

/* Sends data as chunks of at most PIECE_BYTES, cut between characters. */
static void write_pieces(struct ipc_req *req, const char *data, size_t len) {
  while (len > 0) {
    size_t n = rm_json_utf8_cut(data, len, PIECE_BYTES);
    ipc_stream_write(req, data, n);
    data += n;
    len -= n;
  }
}

/* ---- Life of a job ---- */

static void pump(void);
static void run_step(struct job *j);

static void job_free(struct job *j) {
  rm_op_free(&j->op);
  ipc_buf_free(&j->res.out);
  free(j);
  J.count--;
}

/* The job (which held a slot) is over: free it, give the slot on. */
static void finish(struct job *j) {
  job_free(j);
  J.slots_free++;
  pump();
}

static void on_work(uv_work_t *w) {
  struct job *j = w->data;
  if (j->closing)
    rm_ops_close(&j->exec);
  else
    rm_ops_step(&j->exec, &j->op, J.cfg, &j->res);
}

/* A stream's step is over: send what it produced, then go on, pause or end. */
static void deliver_stream(struct job *j) {
  struct rm_result *r = &j->res;
  if (!j->started) {
    ipc_stream_begin(j->req, 200, ndjson_hdr, 1);
    j->started = 1;
  }
  write_pieces(j->req, r->out.data, r->out.len);
  if (r->status >= 400) {
    /* The head is gone: the error becomes the stream's last line. */
    struct ipc_buf b;
    ipc_buf_init(&b);
    ipc_buf_adds(&b, "{\"error\":");
    ipc_json_str(&b, r->err.msg, strlen(r->err.msg));
    ipc_buf_adds(&b, ",\"status\":");
    ipc_buf_addi(&b, r->status);
    ipc_buf_adds(&b, "}\n");
    if (!b.oom)
      ipc_stream_write(j->req, b.data, b.len);
    ipc_buf_free(&b);
    fprintf(stderr, "readmongo: %s %s -> stream ended by error %d: %s\n", j->req->method,
            j->req->path, r->status, r->err.msg);
  }
  if (r->done) {
    ipc_stream_end(j->req);
    j->req = NULL;
    finish(j);
    return;
  }
  if (ipc_service_writable(j->req->svc)) {
    run_step(j);
  } else {
    j->state = JOB_PAUSED;
    TAILQ_INSERT_TAIL(&J.paused, j, link);
  }
}

/* Answers a buffered operation (or a stream that failed before its head). */
static void deliver_whole(struct job *j) {
  struct rm_result *r = &j->res;
  if (r->status >= 400)
    rm_respond_error(j->req, &r->err);
  else
    ipc_respond(j->req, r->status, json_hdr, 1, r->out.data, r->out.len);
  j->req = NULL;
}

static void on_after_work(uv_work_t *w, int status) {
  struct job *j = w->data;
  (void)status;
  if (j->closing) {
    finish(j);
    return;
  }
  if (j->req == NULL || J.stopping) {
    /* Cancelled while its step ran: close what the step left open. */
    if (j->exec.client != NULL) {
      j->closing = 1;
      run_step(j);
    } else {
      finish(j);
    }
    return;
  }
  if (j->op.ndjson && (j->started || j->res.status < 400)) {
    deliver_stream(j);
    return;
  }
  deliver_whole(j);
  if (j->exec.client != NULL) { /* cannot happen: a failed step closes */
    j->closing = 1;
    run_step(j);
    return;
  }
  finish(j);
}

static void run_step(struct job *j) {
  j->state = JOB_RUNNING;
  j->work.data = j;
  int rc = uv_queue_work(J.loop, &j->work, on_work, on_after_work);
  if (rc != 0) { /* only with a bad argument: cannot happen */
    fprintf(stderr, "readmongo: uv_queue_work failed: %s\n", uv_strerror(rc));
    abort();
  }
}

static void on_job_cancel(struct rm_pending *p) {
  struct job *j = (struct job *)p;
  j->req = NULL;
  switch (j->state) {
  case JOB_WAITING:
    TAILQ_REMOVE(&J.waiting, j, link);
    job_free(j);
    break;
  case JOB_PAUSED:
    TAILQ_REMOVE(&J.paused, j, link);
    j->closing = 1;
    run_step(j);
    break;
  case JOB_RUNNING:
    break; /* on_after_work sees req == NULL */
  }
}

/* Starts waiting jobs while slots are free, or fails them when there is
 * no pool and none can be made now. */
static void pump(void) {
  while (!J.stopping && !TAILQ_EMPTY(&J.waiting)) {
    struct rm_err err;
    enum rm_pool_state st = rm_pool_want(&err);
    if (st == RM_POOL_CREATING)
      return; /* rm_jobs_on_pool() comes back */
    if (st == RM_POOL_NONE) {
      while (!TAILQ_EMPTY(&J.waiting)) {
        struct job *j = TAILQ_FIRST(&J.waiting);
        TAILQ_REMOVE(&J.waiting, j, link);
        rm_respond_error(j->req, &err);
        job_free(j);
      }
      return;
    }
    /* A full channel cannot take more answers: start nothing until
     * on_drain (muster reads slower than MongoDB answers). */
    if (J.slots_free == 0 || !ipc_service_writable(J.svc))
      return;
    struct job *j = TAILQ_FIRST(&J.waiting);
    TAILQ_REMOVE(&J.waiting, j, link);
    J.slots_free--;
    j->exec.pool = rm_pool_get();
    run_step(j);
  }
}

/* ---- API ---- */

void rm_jobs_init(uv_loop_t *loop, const struct rm_config *cfg, int slots) {
  memset(&J, 0, sizeof(J));
  J.loop = loop;
  J.cfg = cfg;
  J.slots_free = slots;
  TAILQ_INIT(&J.waiting);
  TAILQ_INIT(&J.paused);
}

void rm_jobs_submit(struct ipc_req *req, struct rm_op *op) {
  struct job *j = calloc(1, sizeof(*j));
  if (j == NULL) {
    rm_op_free(op);
    ipc_respond_error(req, 500, "out of memory");
    return;
  }
  j->pending.cancel = on_job_cancel;
  j->req = req;
  j->op = *op;
  memset(op, 0, sizeof(*op));
  ipc_buf_init(&j->res.out);
  j->state = JOB_WAITING;
  req->data = &j->pending;
  J.svc = req->svc;
  J.count++;
  TAILQ_INSERT_TAIL(&J.waiting, j, link);
  pump();
}

void rm_jobs_on_drain(void) {
  while (!TAILQ_EMPTY(&J.paused)) {
    struct job *j = TAILQ_FIRST(&J.paused);
    if (!ipc_service_writable(j->req->svc))
      return;
    TAILQ_REMOVE(&J.paused, j, link);
    run_step(j);
  }
  pump();
}

void rm_jobs_on_pool(void) {
  pump();
}

void rm_jobs_stop(void) {
  J.stopping = 1;
}

size_t rm_jobs_count(void) {
  return J.count;
}
