/* sup_health — one health check of a ready instance (services[].health):
 * an HTTP GET to 127.0.0.1:PORT, or a command run as a child of its own.
 *
 * The instance starts one check per heartbeat (sup_instance_beat); a check
 * still running at the next beat has failed ("no answer within N ms") and
 * is cancelled there: the beat is its timeout, so a check needs no timer.
 * Nothing blocks: the connection and the child are libuv handles. A check
 * is detached from its instance when it is cancelled or the instance goes,
 * and frees itself once its handles are closed; a cancelled command gets
 * SIGKILL (to its process group), and whatever it left in its group gets
 * SIGKILL when it exits. */
#ifndef MUSTER_SUP_HEALTH_H
#define MUSTER_SUP_HEALTH_H

#include <stddef.h>

struct sup_instance;
struct sup_hcheck;

/* Starts a check of inst (ready, with a run). The result comes later
 * through sup_instance_health_done(). Returns the check, or NULL with why
 * the check could not start in why (a failure to count now). */
struct sup_hcheck *sup_health_start(struct sup_instance *inst, char *why, size_t whylen);

/* Detaches c from its instance and stops it (closes the connection, kills
 * the command); no result will be delivered. */
void sup_health_cancel(struct sup_hcheck *c);

/* Reads the status of an HTTP response head from its first bytes:
 * "HTTP/1.1 204 No Content\r\n". Returns 1 with *status once the status
 * line is complete, 0 when more bytes are needed, -1 when it is not an
 * HTTP/1.x status line. Pure. */
int sup_health_status_line(const char *buf, size_t len, int *status);

#endif
