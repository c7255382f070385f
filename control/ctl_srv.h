/* ctl_srv — internal to the control server (ctl_server.c and the files
 * of its longer commands: ctl_srv_restart.c, ctl_srv_logs.c): the
 * server, its clients, and how a command replies. Not for musterctl
 * (its files are ctl_client_*). */
#ifndef MUSTER_CTL_SRV_H
#define MUSTER_CTL_SRV_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <sys/queue.h>
#include <uv.h>

#include "ctl_cmd.h"
#include "ipc_buf.h"
#include "ipc_channel.h"

struct sup_host;
struct sup_service;

#define CLIENT_MAX_QUEUE ((size_t)8 << 20) /* a client that stops reading */
#define REQUEST_MAX_LINE ((size_t)1 << 20)

struct ctl_client;

/* A command answered later (rolling restart); survives its client. */
struct ctl_op {
  struct ctl_client *client; /* NULL once the client went away */
  struct sup_host *host;     /* restart all: whose services */
  char **names;              /* restart all: the services when it began, owned */
  size_t nnames;
  size_t next;      /* restart all: the next of names */
  unsigned all : 1; /* restart all: one service after another */
  char service[65]; /* the service restarting now */
  char err[160];    /* restart all: the first failure, "" = none */
};

struct ctl_client {
  struct ipc_channel ch; /* the connection; handle lives here */
  struct ctl_server *srv;
  LIST_ENTRY(ctl_client) link; /* the server's clients */
  struct ctl_op *op;           /* the command awaiting its reply, or NULL */
  char op_service[65];         /* the service that command is about */
  struct ipc_buf backlog;      /* lines received while op was pending */
  char follow[65];             /* logs --follow: the service, "*" every one; "" = none */
  unsigned events : 1;         /* subscribed to events */
  unsigned closing : 1;
};

struct ctl_server {
  struct sup_host *host;
  uv_pipe_t listener;
  char *path; /* the socket file, unlinked at the end */
  LIST_HEAD(, ctl_client) clients;
  unsigned listening : 1;
};

/* ---- Replies (ctl_server.c) ---- */

/* Sends one JSON value as a line; a client past its queue limit (it
 * stopped reading) is dropped. */
void ctl_srv_send_json(struct ctl_client *cl, cJSON *o);
/* {"ok": false, "error": msg}. */
void ctl_srv_reply_error(struct ctl_client *cl, const char *msg);
/* A new {"ok": true}, to add to and send. */
cJSON *ctl_srv_ok_reply(void);
/* {"ok": true, "service": service} (without service when NULL). */
void ctl_srv_reply_ok(struct ctl_client *cl, const char *service);
/* Closes the client (once); what it streams or awaits lets go of it. */
void ctl_srv_close(struct ctl_client *cl);
/* One request line of cl: parsed, checked and run. */
void ctl_srv_handle_line(struct ctl_client *cl, const char *line, size_t len);
/* How many services h has. */
size_t ctl_srv_service_count(const struct sup_host *h);

/* ---- The longer commands ---- */

/* restart SERVICE, or every service one after another (svc NULL: all);
 * answered once done, the client's later lines held till then
 * (ctl_srv_restart.c). */
void ctl_srv_restart(struct ctl_client *cl, struct sup_service *svc);
/* logs SERVICE (svc NULL: every service's, merged), and with follow the
 * lines that come next (ctl_srv_logs.c). */
void ctl_srv_logs(struct ctl_client *cl, const struct ctl_cmd *c, struct sup_service *svc);
/* Stops cl's logs --follow, if any (ctl_srv_logs.c). */
void ctl_srv_unfollow(struct ctl_client *cl);
/* flush [SERVICE]: empties the log of svc, or every service's (ctl_srv_logs.c). */
void ctl_srv_flush(struct ctl_client *cl, struct sup_service *svc);

#endif
