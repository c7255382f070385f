/* ctl_cmd — one control request line (SPEC §5) parsed and checked.
 * Pure code: unit-tested and fuzzed apart from the socket. */
#ifndef MUSTER_CTL_CMD_H
#define MUSTER_CTL_CMD_H

#include <stddef.h>
#include <stdint.h>

/* XX(ENUM, "wire name", SERVICE: 0 none, 1 required, 2 optional). The one
 * command table: the server (ctl_cmd.c) and musterctl both use it. */
#define CTL_CMD_MAP(XX)                                                                            \
  XX(STATUS, "status", 2)                                                                          \
  XX(START, "start", 1)                                                                            \
  XX(STOP, "stop", 1)                                                                              \
  XX(RESTART, "restart", 1)                                                                        \
  XX(SCALE, "scale", 1)                                                                            \
  XX(SIGNAL, "signal", 1)                                                                          \
  XX(RELOAD, "reload", 0)                                                                          \
  XX(LOGS, "logs", 2)                                                                              \
  XX(FLUSH, "flush", 2)                                                                            \
  XX(ENV, "env", 1)                                                                                \
  XX(EVENTS, "events", 0)                                                                          \
  XX(SHUTDOWN, "shutdown", 0)                                                                      \
  XX(DRAIN, "drain", 0)                                                                            \
  XX(UNDRAIN, "undrain", 0)                                                                        \
  XX(ROOMS, "rooms", 0)                                                                            \
  XX(PUBLISH, "publish", 0)                                                                        \
  XX(VERSION, "version", 0)

enum ctl_cmd_type {
  CTL_NONE = 0,
#define XX(e, s, svc) CTL_##e,
  CTL_CMD_MAP(XX)
#undef XX
};

#define CTL_LINES_DEFAULT 50
#define CTL_LINES_MAX 10000

struct ctl_cmd {
  enum ctl_cmd_type type;
  char service[65];  /* "" when not given */
  int64_t instances; /* scale: 0..1024, or 1..1024 more with add */
  int add;           /* scale "+N" (PM2's): instances more than it has */
  int signo;         /* signal: the signal to send (util_signal) */
  int64_t lines;     /* logs: 1..CTL_LINES_MAX */
  int64_t index;     /* env: the instance (0..1023), default 0 */
  int follow;        /* logs: keep streaming */
  char topic[256];   /* publish: the room */
  char data[16384];  /* publish: the text */
};

/* Parses one request line. Returns 0, or UV_EINVAL with a one-line reason
 * in err ("invalid JSON near offset 3", "unknown command \"frob\"",
 * "scale: field \"instances\" must be an integer 0..1024", "unknown field
 * \"sevice\""). */
int ctl_cmd_parse(const char *line, size_t len, struct ctl_cmd *out, char *err, size_t errlen);

/* The command word of t ("status", ...; "?" for CTL_NONE). */
const char *ctl_cmd_name(enum ctl_cmd_type t);

/* Looks up a command word. Returns 0 and sets *out, or UV_ENOENT if
 * unknown (*out untouched). */
int ctl_cmd_find(const char *word, enum ctl_cmd_type *out);

/* Whether t takes SERVICE: 0 no, 1 required, 2 optional. */
int ctl_cmd_service(enum ctl_cmd_type t);

#endif
