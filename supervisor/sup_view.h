/* sup_view — what the gateway and the control server may read of the
 * host: a small read-only API instead of reaching into the supervisor's
 * structs. Services are listed in config order; a service a reload
 * removed is no longer listed (it is still stopping). Everything returned
 * is borrowed and valid until the next loop turn. */
#ifndef MUSTER_SUP_VIEW_H
#define MUSTER_SUP_VIEW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cfg.h"
#include "sup_evhook.h"
#include "sup_instance.h"
#include "sup_service.h"

struct sup_host;

/* A service as `status`, health and metrics show it. */
struct sup_service_info {
  const char *name;
  enum sup_sstate state;
  const char *state_name; /* "running", ... */
  uint64_t restarts;      /* restarts since muster started */
  size_t instances;       /* instances listed (leaving ones included) */
  size_t target;          /* instances it should have (config, or the last scale) */
  int completed;          /* a one-shot job that ran to a clean exit (sup_service_completed) */
  size_t ready;           /* of those, how many take requests */
  unsigned inflight;      /* requests in flight over all of them */
  size_t connections;     /* WebSocket and SSE clients muster holds for it */
  int64_t cron_next;      /* cron_restart: when it comes next (epoch s), or 0 */
};

/* An instance as `status` and metrics show it. */
struct sup_instance_info {
  int index;
  pid_t pid; /* 0 when no process */
  enum sup_istate state;
  const char *state_name; /* "ready", ... (SPEC §5 names) */
  unsigned restarts;
  uint64_t uptime_ms; /* since the spawn, 0 when no process */
  unsigned inflight;
  uint64_t requests;
  uint64_t rss_bytes; /* resident memory at the last reading; 0 when no process */
  double cpu_percent; /* over a second or more up to the last reading; 100 = one core */
  int last_code;      /* -1 and 0: no exit yet */
  int last_signal;
  int has_health;          /* the service has a health check */
  int health_misses;       /* its checks failed in a row */
  const char *status_text; /* ready "notify": the last STATUS= of its process, or NULL */
};

/* The live services: for (i = 0; (svc = sup_view_service(h, i)); i++). */
struct sup_service *sup_view_service(const struct sup_host *h, size_t i);
/* The live service called name, or NULL. */
struct sup_service *sup_view_find(const struct sup_host *h, const char *name);
void sup_view_service_info(const struct sup_service *svc, struct sup_service_info *out);
/* Up to max names (borrowed) of the services svc waits for before it
 * starts (depends_on; none unless it is waiting), and of its dependencies
 * that are in state failed. Each returns how many it wrote. */
size_t sup_view_waiting_for(const struct sup_host *h, const struct sup_service *svc,
                            const char **out, size_t max);
size_t sup_view_failed_dependencies(const struct sup_host *h, const struct sup_service *svc,
                                    const char **out, size_t max);
/* Its configuration (borrowed from the config in force). */
const struct cfg_service *sup_view_service_cfg(const struct sup_service *svc);

/* The instances of svc: for (i = 0; (inst = sup_view_instance(svc, i)); i++). */
struct sup_instance *sup_view_instance(const struct sup_service *svc, size_t i);
void sup_view_instance_info(const struct sup_instance *inst, struct sup_instance_info *out);
/* Reads the instance's RSS and CPU time from /proc now, for the info that
 * follows: what `status` shows. (Nothing reads /proc for every instance
 * in the background: only the services with max_memory_mb, each second.) */
void sup_view_instance_sample(struct sup_instance *inst);
/* Its label ("dummy[1]") for messages. */
const char *sup_view_label(const struct sup_instance *inst);
/* Its index (MUSTER_INSTANCE). */
int sup_view_index(const struct sup_instance *inst);
/* Requests in flight on it (the gateway's count). */
unsigned sup_view_inflight(const struct sup_instance *inst);
/* The service it belongs to. */
struct sup_service *sup_view_owner(const struct sup_instance *inst);
/* Where an upstream instance's current process listens (SPEC §9): *port
 * on 127.0.0.1 (on ::1 when *ipv6 is set: where its readiness probe found
 * it), or the Unix socket *path (borrowed; *port is then 0). Returns 0,
 * or UV_ENOENT when it has no process or is no upstream. */
int sup_view_upstream_addr(const struct sup_instance *inst, int *port, int *ipv6,
                           const char **path);
/* The same as text: "127.0.0.1:3000", "[::1]:3000" or "unix:PATH" into
 * buf (n bytes). Returns 0, or UV_ENOENT as sup_view_upstream_addr. */
int sup_view_upstream_text(const struct sup_instance *inst, char *buf, size_t n);

/* The event hooks (hooks.on_event), for `status`. */
size_t sup_view_hook_count(const struct sup_host *h);
void sup_view_hook_info(const struct sup_host *h, size_t i, struct sup_evhook_info *out);

/* The config in force (borrowed). */
const struct cfg *sup_view_cfg(const struct sup_host *h);
/* 1 while the host drains (/readyz fails). */
int sup_view_draining(const struct sup_host *h);

/* 1 once shutdown began. */
int sup_view_stopping(const struct sup_host *h);

#endif
