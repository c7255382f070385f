/* cfg — muster's configuration (SPEC §2): the data model and its loader.
 *
 * cfg_parse() turns JSON text into a fully validated struct cfg: every field
 * typed and range-checked, defaults filled, ${VAR} expanded, relative paths
 * made absolute against the config directory and each command's argv[0]
 * looked up. It reports every problem it finds at once (a JSON syntax error
 * stops it), one line each, ready for `muster --check`:
 *
 *   FILE:LINE:COL: JSON syntax error near "..."     (syntax; 1-based, UTF-8
 *                                                    characters for COL)
 *   services[2].instances: must be 1..1024          (schema; path-style)
 *   FILE: cannot read: No such file or directory    (the file itself)
 *
 * Schema errors carry no FILE prefix, as in the SPEC: they name the place in
 * the document, and `--check -c FILE` already names the file.
 *
 * Every string in the returned struct is owned by it; cfg_free() frees all. */
#ifndef MUSTER_CFG_H
#define MUSTER_CFG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "util_cidr.h"
#include "util_cron.h"

/* ---- The data model ---- */

/* A TCP listen address. "127.0.0.1:8080", "[::1]:8080", "localhost:8080"
 * (= 127.0.0.1), ":8080" or "8080" (= 0.0.0.0, every IPv4 interface; write
 * "[::]:8080" for every IPv6 one). Hosts are IP literals: no DNS. */
struct cfg_listen {
  char *host; /* numeric IP without brackets: "127.0.0.1", "::1" */
  int port;   /* 1..65535 */
  int ipv6;   /* 1 when host is an IPv6 literal */
};

/* gateway.tls.min_version: the oldest TLS a client may speak. */
enum cfg_tls_version {
  CFG_TLS_1_2 = 0, /* "TLSv1.2" (default) */
  CFG_TLS_1_3      /* "TLSv1.3" */
};

/* One certificate of gateway.tls.certificates. */
struct cfg_tls_cert {
  char *cert; /* absolute path of the PEM certificate (and its chain) */
  char *key;  /* absolute path of its PEM private key */
};

/* gateway.tls (SPEC §13): TLS termination on a listener of its own. */
struct cfg_tls {
  int enabled;                /* 0 when "tls" is absent or null */
  struct cfg_listen listen;   /* the TLS address (valid when enabled) */
  struct cfg_tls_cert *certs; /* in config order; SNI falls back to the first */
  size_t ncerts;              /* >= 1 when enabled */
  enum cfg_tls_version min_version;
  int http2;           /* http2: ALPN selects h2 when offered (else http/1.1 only) */
  int redirect_http;   /* the plain listener answers 308 to https:// (but health, ACME) */
  int https_port;      /* the port redirects name; 0: listen's */
  int hsts_max_age_s;  /* strict-transport-security: max-age=N on HTTPS answers; 0: none */
  int hsts_subdomains; /*   with "; includeSubDomains" */
};

/* gateway.rate_limit: requests per client (its address, behind trusted
 * proxies the one they name; an IPv6 client by its /64), nginx's
 * limit_req with burst and nodelay. */
struct cfg_rate_limit {
  int enabled;              /* 0 when absent or null */
  double rate;              /* requests a second, each client */
  int burst;                /* requests at once above the rate */
  int max_clients;          /* clients tracked at once (memory: about 32 bytes each) */
  struct util_cidr *exempt; /* clients never limited, owned */
  size_t nexempt;
};

/* gateway.compression: gzip of answers on the fly (nginx's gzip, Caddy's
 * encode), for clients that take it and types that gain from it. */
struct cfg_compression {
  int enabled;       /* 0 when absent or null */
  int level;         /* zlib's 1 (fastest) .. 9 (smallest) */
  int64_t min_bytes; /* an answer known to be shorter is sent as it is */
  char **types;      /* media types ("text/html"; "text/" and a star: any), lower-case, owned */
  size_t ntypes;
};

