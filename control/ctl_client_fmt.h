/* ctl_client_fmt — what musterctl sends and how it prints the replies
 * (SPEC §5). Pure code, no I/O: requests and human-readable text are
 * appended to an ipc_buf; the caller writes them where they belong. */
#ifndef MUSTER_CTL_CLIENT_FMT_H
#define MUSTER_CTL_CLIENT_FMT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "ctl_cmd.h"
#include "ipc_buf.h"

struct ctl_client_req {
  enum ctl_cmd_type cmd;
  const char *service; /* borrowed; NULL when the command has none */
  long long n;         /* scale: instances; logs: lines; env: the instance's index */
  int add;             /* scale +N: n more than it has */
  int follow;          /* logs -f */
  const char *topic;   /* publish: the room (borrowed) */
  const char *data;    /* publish: the text; signal: its name (borrowed) */
};

/* The command word of cmd ("status", ...; "" for CTL_NONE). The words
 * and what they take are ctl_cmd's, the server's table. */
const char *ctl_client_cmd_name(enum ctl_cmd_type cmd);

/* Looks up a command word (ctl_cmd_find). Returns 0 and sets *out, or
 * UV_ENOENT if unknown. */
int ctl_client_cmd_find(const char *word, enum ctl_cmd_type *out);

/* Whether cmd takes SERVICE: 0 no, 1 required, 2 optional. */
int ctl_client_cmd_service(enum ctl_cmd_type cmd);

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
 * Returns 0, or UV_EINVAL when the reply lacks what r's answer must hold
 * (UV_ENOMEM: out of memory): then *why (static text) says what is missing
 * and b may hold a partial text. */
int ctl_client_render(struct ipc_buf *b, const struct ctl_client_req *r, const cJSON *reply,
                      const char **why);

/* Appends the human text of one streamed object after the first reply
 * (an event, or a {"line": ...} of logs -f). Returns 0, or UV_EINVAL with
 * *why set when msg is not what the stream carries. */
int ctl_client_render_stream(struct ipc_buf *b, const struct ctl_client_req *r, const cJSON *msg,
                             const char **why);

/* Appends the error report of a reply with "ok": false: "musterctl: ERROR"
 * and then each of its "problems" on its own line. */
void ctl_client_render_error(struct ipc_buf *b, const cJSON *reply);

#endif
