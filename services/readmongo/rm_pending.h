/* rm_pending — what req->data points to while a request is in flight in
 * readmongo: the first member of a job or a health waiter, so that the
 * service's on_cancel can hand the cancel to whichever owns the request. */
#ifndef MUSTER_RM_PENDING_H
#define MUSTER_RM_PENDING_H

struct rm_pending {
  /* The request was cancelled: drop it (never answer it again). Loop thread. */
  void (*cancel)(struct rm_pending *p);
};

#endif