struct cfg_gateway {
  struct cfg_listen listen;         /* public HTTP address */
  struct cfg_tls tls;               /* TLS listener, when enabled */
  int request_timeout_ms;           /* no response head within it: 504 */
  int header_timeout_ms;            /* request headers not complete: 408 */
  int keepalive_timeout_ms;         /* idle keep-alive connection lifetime */
  int64_t max_header_bytes;         /* larger request headers: 431 */
  int64_t max_body_bytes;           /* larger request body: 413 */
  int max_connections;              /* open client connections at most */
  int64_t max_buffered_bytes;       /* response bytes queued for slow clients, in all */
  int retries;                      /* idempotent retries on instance failure */
  int drain_delay_ms;               /* SIGTERM / drain: /readyz fails this long first */
  int queue_timeout_ms;             /* a request waits this long for an instance; 0 = no queue */
  int max_queued;                   /* requests waiting, the whole gateway; 0 = no queue */
  double retry_budget;              /* retries: at most this fraction of the last 10 s's requests */
  int quarantine_s;                 /* a poison request's method and path: 502 this long; 0 = off */
  char *health_path;                /* starts with '/' */
  char *access_log;                 /* absolute path, or NULL when off */
  struct cfg_rate_limit rate_limit; /* per client, or off */
  struct cfg_compression compression; /* gzip on the fly, or off */
  struct util_cidr *trusted;          /* trusted_proxies: their x-forwarded-for names the client */
  size_t ntrusted;
  int proxy_protocol; /* each connection (plain and TLS) starts with a PROXY header */
};

/* The real-time settings (SPEC §8): WebSocket and SSE limits, history. */
struct cfg_realtime {
  int64_t ws_max_message_bytes; /* bigger client messages: close 1009 */
  int64_t max_outbound_bytes;   /* queued for one client past this: 1008 / end */
  int ping_interval_ms;         /* muster pings each WebSocket this often; 0 = never */
  int pong_timeout_ms;          /* no pong within it: the connection is dead */
  int sse_keepalive_ms;         /* a ":" comment line on idle SSE holds; 0 = never */
  int hold_ms;                  /* messages wait this long for an instance, then 1013 */
  int max_rooms_per_conn;       /* rooms one connection or hold may be in */
  int history_size;             /* publications kept per room; 0 = no history */
  int history_ttl_s;            /* and at most this old */
};

/* Several hosts over Redis (SPEC §10); enabled when `cluster` is set. */
struct cfg_cluster {
  int enabled;          /* 0 when "cluster" is absent or null */
  char *redis_host;     /* numeric IP (or "127.0.0.1" for localhost) */
  int redis_port;       /* 1..65535, default 6379 */
  char *redis_password; /* from redis://:PASSWORD@host:port, or NULL */
  char *host_id;        /* [A-Za-z0-9._-]{1,64}; NULL: the machine's host name */
};

struct cfg_admin {
  int enabled;              /* 0 when "admin" is absent or null */
  struct cfg_listen listen; /* valid when enabled */
};

struct cfg_control {
  char *socket; /* absolute path of the Unix control socket */
};

struct cfg_logs {
  char *dir;         /* absolute directory of the service log files */
  int64_t max_bytes; /* rotate a log file past this size; 0 = never */
  int keep;          /* rotated files kept per log */
};

enum cfg_restart_policy {
  CFG_RESTART_ALWAYS = 0, /* restart on every exit */
  CFG_RESTART_ON_FAILURE, /* restart on non-zero exit or signal */
  CFG_RESTART_NEVER       /* never restart */
};

struct cfg_restart {
  enum cfg_restart_policy policy;
  int backoff_initial_ms; /* first restart delay */
  int backoff_max_ms;     /* delay cap, >= backoff_initial_ms */
  int max_restarts;       /* more within window_s: state failed */
  int window_s;           /* restart-count window; ready this long resets */
};

/* One route: a path prefix, optionally limited to methods and a host. */
struct cfg_route {
  char *prefix;    /* "/" or "/a/b": leading '/', no trailing '/', no "//" */
  char **methods;  /* upper-case methods, NULL-terminated; NULL = any */
  size_t nmethods; /* entries in methods */
  char *host;      /* lower-case host name without port; NULL = any */
};

/* One environment variable given to a service. */
struct cfg_env_var {
  char *name;  /* non-empty, no '=' */
  char *value; /* expanded */
};

/* What tells a ready instance is healthy, besides its pongs (SPEC §12). */
enum cfg_health_kind {
  CFG_HEALTH_NONE = 0, /* pongs only */
  CFG_HEALTH_HTTP,     /* GET path on 127.0.0.1:PORT, 2xx = healthy */
  CFG_HEALTH_COMMAND   /* run command, exit 0 = healthy */
};

