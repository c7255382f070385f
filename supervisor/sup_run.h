/* sup_run — spawning one process of an instance and closing its handles
 * (struct sup_run is in sup_instance.h). */
#ifndef MUSTER_SUP_RUN_H
#define MUSTER_SUP_RUN_H

#include <uv.h>

#include "ipc_channel.h"
#include "sup_instance.h"

/* Spawns inst's command as the process of run (zeroed, registered with
 * the host): fd 3 is a channel with chcbs (run as its data), stdout and
 * stderr go to the service's log, on_exit is called once the process is
 * reaped (sup_child.h: its own process group, muster's session).
 * Returns 0, or a negative libuv error, after which every handle of run
 * is closing and run frees itself. run->inst is left to the caller. */
int sup_run_spawn(struct sup_run *run, struct sup_instance *inst,
                  const struct ipc_channel_cbs *chcbs, sup_run_exit_cb on_exit);

/* The process is gone (from on_exit): closes the channel (the captures
 * close at their EOF). */
void sup_run_release(struct sup_run *run);

#endif
