/* gw_realip — the client's address when muster sits behind proxies it
 * trusts (gateway.trusted_proxies), as nginx's realip module with
 * real_ip_recursive on: x-forwarded-for is walked from its right end (the
 * hop nearest muster) for as long as the address that sent it is trusted;
 * the first address not trusted is the client. Pure.
 *
 * The request's headers are fed from the last x-forwarded-for to the
 * first, as each proxy appends to the end. An entry that is not an
 * address ("unknown", garbage) ends the walk at the hop before it: what a
 * trusted proxy vouched for is kept, what the client wrote is not. */
#ifndef MUSTER_GW_REALIP_H
#define MUSTER_GW_REALIP_H

#include <stddef.h>

#include "util_cidr.h"

struct gw_realip {
  const struct util_cidr *trusted; /* the blocks trusted (borrowed) */
  size_t ntrusted;
  struct util_ip ip;    /* the client as far as known; family 0: the peer's was not an address */
  unsigned peer_ok : 1; /* the connection's peer is trusted */
  unsigned done : 1;    /* ip is final: more headers change nothing */
};

/* Starts from the connection's peer address (text, as gw_peer_ip gives). */
void gw_realip_start(struct gw_realip *r, const struct util_cidr *trusted, size_t ntrusted,
                     const char *peer);

/* Walks one x-forwarded-for value (len bytes) from its right end. */
void gw_realip_feed(struct gw_realip *r, const char *v, size_t len);

/* Parses one list entry, without its surrounding blanks: an address,
 * "a.b.c.d:port", "[v6]" or "[v6]:port" (some proxies add the port).
 * Returns 0, or -1. */
int gw_realip_entry(const char *s, size_t n, struct util_ip *out);

#endif