struct cfg_health {
  enum cfg_health_kind kind;
  char *path;      /* http: the path (and query) to GET, starts with '/' */
  char **command;  /* command: argv, NULL-terminated; [0] is absolute */
  size_t ncommand; /* entries in command */
};

/* Whom the instances run as (user, group). */
struct cfg_identity {
  char *user;  /* user name as configured, NULL: muster's own */
  char *group; /* group name as configured, NULL: the user's primary */
  int set_uid; /* 1: setuid(uid) in the child (user given) */
  int set_gid; /* 1: setgid(gid) and the groups (user or group given) */
  uid_t uid;   /* resolved when the config is read */
  gid_t gid;   /* the group's, or the user's primary group */
  char *login; /* the user's name from passwd (USER, LOGNAME), or NULL */
  char *home;  /* the user's home directory (HOME), or NULL */
};

/* services[].limits: XX(ENUM, "key") for the resource limits a service
 * may set, as systemd's LimitNOFILE= and the others (sup_exec applies
 * them; their RLIMIT_ numbers are its). */
#define CFG_LIMITS_MAP(XX)                                                                         \
  XX(NOFILE, "nofile")                                                                             \
  XX(NPROC, "nproc")                                                                               \
  XX(CORE, "core")                                                                                 \
  XX(MEMLOCK, "memlock")                                                                           \
  XX(STACK, "stack")

enum cfg_limit {
#define XX(e, k) CFG_LIMIT_##e,
  CFG_LIMITS_MAP(XX)
#undef XX
      CFG_LIMIT__COUNT
};

#define CFG_LIMIT_INFINITY UINT64_MAX /* "infinity" */

/* The config key of limit i ("nofile"). */
const char *cfg_limit_name(enum cfg_limit i);

/* How an instance's process is set up before it runs, besides its user:
 * services[].umask, nice and limits (cfg_proc.c). */
struct cfg_proc {
  int umask;                        /* 0..0777, or -1: muster's own */
  int nice_set;                     /* nice was given */
  int nice;                         /* -20..19 */
  int limit_set[CFG_LIMIT__COUNT];  /* limits.KEY was given */
  uint64_t limit[CFG_LIMIT__COUNT]; /* soft and hard both; CFG_LIMIT_INFINITY */
};

/* 1 when p changes anything. */
static inline int cfg_proc_any(const struct cfg_proc *p) {
  int any = p->umask >= 0 || p->nice_set;
  for (int i = 0; i < CFG_LIMIT__COUNT; i++)
    any |= p->limit_set[i];
  return any;
}

/* How muster knows an instance is ready: an upstream's by upstream.ready
 * (SPEC §9, "port", "message" or "notify"), any other service's by
 * services[].ready ("message", "running", "exited" or "notify"). */
enum cfg_ready {
  CFG_READY_PORT = 0, /* its port (or socket) accepts connections */
  CFG_READY_MESSAGE,  /* it speaks IPC and sends `ready` */
  CFG_READY_RUNNING,  /* it runs: a worker with no channel and no port */
  CFG_READY_EXITED,   /* it exited cleanly: a one-shot job, no channel */
  CFG_READY_NOTIFY    /* it sent READY=1 to its NOTIFY_SOCKET (sd_notify), no channel */
};

/* upstream.balance: which ready instance gets a request or a tunnel. */
enum cfg_balance {
  CFG_BALANCE_LEAST = 0, /* "least_inflight": the fewest in flight (SPEC §4) */
  CFG_BALANCE_IP_HASH    /* "ip_hash": one per client address while it is ready */
};

/* services[].upstream: the program serves HTTP (or TCP) for itself on a
 * port or a Unix socket of its own, and muster proxies to it (SPEC §9). */
struct cfg_upstream {
  int enabled;              /* 0: an IPC service (no "upstream" key) */
  int port;                 /* instance i listens on port + i; 0 with unix */
  char *unix_path;          /* absolute; instance i listens on "PATH.i"; or NULL */
  enum cfg_ready ready;     /* "port" (default), "message" or "notify" */
  int connect_timeout_ms;   /* connecting to an instance: longer is a failure */
  int idle_timeout_ms;      /* an idle pooled connection is closed after this */
  int keepalive;            /* idle connections kept per instance; 0 = none */
  enum cfg_balance balance; /* "least_inflight" (default) or "ip_hash" */
};

