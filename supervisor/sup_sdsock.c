/* sup_sdsock — a process's NOTIFY_SOCKET. See sup_sdsock.h. */
#include "sup_sdsock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sup_log.h"

#define SD_DGRAM_MAX 4096 /* systemd's NOTIFY_BUFFER_MAX: longer is refused */
#define SD_PER_WAKE 64    /* datagrams read per readable event, so one flood cannot hold the loop */
#define SD_FDS_MAX 253    /* SCM_MAX_FD: the most descriptors one datagram may carry */
#define SD_LOGGED 5       /* refusals logged per process */

/* Binds fd to a fresh abstract name (autobind) and writes "@NAME" into
 * s->name. Returns 0 or -errno. */
static int bind_auto(struct sup_sdsock *s) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  socklen_t len = sizeof(sa);
  int on = 1;
  if (setsockopt(s->fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) != 0 ||
      bind(s->fd, (struct sockaddr *)&sa, sizeof(sa_family_t)) != 0 ||
      getsockname(s->fd, (struct sockaddr *)&sa, &len) != 0)
    return -errno;
  size_t n = len - offsetof(struct sockaddr_un, sun_path); /* "\0" and 5 hex digits */
  if (n < 2 || n > sizeof(s->name) - 1)
    return -EINVAL;
  s->name[0] = '@';
  memcpy(s->name + 1, sa.sun_path + 1, n - 1);
  s->name[n] = '\0';
  return 0;
}

static void refuse(struct sup_sdsock *s, const char *why) {
  if (++s->refused <= SD_LOGGED)
    sup_log(SUP_WARN, "%s: NOTIFY_SOCKET message refused: %s%s", s->label, why,
            s->refused == SD_LOGGED ? " (no more of these are logged for this process)" : "");
}

/* The sender's uid from the control messages, closing any descriptors
 * sent along. Returns 0 with *uid, or -1 when the kernel attached none. */
static int read_cmsgs(struct msghdr *mh, uid_t *uid) {
  int found = -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
    if (c->cmsg_level != SOL_SOCKET)
      continue;
    if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
      struct ucred cr;
      memcpy(&cr, CMSG_DATA(c), sizeof(cr));
      *uid = cr.uid;
      found = 0;
    } else if (c->cmsg_type == SCM_RIGHTS) {
      size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < n; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
        close(fd);
      }
    }
  }
  return found;
}

/* One datagram of n bytes in buf, with its header mh. */
static void on_datagram(struct sup_sdsock *s, struct msghdr *mh, const char *buf, ssize_t n) {
  struct sup_sdmsg m;
  char why[96];
  uid_t uid = (uid_t)-1;
  int creds = read_cmsgs(mh, &uid);
  if (mh->msg_flags & MSG_TRUNC) {
    refuse(s, "longer than 4096 bytes");
  } else if (creds != 0 || (uid != s->uid && uid != 0)) {
    snprintf(why, sizeof(why), "sent by uid %ld, not the instance's (%ld) nor root", (long)uid,
             (long)s->uid);
    refuse(s, creds != 0 ? "the kernel attached no credentials" : why);
  } else if (sup_sdmsg_parse(&m, buf, (size_t)n, why, sizeof(why)) != 0) {
    refuse(s, why);
  } else {
    if (m.status != NULL)
      sup_sdmsg_status(m.status, m.status_len, s->status, sizeof(s->status));
    s->on_msg(s, &m);
  }
}

static void on_readable(uv_poll_t *p, int status, int events) {
  struct sup_sdsock *s = p->data;
  char buf[SD_DGRAM_MAX];
  union {
    struct cmsghdr align;
    char b[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(SD_FDS_MAX * sizeof(int))];
  } ctl;
  for (int i = 0; i < SD_PER_WAKE && !s->closing; i++) {
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b)};
    ssize_t n = recvmsg(s->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        sup_log(SUP_WARN, "%s: reading NOTIFY_SOCKET failed: %s", s->label, strerror(errno));
      return;
    }
    on_datagram(s, &mh, buf, n);
  }
}

int sup_sdsock_open(struct sup_sdsock *s, uv_loop_t *loop, const char *label, uid_t uid) {
  int rc;
  snprintf(s->label, sizeof(s->label), "%s", label);
  s->uid = uid;
  s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->fd < 0)
    rc = -errno;
  else if ((rc = bind_auto(s)) == 0 && (rc = uv_poll_init(loop, &s->poll, s->fd)) == 0) {
    s->poll.data = s;
    uv_poll_start(&s->poll, UV_READABLE, on_readable);
    return 0;
  }
  if (s->fd >= 0)
    close(s->fd);
  sup_log(SUP_ERROR, "%s: cannot open its NOTIFY_SOCKET: %s", label, strerror(-rc));
  return rc;
}

static void on_poll_closed(uv_handle_t *h) {
  struct sup_sdsock *s = h->data;
  close(s->fd);
  s->on_closed(s);
}

void sup_sdsock_close(struct sup_sdsock *s) {
  if (s->closing)
    return;
  s->closing = 1;
  uv_close((uv_handle_t *)&s->poll, on_poll_closed);
}
