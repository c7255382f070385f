/* sup_triggers — the restarts a service gives itself: when its files
 * change (services[].watch, sup_watch) and on a schedule
 * (services[].cron_restart, util_cron). Each is a rolling restart, as
 * `musterctl restart` gives, of a service that runs; a stopped one, or
 * one waiting for its dependencies, is left alone (logged). */
#ifndef MUSTER_SUP_TRIGGERS_H
#define MUSTER_SUP_TRIGGERS_H

struct sup_service;

/* Sets up what svc->cfg asks for (again after a reload changed it: what
 * was set up before goes). */
void sup_triggers_open(struct sup_service *svc);

/* Stops them (the service is being freed). */
void sup_triggers_close(struct sup_service *svc);

#endif
