/* sup_pubsub — subscriptions per process, publication fan-out. See
 * sup_pubsub.h. */
#include "sup_pubsub.h"

#include <stdlib.h>
#include <string.h>

#include "ipc_msg.h"
#include "sup_host.h"
#include "sup_instance.h"
#include "sup_log.h"
#include "sup_service.h"
#include "util_vec.h"

int sup_topics_has(const struct sup_topics *t, const char *topic) {
  for (size_t i = 0; i < t->n; i++)
    if (strcmp(t->v[i], topic) == 0)
      return 1;
  return 0;
}

static void topics_add(struct sup_topics *t, const char *topic) {
  if (sup_topics_has(t, topic) || util_vec_reserve(&t->v, &t->cap, t->n + 1) != 0)
    return;
  if ((t->v[t->n] = strdup(topic)) != NULL)
    t->n++;
}

static void topics_remove(struct sup_topics *t, const char *topic) {
  for (size_t i = 0; i < t->n; i++) {
    if (strcmp(t->v[i], topic) == 0) {
      free(t->v[i]);
      t->v[i] = t->v[--t->n];
      return;
    }
  }
}

void sup_topics_free(struct sup_topics *t) {
  for (size_t i = 0; i < t->n; i++)
    free(t->v[i]);
  free(t->v);
  memset(t, 0, sizeof(*t));
}

/* Queues one `message` line to every process subscribed to m->topic. */
static void publish(struct sup_host *h, struct sup_instance *from, const struct ipc_msg *m) {
  char *data = cJSON_PrintUnformatted(m->data);
  struct ipc_buf b;
  if (data == NULL)
    return;
  ipc_buf_init(&b);
  ipc_enc_message(&b, m->topic, data, strlen(data));
  for (size_t s = 0; s < h->nsvcs && !b.oom; s++) {
    struct sup_service *svc = h->svcs[s];
    for (size_t i = 0; i < svc->ninst; i++) {
      struct sup_run *run = svc->inst[i]->run;
      if (run && sup_topics_has(&run->topics, m->topic))
        sup_instance_send(svc->inst[i], b.data, b.len);
    }
  }
  struct sup_event ev = {.type = "message", .service = from->svc->cfg->name,
                         .index = from->index, .pid = sup_instance_pid(from), .code = -1,
                         .detail = m->topic};
  sup_host_emit(h, &ev);
  ipc_buf_free(&b);
  free(data);
}

void sup_pubsub_msg(struct sup_host *h, struct sup_instance *inst, const struct ipc_msg *m) {
  struct sup_run *run = inst->run;
  if (m->type == IPC_T_PUBLISH)
    publish(h, inst, m);
  else if (run && m->type == IPC_T_SUBSCRIBE)
    topics_add(&run->topics, m->topic);
  else if (run && m->type == IPC_T_UNSUBSCRIBE)
    topics_remove(&run->topics, m->topic);
}
