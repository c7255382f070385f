/* gw_gzip — gateway.compression: answers gzipped on the fly with zlib,
 * between the handlers and the protocol's framing (gw_req_respond /
 * start / send / finish go through here). gw_encode decides and makes the
 * head; the framing then sees a stream of unknown length (chunked on
 * HTTP/1.1) or, for a whole answer, the compressed body.
 *
 * A stream keeps a deflate state (about 256 KiB) until it ends; each
 * piece is flushed (Z_SYNC_FLUSH) so what the handler sends reaches the
 * client at once, as it would uncompressed. At most GW_GZIP_STREAMS
 * streams are compressed at once; past that answers go as they are.
 * Backpressure is the framing's, on the compressed bytes. Up to IDLE_MAX
 * states are kept between answers (deflateReset), freed with the gateway. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gw.h"
#include "gw_encode.h"
#include "sup_log.h"

#define GW_GZIP_STREAMS 256 /* deflate states at once, each gateway */
#define OUT_CHUNK 16384

#define IDLE_MAX 16 /* deflate states kept for the next answers, each gateway */

struct gw_gzip {
  z_stream z;
  int level; /* the level it was made with */
  char out[OUT_CHUNK];
};

/* 1 when req's answer (status, h, clen) is to be compressed. */
static int wanted(struct gw_req *req, int status, const struct ipc_header *h, size_t nh,
                  int64_t clen) {
  struct gw_server *srv = req->srv;
  if (!srv->edge || !srv->cfg->compression.enabled)
    return 0;
  uint32_t n = 0;
  const char *accept = gw_req_header(req, "accept-encoding", &n);
  struct gw_encode_in in = {accept, n, req->is_head, status, clen, h, nh};
  return gw_encode_wanted(&srv->cfg->compression, &in);
}

/* A deflate state at the config's level: one kept from an earlier answer
 * (deflateReset: its 256 KiB are not allocated and faulted in again for
 * every answer), or a new one (windowBits 15 + 16: a gzip wrapper). */
static struct gw_gzip *take(struct gw_server *srv) {
  int level = srv->cfg->compression.level;
  while (srv->gzip_nidle > 0) {
    struct gw_gzip *g = srv->gzip_idle[--srv->gzip_nidle];
    if (g->level == level)
      return g;
    deflateEnd(&g->z); /* a reload changed the level */
    free(g);
  }
  struct gw_gzip *g = malloc(sizeof(*g));
  if (g == NULL)
    return NULL;
  memset(&g->z, 0, sizeof(g->z));
  g->level = level;
  if (deflateInit2(&g->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    free(g);
    return NULL;
  }
  return g;
}

/* Gives g back: kept for the next answer, or freed. */
static void give(struct gw_server *srv, struct gw_gzip *g) {
  if (srv->gzip_nidle < IDLE_MAX && deflateReset(&g->z) == Z_OK) {
    srv->gzip_idle[srv->gzip_nidle++] = g;
    return;
  }
  deflateEnd(&g->z);
  free(g);
}

void gw_gzip_free_idle(struct gw_server *srv) {
  while (srv->gzip_nidle > 0) {
    struct gw_gzip *g = srv->gzip_idle[--srv->gzip_nidle];
    deflateEnd(&g->z);
    free(g);
  }
}

int gw_gzip_respond(struct gw_req *req, int status, const struct ipc_header *h, size_t nh,
                    const char *body, size_t len) {
  if (!wanted(req, status, h, nh, (int64_t)len))
    return 0;
  struct ipc_header *out = malloc((nh + GW_ENCODE_HEAD_EXTRA) * sizeof(*out));
  uLong bound = deflateBound(NULL, (uLong)len) + 32;
  char *zbuf = out ? malloc(bound) : NULL, vals[512];
  struct gw_gzip *g = zbuf ? take(req->srv) : NULL;
  if (g == NULL) {
    free(out);
    free(zbuf);
    return 0; /* out of memory: as it is */
  }
  g->z.next_in = (Bytef *)body;
  g->z.avail_in = (uInt)len;
  g->z.next_out = (Bytef *)zbuf;
  g->z.avail_out = (uInt)bound;
  int rc = deflate(&g->z, Z_FINISH);
  size_t zlen = bound - g->z.avail_out;
  give(req->srv, g);
  if (rc == Z_STREAM_END) {
    size_t k = gw_encode_head(h, nh, out, vals, sizeof(vals));
    req->out->respond(req, status, out, k, zbuf, zlen);
  }
  free(out);
  free(zbuf);
  return rc == Z_STREAM_END;
}

int gw_gzip_start(struct gw_req *req, int status, const struct ipc_header *h, size_t nh,
                  int64_t clen) {
  struct gw_server *srv = req->srv;
  if (srv->gzip_streams >= GW_GZIP_STREAMS || !wanted(req, status, h, nh, clen))
    return 0;
  struct ipc_header *out = malloc((nh + GW_ENCODE_HEAD_EXTRA) * sizeof(*out));
  struct gw_gzip *g = out ? take(srv) : NULL;
  char vals[512];
  if (g == NULL) {
    free(out);
    return 0;
  }
  srv->gzip_streams++;
  req->z = g;
  size_t k = gw_encode_head(h, nh, out, vals, sizeof(vals));
  req->out->start(req, status, out, k, -1);
  free(out);
  return 1;
}

/* Compresses data (flush: Z_SYNC_FLUSH or Z_FINISH) and sends what comes
 * out. 0, or -1 when the request ended meanwhile (a write that failed). */
static int pump(struct gw_req *req, const char *data, size_t len, int flush) {
  struct gw_gzip *g = req->z;
  g->z.next_in = (Bytef *)data;
  g->z.avail_in = (uInt)len;
  do {
    g->z.next_out = (Bytef *)g->out;
    g->z.avail_out = OUT_CHUNK;
    int rc = deflate(&g->z, flush);
    size_t n = OUT_CHUNK - g->z.avail_out;
    if (rc == Z_STREAM_ERROR)
      return -1;
    if (n > 0) {
      req->out->send(req, g->out, n);
      if (req->z != g)
        return -1; /* the connection closed under the send: released */
    }
  } while (g->z.avail_out == 0);
  return 0;
}

/* zlib refused (it cannot, with a state it made): the answer is cut. */
static void broken(struct gw_req *req) {
  sup_log(SUP_ERROR, "gateway: gzip failed mid-answer; cutting it");
  gw_gzip_release(req);
  req->keepalive = 0;
  req->out->abort(req, 0);
}

void gw_gzip_send(struct gw_req *req, const char *data, size_t len) {
  struct gw_gzip *g = req->z;
  if (len > 0 && pump(req, data, len, Z_SYNC_FLUSH) != 0 && req->z == g)
    broken(req);
}

void gw_gzip_finish(struct gw_req *req) {
  struct gw_gzip *g = req->z;
  if (pump(req, NULL, 0, Z_FINISH) != 0) {
    if (req->z == g)
      broken(req); /* else the connection closed under a send */
    return;
  }
  gw_gzip_release(req);
  req->out->finish(req);
}

void gw_gzip_release(struct gw_req *req) {
  struct gw_gzip *g = req->z;
  if (g == NULL)
    return;
  req->z = NULL;
  give(req->srv, g);
  req->srv->gzip_streams--;
}
