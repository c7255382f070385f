/* ctl_status — the `status` reply (docs/control.md#status), written as
 * JSON text straight into a buffer.
 *
 * With 1,000 instances the reply is about 250 KB: built as a cJSON tree
 * (15 nodes and a printf/sscanf round trip per number, per instance) it
 * took longer than reading the /proc figures of every instance, so it is
 * written directly (ipc_buf, ipc_json_str) like the IPC messages are. */
#ifndef MUSTER_CTL_STATUS_H
#define MUSTER_CTL_STATUS_H

#include "ipc_buf.h"

struct sup_host;
struct sup_service;

/* Appends the reply line (with its '\n') for every live service, or for
 * one only when one is not NULL. Reads each instance's /proc figures. */
void ctl_status_encode(struct ipc_buf *b, struct sup_host *h, struct sup_service *one);

#endif