/* services[].watch: restart the service when its files change (PM2's
 * watch, for development). */
struct cfg_watch {
  char **paths;   /* absolute files and directories, NULL-terminated; NULL: no watch */
  size_t npaths;  /* entries in paths */
  char **ignore;  /* fnmatch(3) patterns on each file and directory name */
  size_t nignore; /* entries in ignore */
  int delay_ms;   /* from the first change to the restart */
};

struct cfg_service {
  char *name;                   /* [A-Za-z0-9_.-]{1,64}, unique */
  char **command;               /* argv, NULL-terminated; [0] is absolute */
  size_t ncommand;              /* >= 1 */
  int instances;                /* instances to run */
  int instances_max;            /* 1 when written "max": one per CPU of muster's affinity */
  struct cfg_route *routes;     /* in config order */
  size_t nroutes;               /* entries in routes (may be 0) */
  struct cfg_env_var *env;      /* in config order */
  size_t nenv;                  /* entries in env */
  char *cwd;                    /* absolute working directory */
  struct cfg_restart restart;   /* restart policy and backoff */
  enum cfg_ready ready;         /* "message" (default), "running", "exited", "notify" */
  int no_autostart;             /* "autostart": false: left stopped at start and when added */
  int ready_timeout_ms;         /* no "ready" within it: restart */
  int ready_after_ms;           /* ready "running": ready once still running this long */
  int heartbeat_ms;             /* ping period; 0 = no heartbeat */
  int heartbeat_misses;         /* pongs missed in a row before a kill */
  int watchdog_ms;              /* ready "notify": WATCHDOG=1 due this often; 0 = none */
  int stop_timeout_ms;          /* shutdown grace before SIGKILL */
  int max_inflight;             /* requests in flight per instance */
  int max_memory_mb;            /* RSS limit per instance; 0 = none */
  char **depends_on;            /* names of services started first; NULL-terminated or NULL */
  size_t ndepends;              /* entries in depends_on */
  struct cfg_identity as;       /* user and group of the instances */
  struct cfg_proc proc;         /* umask, nice, limits of the instances */
  int stop_signal;              /* sent to the main process at the SIGTERM step */
  uint8_t success_exit[32];     /* bit N set: exit code N is clean (default: only 0) */
  char *env_file;               /* absolute path of the env file, or NULL */
  int env_file_optional;        /* 1 when written with a leading '-': may be missing */
  struct cfg_health health;     /* the extra health check, if any */
  int ws_ack;                   /* ws.ack: WebSocket messages kept until acknowledged */
  struct cfg_upstream upstream; /* a program that serves for itself (SPEC §9) */
  struct cfg_watch watch;       /* restart on file changes, or none */
  char *cron_text;              /* cron_restart as written, or NULL */
  struct util_cron cron;        /* cron_restart parsed (valid with cron_text) */
};

/* tcp[]: a TCP listener spliced to the instances of an upstream service. */
struct cfg_tcp_route {
  struct cfg_listen listen; /* where clients connect */
  char *service;            /* the upstream service's name */
  int idle_timeout_ms;      /* no byte either way this long: both closed; 0 = never */
  int max_connections;      /* open client connections at most */
  int proxy_protocol;       /* each connection starts with a PROXY header */
  int send_proxy_protocol;  /* each connection to an instance starts with one (v1) */
};

/* A directory muster serves files from itself (top-level "static"):
 * GET and HEAD under route.prefix (on route.host) read files under root,
 * the prefix taken off (nginx's alias, express.static under a mount). */
struct cfg_static {
  struct cfg_route route; /* prefix and host; methods NULL (GET and HEAD) */
  char *root;             /* absolute directory (resolved against the config's) */
  char *index;            /* served for a directory's URL ending in '/'; NULL = none */
  char *fallback;         /* served (200) for what is not found, under root (an SPA); or NULL */
  int max_age_s;          /* cache-control: public, max-age=N */
  int dotfiles;           /* serve names starting with '.' (default: 404) */
  int precompressed;      /* serve NAME.br / NAME.gz to a client that accepts them */
};

