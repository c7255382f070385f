/* sup_sdsock — the NOTIFY_SOCKET of one process whose service gets ready
 * by sd_notify (services[].ready or upstream.ready "notify"): a Unix
 * datagram socket in the abstract namespace, its name picked by the
 * kernel (autobind), given to the program as NOTIFY_SOCKET="@NAME" as
 * systemd gives its own. Each process gets a socket of its own, so a
 * message always names its sender's instance, and a leftover of an
 * earlier process cannot make a new one ready.
 *
 * Each datagram (at most 4096 bytes, as systemd reads them) is parsed by
 * sup_sdmsg and handed to on_msg, if its sender runs as the instance's
 * user or as root: the kernel attaches the sender's credentials
 * (SO_PASSCRED), so the check holds even for a sender that has exited
 * since, as `systemd-notify` does at once. File descriptors sent along
 * (FDSTORE=1) are closed. Refused datagrams are logged, the first five
 * of each process. */
#ifndef MUSTER_SUP_SDSOCK_H
#define MUSTER_SUP_SDSOCK_H

#include <sys/types.h>
#include <uv.h>

#include "sup_sdmsg.h"

struct sup_sdsock;
typedef void (*sup_sdsock_msg_cb)(struct sup_sdsock *s, const struct sup_sdmsg *m);
typedef void (*sup_sdsock_closed_cb)(struct sup_sdsock *s);

struct sup_sdsock {
  uv_poll_t poll;
  int fd;
  uid_t uid;                /* whose messages count (and root's) */
  sup_sdsock_msg_cb on_msg; /* a datagram parsed */
  sup_sdsock_closed_cb on_closed;
  void *data;       /* the owner's */
  unsigned refused; /* datagrams refused so far */
  int closing;
  char name[16];                         /* NOTIFY_SOCKET's value: "@" and the kernel's name */
  char status[SUP_SDMSG_STATUS_MAX + 1]; /* the last STATUS= (sup_sdmsg_status), or "" */
  char label[80];                        /* "web[0]" for messages */
};

/* Opens a socket into s (zeroed; data and the callbacks set) for the
 * process of label that will run as uid, and starts reading it. Returns
 * 0, or a negative libuv error (logged) with nothing to close. */
int sup_sdsock_open(struct sup_sdsock *s, uv_loop_t *loop, const char *label, uid_t uid);

/* Stops reading and closes; on_closed follows (in a later loop turn).
 * Calling it again does nothing. */
void sup_sdsock_close(struct sup_sdsock *s);

#endif
