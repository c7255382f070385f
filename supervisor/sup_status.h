/* sup_status — the host's services and instances as the JSON of the
 * control `status` reply (docs/control.md), built only from sup_view and
 * /proc. Shared by the control server (`status`) and the admin listener
 * (`/status.json`, read by the status page), so both say the same.
 *
 * The reply is written as JSON text straight into a buffer: with 1,000
 * instances it is about 250 KB, and built as a cJSON tree (15 nodes and a
 * printf/sscanf round trip per number, per instance) it took longer than
 * reading the /proc figures of every instance. The cJSON forms below are
 * that text, parsed. Each instance's RSS and CPU are read from /proc as the
 * reply is written (sup_view_instance_sample). */
#ifndef MUSTER_SUP_STATUS_H
#define MUSTER_SUP_STATUS_H

#include <cjson/cJSON.h>

#include "ipc_buf.h"

struct sup_host;
struct sup_instance;
struct sup_service;

/* Appends the reply line (with its '\n') for every live service, or for
 * `one` only when it is not NULL (the hooks only in the first case). */
void sup_status_write(struct ipc_buf *b, struct sup_host *host, struct sup_service *one);

/* One instance of the reply: index, pid, state, restarts, uptime_ms,
 * rss_bytes, cpu_percent, inflight, requests, last_exit (and health_misses
 * with a health check). Owned by the caller; NULL on out of memory. */
cJSON *sup_status_instance(const struct sup_instance *inst);

/* One service of the reply: name, state, restarts, connections,
 * waiting_for and failed_dependencies (when any), its instances, then
 * what the host's hooks add (service_status: the gateway's "queued" and
 * "quarantined"). Owned by the caller; NULL on out of memory. */
cJSON *sup_status_service(const struct sup_service *svc);

/* The whole reply {"ok":true,"services":[...]} (and "hooks" when there are
 * hooks and one is NULL): every live service, or only `one` when it is not
 * NULL. Owned by the caller; NULL on out of memory. */
cJSON *sup_status_reply(const struct sup_host *host, const struct sup_service *one);

#endif