/* How an instance of s gets ready: upstream.ready for an upstream,
 * services[].ready for the others. */
static inline enum cfg_ready cfg_ready_of(const struct cfg_service *s) {
  return s->upstream.enabled ? s->upstream.ready : s->ready;
}

/* 1 when exit code code (0..255) counts as clean for s. */
static inline int cfg_success_exit(const struct cfg_service *s, int code) {
  return code >= 0 && code <= 255 && (s->success_exit[code >> 3] >> (code & 7)) & 1;
}

/* One top-level hook (hooks.on_event): a command run for matching events. */
struct cfg_hook {
  char **events;   /* event types, NULL-terminated ("*": every event) */
  size_t nevents;  /* entries in events */
  char **command;  /* argv, NULL-terminated; [0] is absolute */
  size_t ncommand; /* >= 1 */
};

struct cfg {
  char *file;                   /* the config file, as given (messages) */
  char *dir;                    /* absolute directory paths resolve against */
  struct cfg_gateway gateway;   /* the public HTTP gateway */
  struct cfg_admin admin;       /* the admin endpoint (optional) */
  struct cfg_control control;   /* the control socket */
  struct cfg_logs logs;         /* service log files */
  struct cfg_realtime realtime; /* WebSocket, SSE, rooms */
  struct cfg_cluster cluster;   /* Redis fan-out between hosts */
  struct cfg_service *services; /* in config order */
  size_t nservices;             /* entries in services (may be 0) */
  struct cfg_hook *hooks;       /* hooks.on_event, in config order */
  size_t nhooks;                /* entries in hooks (may be 0) */
  struct cfg_tcp_route *tcp;    /* TCP routes (SPEC §9), in config order */
  size_t ntcp;                  /* entries in tcp (may be 0) */
  struct cfg_static *statics;   /* directories served as files, in config order */
  size_t nstatics;              /* entries in statics (may be 0) */
};

/* ---- Errors ---- */

/* The problems found, one message line each (no '\n'). Read them directly:
 * lines[0 .. count-1]. */
struct cfg_errors {
  char **lines; /* owned */
  size_t count; /* lines used */
  size_t cap;   /* lines allocated */
  int oom;      /* 1 once a message could not be stored */
};

