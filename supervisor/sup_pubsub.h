/* sup_pubsub — topics between services (SPEC §3 subscribe / unsubscribe /
 * publish). A subscription belongs to the process that made it: it is
 * kept in that process's run (struct sup_run), so a restarted instance
 * starts with none and a late line of an old process never subscribes the
 * new one. A publication is encoded once and the same `message` line is
 * queued to every subscribed process. */
#ifndef MUSTER_SUP_PUBSUB_H
#define MUSTER_SUP_PUBSUB_H

#include <stddef.h>

struct sup_host;
struct sup_instance;
struct ipc_msg;

/* The topics one process subscribed to. */
struct sup_topics {
  char **v; /* owned strings */
  size_t n, cap;
};

/* 1 when topic is among t. */
int sup_topics_has(const struct sup_topics *t, const char *topic);
void sup_topics_free(struct sup_topics *t);

/* A subscribe, unsubscribe or publish from inst's current process. */
void sup_pubsub_msg(struct sup_host *h, struct sup_instance *inst, const struct ipc_msg *m);

#endif
