/* sup_status — the host's services and instances as the JSON of the
 * control `status` reply (docs/control.md), built only from sup_view and
 * /proc. Shared by the control server (`status`) and the admin listener
 * (`/status.json`, read by the status page), so both say the same. */
#ifndef MUSTER_SUP_STATUS_H
#define MUSTER_SUP_STATUS_H

#include <cjson/cJSON.h>

struct sup_host;
struct sup_instance;
struct sup_service;

/* One instance of the reply: index, pid, state, restarts, uptime_ms,
 * rss_bytes, cpu_percent, inflight, requests, last_exit. Owned by the
 * caller; NULL on out of memory. */
cJSON *sup_status_instance(const struct sup_instance *inst);

/* One service of the reply: name, state, restarts and its instances,
 * then what the host's hooks add (service_status: the gateway's "queued"
 * and "quarantined"). Owned by the caller; NULL on out of memory. */
cJSON *sup_status_service(const struct sup_service *svc);

/* The whole reply {"ok":true,"services":[...]}: every live service, or
 * only `one` when it is not NULL. Owned by the caller; NULL on out of
 * memory (a tree missing parts may also come back then). */
cJSON *sup_status_reply(const struct sup_host *host, const struct sup_service *one);

#endif
