/* gw_hdr — one header of a request or a response as offsets into the
 * buffer that holds its bytes (gw_req, gw_up_parse). */
#ifndef MUSTER_GW_HDR_H
#define MUSTER_GW_HDR_H

#include <stdint.h>

struct gw_hdr {
  uint32_t name; /* offset of the name (lower-case once the head is complete) */
  uint32_t nlen;
  uint32_t value; /* offset of the value */
  uint32_t vlen;
};

/* Drops the spaces and tabs that end h's value in buf: they are the
 * line's optional whitespace, not the value (RFC 9110 §5.5); llhttp hands
 * them on. Called once the value is complete. */
static inline void gw_hdr_trim(const char *buf, struct gw_hdr *h) {
  while (h->vlen > 0 && (buf[h->value + h->vlen - 1] == ' ' || buf[h->value + h->vlen - 1] == '\t'))
    h->vlen--;
}

#endif
