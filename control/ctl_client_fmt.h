/* ctl_client_fmt — what musterctl sends and how it prints the replies
 * (SPEC §5). Pure code, no I/O: requests and human-readable text are
 * appended to an ipc_buf; the caller writes them where they belong. */
#ifndef MUSTER_CTL_CLIENT_FMT_H
#define MUSTER_CTL_CLIENT_FMT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "ipc_buf.h"

/* XX(enum suffix, command word, takes SERVICE: 0 no, 1 required, 2 optional) */
#define CTL_CLIENT_CMD_MAP(XX)                                                                     \
  XX(STATUS, "status", 2)                                                                          \
  XX(START, "start", 1)                                                                            \
  XX(STOP, "stop", 1)                                                                              \
  XX(RESTART, "restart", 1)                                                                        \
  XX(SCALE, "scale", 1)                                                                            \
  XX(RELOAD, "reload", 0)                                                                          \
  XX(LOGS, "logs", 1)                                                                              \
  XX(EVENTS, "events", 0)                                                                          \
  XX(SHUTDOWN, "shutdown", 0)                                                                      \
  XX(VERSION, "version", 0)

/* CTLC_STATUS = 0, CTLC_START, ... in the order of the map. */
enum ctl_client_cmd {
#define XX(e, s, svc) CTLC_##e,
  CTL_CLIENT_CMD_MAP(XX)
#undef XX
};

#define CTLC_COUNT (CTLC_VERSION + 1) /* number of commands */

#define CTLC_LOGS_DEFAULT 50 /* `logs SERVICE` without N */

struct ctl_client_req {
  enum ctl_client_cmd cmd;
  const char *service; /* borrowed; NULL when the command has none */
  long long n;         /* scale: instances; logs: lines */
  int follow;          /* logs -f */
};

/* The command word of cmd ("status", ...). */
const char *ctl_client_cmd_name(enum ctl_client_cmd cmd);

/* Looks up a command word. Returns 0 and sets *out, or -1 if unknown. */
int ctl_client_cmd_find(const char *word, enum ctl_client_cmd *out);

/* Whether cmd takes SERVICE: 0 no, 1 required, 2 optional. */
int ctl_client_cmd_service(enum ctl_client_cmd cmd);

/* Whether the reply to r is followed by a stream of objects (events,
 * logs -f) that lasts until the server closes. */
int ctl_client_streams(const struct ctl_client_req *r);

/* Appends the request line for r, with its "\n". */
void ctl_client_request(struct ipc_buf *b, const struct ctl_client_req *r);

/* Human duration of ms milliseconds: "5s", "3m12s", "2h4m", "3d2h". */
void ctl_client_duration(char *out, size_t size, long long ms);

/* Human size of n bytes: "512B", "12.5K", "3.0M", "1.2G". */
void ctl_client_bytes(char *out, size_t size, long long n);

/* Appends the human text for the first reply to r, which says "ok": true.
 * Returns 0, or -1 when the reply lacks what r's answer must hold: then
 * *why (static text) says what is missing and b may hold a partial text. */
int ctl_client_render(struct ipc_buf *b, const struct ctl_client_req *r, const cJSON *reply,
                      const char **why);

/* Appends the human text of one streamed object after the first reply
 * (an event, or a {"line": ...} of logs -f). Returns 0, or -1 with *why
 * set when msg is not what the stream carries. */
int ctl_client_render_stream(struct ipc_buf *b, const struct ctl_client_req *r, const cJSON *msg,
                             const char **why);

/* Appends the error report of a reply with "ok": false: "musterctl: ERROR"
 * and then each of its "problems" on its own line. */
void ctl_client_render_error(struct ipc_buf *b, const cJSON *reply);

#endif
