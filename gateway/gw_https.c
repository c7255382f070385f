/* gw_https — the HTTPS policy of a gateway with a TLS listener, as nginx's
 * `return 301 https://$host$request_uri` and `add_header
 * Strict-Transport-Security` are written, or Caddy does by default:
 *
 * - gateway.tls.redirect_http: a request that came over plain HTTP (not
 *   from a trusted proxy saying it served HTTPS) is answered 308 to the
 *   same host, path and query on https:// (the port: https_port, else
 *   the TLS listener's; left out when 443). The health paths (their
 *   handler comes first: load balancers probe over HTTP) and
 *   /.well-known/acme-challenge/ (an ACME HTTP-01 check must reach its
 *   token over plain HTTP) are not redirected. 308, not 301: a POST stays
 *   a POST.
 * - gateway.tls.hsts_max_age_s: the strict-transport-security value the
 *   protocols add to every answer given over HTTPS (srv->hsts; never over
 *   plain HTTP, RFC 6797 §7.2). */
#include <stdio.h>
#include <string.h>

#include "gw.h"

#define ACME "/.well-known/acme-challenge/"

void gw_https_configure(struct gw_server *srv) {
  const struct cfg_tls *t = &srv->cfg->tls;
  int n = 0;
  if (t->enabled && t->hsts_max_age_s > 0)
    n = snprintf(srv->hsts, sizeof(srv->hsts), "max-age=%d%s", t->hsts_max_age_s,
                 t->hsts_subdomains ? "; includeSubDomains" : "");
  srv->hsts[n > 0 ? n : 0] = '\0';
  srv->hsts_len = n > 0 ? (size_t)n : 0;
}

/* 1 when req is to be sent to https://. */
static int redirected(struct gw_req *req) {
  const struct cfg_tls *t = &req->srv->cfg->tls;
  const char *path;
  size_t plen;
  if (!t->enabled || !t->redirect_http || strcmp(gw_req_scheme(req), "http") != 0)
    return 0;
  gw_req_target(req, &path, &plen, NULL, NULL);
  if (plen == 0 || path[0] != '/')
    return 0; /* "OPTIONS *" names no resource to move */
  return !(plen >= sizeof(ACME) - 1 && memcmp(path, ACME, sizeof(ACME) - 1) == 0);
}

static int on_head(const struct gw_handler *h, struct gw_req *req) {
  return redirected(req) ? GW_LATER : GW_DECLINED;
}

/* The host of req without its port (an IPv6 literal keeps its brackets),
 * or NULL. gw_strict has checked it is uri-host [":" port]. */
static const char *host_name(struct gw_req *req, size_t *n) {
  uint32_t len = 0;
  const char *host = gw_req_host(req, &len);
  if (host == NULL || len == 0)
    return NULL;
  *n = gw_host_port_cut(host, len);
  while (*n > 0 && (host[*n - 1] == ' ' || host[*n - 1] == '\t'))
    (*n)--;
  return *n > 0 ? host : NULL;
}

static int on_req(const struct gw_handler *h, struct gw_req *req) {
  if (!redirected(req))
    return GW_DECLINED;
  const struct cfg_tls *t = &req->srv->cfg->tls;
  const char *path, *query;
  size_t plen, qlen, hlen = 0;
  const char *host = host_name(req, &hlen);
  if (host == NULL) {
    gw_reply_error(req, 400, "a redirect to https:// needs the request's host", NULL);
    return 0;
  }
  int port = t->https_port ? t->https_port : t->listen.port;
  struct ipc_buf *b = &req->srv->scratch;
  gw_req_target(req, &path, &plen, &query, &qlen);
  ipc_buf_reset(b);
  ipc_buf_adds(b, "https://");
  ipc_buf_add(b, host, hlen);
  if (port != 443) {
    ipc_buf_addc(b, ':');
    ipc_buf_addi(b, port);
  }
  ipc_buf_add(b, path, plen);
  if (qlen > 0) {
    ipc_buf_addc(b, '?');
    ipc_buf_add(b, query, qlen);
  }
  struct ipc_header loc = {"location", 8, b->data, b->len};
  if (b->oom)
    gw_reply_error(req, 500, "out of memory", NULL);
  else
    gw_reply(req, 308, "text/plain; charset=utf-8", "Permanent Redirect\n", 19, &loc, 1);
  return 0;
}

const struct gw_handler gw_https_handler = {.name = "https", .on_req = on_req, .on_head = on_head};
