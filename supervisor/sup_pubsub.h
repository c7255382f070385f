/* sup_pubsub — topics between services (SPEC §3 subscribe / unsubscribe /
 * publish) on the host's one room index (rt_room): an instance's process
 * that subscribes is a member of the room, as WebSocket connections and
 * SSE holds of the gateway are. A subscription belongs to the process
 * that made it: the member lives in that process's run (struct sup_run),
 * so a restarted instance starts with none and a late line of an old
 * process never subscribes the new one. A publication is encoded once
 * per kind of receiver and the same bytes go to every member. */
#ifndef MUSTER_SUP_PUBSUB_H
#define MUSTER_SUP_PUBSUB_H

#include <stddef.h>

#include "rt_room.h"

struct sup_host;
struct sup_instance;
struct sup_run;
struct ipc_msg;

/* Makes run's process a possible room member (at spawn). */
void sup_pubsub_run_init(struct sup_run *run);
/* Its process is gone: it leaves every room. */
void sup_pubsub_run_done(struct sup_host *h, struct sup_run *run);

/* A subscribe, unsubscribe or publish from inst's current process. */
void sup_pubsub_msg(struct sup_host *h, struct sup_instance *inst, const struct ipc_msg *m);

/* Publishes in room pub->room (from a service, or the operator: from is
 * "service[i]" or "control"), and emits a `message` event. Returns the
 * members reached, or a negative UV_* code. */
int sup_pubsub_publish(struct sup_host *h, struct rt_pub *pub, const char *service, int index);

#endif
