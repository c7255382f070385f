/* gw_pp — the PROXY protocol header a load balancer in front (HAProxy's
 * send-proxy / send-proxy-v2, AWS NLB, nginx's proxy_protocol) puts
 * before a connection's first byte to say whose connection it is:
 * version 1 (a text line) and version 2 (binary), as HAProxy's
 * proxy-protocol.txt defines them. Pure: bytes in, a verdict out. */
#ifndef MUSTER_GW_PP_H
#define MUSTER_GW_PP_H

#include <stddef.h>

#include "ipc_buf.h"
#include "util_cidr.h"

#define GW_PP_MORE 0     /* a header so far: more bytes are needed */
#define GW_PP_ERROR (-1) /* not a header (why says how) */
#define GW_PP_MAX 2064   /* the longest header taken: v2's 16 bytes + 2048 of addresses and TLVs */

struct gw_pp {
  int local;          /* no client named (v1 UNKNOWN, v2 LOCAL or not IP): the connection's own */
  struct util_ip src; /* else the client */
  int sport;          /* its port */
  struct util_ip dst; /* and where it connected to */
  int dport;
  char why[96]; /* GW_PP_ERROR: what is wrong */
};

/* Writes pp as a version 1 line (with its CRLF) into out, which holds
 * at least GW_PP_V1_MAX bytes; "PROXY UNKNOWN\r\n" for a local one or
 * one whose two addresses are of different families. Returns its length. */
#define GW_PP_V1_MAX 108
int gw_pp_v1(const struct gw_pp *pp, char *out);

/* Parses the header at the start of p[0..n). Returns its length (> 0)
 * once whole, GW_PP_MORE while the bytes so far may still become one, or
 * GW_PP_ERROR. The bytes after the header are the connection's own. */
int gw_pp_parse(const char *p, size_t n, struct gw_pp *out);

/* A connection's first bytes, fed read by read: acc (empty at first)
 * keeps those of a header not whole yet. Returns how many of data's len
 * bytes end the header (> 0: out is set, acc emptied; the rest are the
 * connection's own), GW_PP_MORE (all kept in acc), or GW_PP_ERROR (why
 * in out, "out of memory" included). */
int gw_pp_feed(struct ipc_buf *acc, const char *data, size_t len, struct gw_pp *out);

#endif