void cfg_errors_init(struct cfg_errors *e);
void cfg_errors_free(struct cfg_errors *e);
/* Appends one printf-formatted message; control characters become '?'. */
void cfg_errors_add(struct cfg_errors *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Writes every message to f, one per line (plus "out of memory" if one was
 * lost). */
void cfg_errors_print(const struct cfg_errors *e, FILE *f);
/* Returns every message joined by sep, malloc'd (caller frees), or NULL on
 * out of memory. "" when there are none. For the control `reload` reply. */
char *cfg_errors_join(const struct cfg_errors *e, const char *sep);

/* ---- Loading ---- */

/* Returns the value of variable name, or NULL when it is not set. */
typedef const char *(*cfg_getenv_fn)(void *ctx, const char *name);

/* Everything cfg_parse() needs from the world, so tests can fake it. */
struct cfg_env {
  const char *file;     /* config file path, used in messages */
  const char *dir;      /* absolute directory relative paths resolve against */
  const char *bin_dir;  /* directory of the muster binary; NULL = skip */
  const char *path;     /* PATH for command lookup; NULL = skip */
  cfg_getenv_fn getenv; /* ${VAR} lookup; NULL = nothing is set */
  void *getenv_ctx;     /* passed to getenv */
  int ncpu;             /* CPUs muster may run on ("max"); 0 = sched_getaffinity */
  int fake_ids;         /* 1: muster runs as uid/gid below, not geteuid()/getegid() */
  uid_t uid;            /* with fake_ids */
  gid_t gid;            /* with fake_ids */
};

/* Parses and validates len bytes of JSON text. Returns 0 with *out set (free
 * it with cfg_free), or -1 with *out NULL and every problem appended to errs.
 * Only the command lookup and the cwd check touch the file system. */
int cfg_parse(const char *text, size_t len, const struct cfg_env *env, struct cfg **out,
              struct cfg_errors *errs);

/* Reads the file at path and parses it with the real environment (getenv,
 * $PATH); relative paths resolve against the file's directory. bin_dir is the
 * muster binary's directory (NULL to skip that lookup). Returns as
 * cfg_parse(). */
int cfg_load(const char *path, const char *bin_dir, struct cfg **out, struct cfg_errors *errs);

/* Frees c and everything it owns. NULL is fine. */
void cfg_free(struct cfg *c);

/* ---- Queries ---- */

/* Returns the service called name (borrowed from c), or NULL. */
const struct cfg_service *cfg_find_service(const struct cfg *c, const char *name);

/* The port upstream instance index of s listens on (s->upstream.port +
 * index), or 0 for a Unix socket or an IPC service. */
static inline int cfg_upstream_port(const struct cfg_service *s, int index) {
  return s->upstream.enabled && s->upstream.port ? s->upstream.port + index : 0;
}

/* Returns 1 when a and b configure the same thing (every field, in order),
 * else 0: a reload restarts exactly the services that differ. */
int cfg_service_equal(const struct cfg_service *a, const struct cfg_service *b);

/* ---- Building blocks (pure; exposed for tests and other modules) ---- */

/* Expands ${VAR} and ${VAR:-default} (default used when VAR is unset or
 * empty; it may itself hold ${...}); "$$" is a literal '$'; any other '$'
 * stays as it is. An unset ${VAR} without default is an error. Returns 0 with
 * *out malloc'd, or -1 with *out NULL and a reason in err ("undefined variable
 * \"X\"", "unterminated \"${\"", "out of memory"). */
int cfg_expand(const char *in, cfg_getenv_fn get_var, void *get_ctx, char **out, char *err,
               size_t errlen);

/* Parses a listen address (see struct cfg_listen) into l (l->host malloc'd).
 * Returns 0, or -1 with a reason in err and l untouched. */
int cfg_listen_parse(const char *s, struct cfg_listen *l, char *err, size_t errlen);

/* 1 when name is one of the variables muster sets for each instance
 * (MUSTER_CHANNEL_FD, ...), which env and env_file may not set. */
int cfg_env_reserved(const char *name);

/* Parses an environment file (services[].env_file), systemd's
 * EnvironmentFile= syntax: one NAME=value per line; blank lines and lines
 * starting with '#' or ';' are skipped; blanks around the name and before
 * the value go, and trailing ones of an unquoted value; a value may be in
 * '...' (kept as is) or "..." (\" \\ \` \$ escaped, any other backslash
 * kept), quotes may span lines; unquoted, a backslash keeps the next
 * character, and a backslash at the end of a line joins the next. A later
 * NAME wins. A line without '=', a name that is not
 * [A-Za-z_][A-Za-z0-9_]* ("export NAME=" included), an unterminated quote
 * or a NUL byte is an error. Returns 0 with *vars (malloc'd; free with
 * cfg_env_vars_free) and *n, or -1 with *line (from 1) and the reason. */
int cfg_envfile_parse(const char *text, size_t len, struct cfg_env_var **vars, size_t *n, int *line,
                      char *err, size_t errlen);

/* Reads and parses the file at path (at most 1 MiB). Returns 0, or
 * UV_ENOENT (missing) or UV_EINVAL with err "PATH: cannot read: why" or
 * "PATH:LINE: why". */
int cfg_envfile_read(const char *path, struct cfg_env_var **vars, size_t *n, char *err,
                     size_t errlen);
void cfg_env_vars_free(struct cfg_env_var *v, size_t n);

/* Returns path made absolute against dir (path itself when already absolute)
 * and cleaned lexically: no "//", no "." segment, no trailing '/' (".." is
 * kept: symlinks make it non-lexical). malloc'd; NULL on out of memory. */
char *cfg_path_resolve(const char *dir, const char *path);

/* Finds the program for argv[0] word: with a '/' it is resolved against dir;
 * without, it is looked up in bin_dir first, then in each absolute entry of
 * path_env (':'-separated). Returns 0 with *out the absolute path (malloc'd),
 * UV_ENOENT when not found, UV_EACCES when a path with '/' names something
 * that is not an executable file, UV_ENOMEM. */
int cfg_path_find_command(const char *word, const char *dir, const char *bin_dir,
                          const char *path_env, char **out);

#endif
