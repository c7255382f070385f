/* sup_status — the `status` reply as JSON. See sup_status.h. */
#include "sup_status.h"

#include "sup_host.h"
#include "sup_proc.h"
#include "sup_view.h"

cJSON *sup_status_instance(const struct sup_instance *inst) {
  struct sup_instance_info ii;
  cJSON *o = cJSON_CreateObject();
  sup_view_instance_info(inst, &ii);
  cJSON_AddNumberToObject(o, "index", ii.index);
  cJSON_AddNumberToObject(o, "pid", ii.pid);
  cJSON_AddStringToObject(o, "state", ii.state_name);
  cJSON_AddNumberToObject(o, "restarts", ii.restarts);
  cJSON_AddNumberToObject(o, "uptime_ms", (double)ii.uptime_ms);
  cJSON_AddNumberToObject(o, "rss_bytes", ii.pid ? (double)sup_proc_rss(ii.pid) : 0);
  /* Over the last second (the memory watch's reading), one decimal. */
  cJSON_AddNumberToObject(o, "cpu_percent", (double)(long long)(ii.cpu_percent * 10 + 0.5) / 10);
  cJSON_AddNumberToObject(o, "inflight", ii.inflight);
  cJSON_AddNumberToObject(o, "requests", (double)ii.requests);
  if (ii.last_code == -1 && ii.last_signal == 0) {
    cJSON_AddNullToObject(o, "last_exit");
  } else {
    cJSON *e = cJSON_AddObjectToObject(o, "last_exit");
    cJSON_AddNumberToObject(e, "code", ii.last_code);
    cJSON_AddNumberToObject(e, "signal", ii.last_signal);
  }
  return o;
}

cJSON *sup_status_service(const struct sup_service *svc) {
  struct sup_service_info si;
  struct sup_instance *inst;
  cJSON *o = cJSON_CreateObject();
  sup_view_service_info(svc, &si);
  cJSON_AddStringToObject(o, "name", si.name);
  cJSON_AddStringToObject(o, "state", si.state_name);
  cJSON_AddNumberToObject(o, "restarts", (double)si.restarts);
  cJSON *a = cJSON_AddArrayToObject(o, "instances");
  for (size_t i = 0; (inst = sup_view_instance(svc, i)) != NULL; i++)
    cJSON_AddItemToArray(a, sup_status_instance(inst));
  sup_host_service_status(svc->host, svc, o); /* the gateway's: queued, quarantined */
  return o;
}

cJSON *sup_status_reply(const struct sup_host *host, const struct sup_service *one) {
  struct sup_service *svc;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddTrueToObject(o, "ok");
  cJSON *a = cJSON_AddArrayToObject(o, "services");
  for (size_t s = 0; (svc = sup_view_service(host, s)) != NULL; s++)
    if (one == NULL || svc == one)
      cJSON_AddItemToArray(a, sup_status_service(svc));
  return o;
}
