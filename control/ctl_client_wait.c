/* ctl_client_wait — musterctl wait SERVICE [--timeout S]. See
 * ctl_client_tools.h.
 *
 * No polling: the `events` stream is subscribed to first, then `status`
 * is asked once on a second connection, so a `ready` that happens between
 * the two is seen either in the status or as an event. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_client_conn.h"
#include "ctl_client_tools.h"

#define REPLY_MS 10000 /* a reply to a plain request takes longer: muster is stuck */

/* What is known of the service. */
enum verdict {
  V_READY = 0, /* it has a ready instance */
  V_FAILED,    /* it is failed */
  V_PENDING,   /* neither yet */
  V_TIMEOUT,   /* the deadline passed first */
  V_CLOSED,    /* muster closed the event stream first */
  V_RECHECK,   /* an instance of the job completed: the status decides */
};

/* What the status reply says about the service: ready, failed or pending.
 * *state receives the service state. */
static enum verdict judge(const cJSON *reply, const char **state) {
  const cJSON *svcs = cJSON_GetObjectItemCaseSensitive(reply, "services");
  const cJSON *svc = cJSON_IsArray(svcs) ? cJSON_GetArrayItem(svcs, 0) : NULL;
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(svc, "state");
  const cJSON *inst, *insts = cJSON_GetObjectItemCaseSensitive(svc, "instances");
  *state = cJSON_IsString(st) ? st->valuestring : "?";
  if (strcmp(*state, "failed") == 0)
    return V_FAILED;
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(svc, "completed")))
    return V_READY; /* a one-shot job that is done */
  cJSON_ArrayForEach(inst, insts) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(inst, "state");
    if (cJSON_IsString(s) && strcmp(s->valuestring, "ready") == 0)
      return V_READY;
  }
  return V_PENDING;
}

/* Asks for the service's status on c. Returns 1 with *out, or reports why
 * not and returns <= 0. */
static int ask_status(struct ctl_client_conn *c, const char *path, const char *req, cJSON **out) {
  int rc = ctl_client_conn_call(c, req, REPLY_MS, out);
  if (rc <= 0)
    fprintf(stderr, "musterctl: wait: no status reply from %s: %s\n", path,
            rc == 0 ? "timed out" : strerror(-rc));
  return rc;
}

/* The status request line for service (a JSON text, owned). */
static char *status_request(const char *service) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "cmd", "status");
  cJSON_AddStringToObject(o, "service", service);
  char *s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return s;
}

/* Waits on the event stream for service's `ready` or `failed` until
 * deadline_ms (0: none). Returns that verdict, V_TIMEOUT at the deadline
 * or V_CLOSED when the stream ended. */
static enum verdict watch(struct ctl_client_conn *ev, const char *service, long long deadline_ms) {
  for (;;) {
    cJSON *e = NULL;
    int left = deadline_ms ? (int)(deadline_ms - ctl_client_now_ms()) : -1;
    if (deadline_ms && left <= 0)
      return V_TIMEOUT;
    int rc = ctl_client_conn_recv(ev, left, &e);
    if (rc < 0)
      return V_CLOSED;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "type");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(e, "service");
    int mine = cJSON_IsString(s) && strcmp(s->valuestring, service) == 0 && cJSON_IsString(t);
    enum verdict v = !mine                                      ? V_PENDING
                     : strcmp(t->valuestring, "ready") == 0     ? V_READY
                     : strcmp(t->valuestring, "failed") == 0    ? V_FAILED
                     : strcmp(t->valuestring, "completed") == 0 ? V_RECHECK
                                                                : V_PENDING;
    cJSON_Delete(e);
    if (v != V_PENDING)
      return v;
  }
}

/* Subscribes to the events on ev. Returns 1, or 0 after saying why not. */
static int subscribe(struct ctl_client_conn *ev, const char *path) {
  cJSON *reply = NULL;
  int ok = ctl_client_conn_call(ev, "{\"cmd\":\"events\"}", REPLY_MS, &reply) > 0 &&
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok"));
  if (!ok)
    fprintf(stderr, "musterctl: wait: subscribing to events on %s failed\n", path);
  cJSON_Delete(reply);
  return ok;
}

/* Says what the verdict was (the service's `state` for a timeout) and,
 * with json, prints the last status reply. Returns the exit status. */
static int report(enum verdict v, const char *service, double timeout_s, const char *state,
                  const cJSON *reply, int json) {
  if (v == V_TIMEOUT)
    fprintf(stderr, "musterctl: wait: %s has no ready instance after %g s (state %s)\n", service,
            timeout_s, state);
  else if (v == V_CLOSED)
    fprintf(stderr, "musterctl: wait: muster closed the event stream (shutting down?)\n");
  else if (v == V_FAILED)
    fprintf(stderr, "musterctl: wait: %s is failed\n", service);
  else if (v == V_READY && !json)
    printf("%s: ready\n", service);
  if (json && reply != NULL) {
    char *text = cJSON_PrintUnformatted(reply);
    if (text)
      printf("%s\n", text);
    free(text);
  }
  return v == V_READY ? 0 : 1;
}

int ctl_client_wait(int fd, const char *path, const char *service, double timeout_s, int json) {
  struct ctl_client_conn ev, st;
  cJSON *reply = NULL;
  const char *state = "?";
  int code = 1, sfd;
  long long deadline = timeout_s > 0 ? ctl_client_now_ms() + (long long)(timeout_s * 1000) : 0;
  char *req = status_request(service);
  ctl_client_conn_init(&ev, fd);
  ctl_client_conn_init(&st, -1);
  if (req == NULL || !subscribe(&ev, path))
    goto out;
  if ((sfd = ctl_client_connect(path)) < 0) {
    fprintf(stderr, "musterctl: cannot connect to %s: %s\n", path, strerror(-sfd));
    goto out;
  }
  ctl_client_conn_init(&st, sfd);
  if (ask_status(&st, path, req, &reply) <= 0)
    goto out;
  const cJSON *err = cJSON_GetObjectItemCaseSensitive(reply, "error");
  if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok"))) {
    fprintf(stderr, "musterctl: %s\n", cJSON_IsString(err) ? err->valuestring : "status failed");
    goto out;
  }
  enum verdict v = judge(reply, &state);
  while (v == V_PENDING) {
    /* Not yet: the events tell; then the status again, for its state (and,
     * when a job's instance completed, whether they all have). */
    enum verdict seen = watch(&ev, service, deadline);
    cJSON_Delete(reply);
    reply = NULL;
    enum verdict now = ask_status(&st, path, req, &reply) > 0 ? judge(reply, &state) : V_CLOSED;
    v = seen == V_RECHECK ? now : seen;
  }
  code = report(v, service, timeout_s, state, reply, json);
out:
  cJSON_Delete(reply);
  free(req);
  ctl_client_conn_close(&st);
  ctl_client_conn_close(&ev);
  return code;
}
