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

#endif
