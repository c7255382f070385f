/* sup_pubsub — subscriptions per process on the room index, publications.
 * See sup_pubsub.h. */
#include "sup_pubsub.h"

#include <stdlib.h>
#include <string.h>

#include "ipc_msg.h"
#include "sup_host.h"
#include "sup_instance.h"
#include "sup_log.h"
#include "sup_proc.h"
#include "sup_service.h"

/* A publication reaches a subscribed process: one `message` line. */
static void deliver(struct rt_member *m, struct rt_room *r, struct rt_pub *pub) {
  struct sup_run *run = (struct sup_run *)((char *)m - offsetof(struct sup_run, member));
  struct rt_buf *line = rt_pub_ipc(pub);
  if (line && run->inst)
    sup_instance_send(run->inst, line->data, line->len);
}

static const struct rt_member_ops run_member_ops = {.deliver = deliver};

void sup_pubsub_run_init(struct sup_run *run) {
  run->member = (struct rt_member){.ops = &run_member_ops};
}

void sup_pubsub_run_done(struct sup_host *h, struct sup_run *run) {
  rt_member_leave_all(&h->rooms, &run->member);
  rt_member_free(&run->member);
}

int sup_pubsub_publish(struct sup_host *h, struct rt_pub *pub, const char *service, int index) {
  int n = h->cluster.publish ? h->cluster.publish(h->cluster.node, pub)
                             : rt_rooms_publish(&h->rooms, pub, sup_now_ms());
  struct sup_event ev = {
      .type = "message", .service = service, .index = index, .code = -1, .detail = pub->room};
  sup_host_emit(h, &ev);
  return n;
}

/* A `publish` line as a publication: a string is sent as it is, any other
 * JSON value serialised once; data_base64 is binary. */
static void publish_msg(struct sup_host *h, struct sup_instance *inst, const struct ipc_msg *m) {
  char *json = m->binary || m->json_raw ? NULL : cJSON_PrintUnformatted(m->data);
  struct rt_pub pub = {
      .room = m->topic, .binary = m->binary, .event = m->event, .except = m->except};
  if (m->binary) {
    pub.text = m->body;
    pub.text_len = m->body_len;
  } else if (m->json_raw) { /* it holds a U+0000 (ipc_msg.c: data_with_nul) */
    pub.json = m->json_raw;
    pub.json_len = m->json_len;
    pub.text = m->body ? m->body : m->json_raw;
    pub.text_len = m->body ? m->body_len : m->json_len;
  } else if (json == NULL) {
    sup_log(SUP_WARN, "%s: out of memory publishing to \"%s\"", inst->label, m->topic);
    return;
  } else {
    pub.json = json;
    pub.json_len = strlen(json);
    pub.text = cJSON_IsString(m->data) ? m->data->valuestring : json;
    pub.text_len = strlen(pub.text);
  }
  if (sup_pubsub_publish(h, &pub, inst->svc->cfg->name, inst->index) < 0)
    sup_log(SUP_WARN, "%s: out of memory publishing to \"%s\"", inst->label, m->topic);
  free(json);
}

void sup_pubsub_msg(struct sup_host *h, struct sup_instance *inst, const struct ipc_msg *m) {
  struct sup_run *run = inst->run;
  if (m->type == IPC_T_PUBLISH)
    publish_msg(h, inst, m);
  else if (run && m->type == IPC_T_SUBSCRIBE && rt_room_join(&h->rooms, m->topic, &run->member))
    sup_log(SUP_WARN, "%s: out of memory subscribing to \"%s\"", inst->label, m->topic);
  else if (run && m->type == IPC_T_UNSUBSCRIBE)
    rt_room_leave(&h->rooms, m->topic, &run->member);
}
