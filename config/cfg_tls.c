/* cfg_tls — gateway.tls (SPEC §13): the TLS listener's address, its
 * certificates (paths against the config directory), the oldest version,
 * http2, and the HTTPS policy: the plain listener's redirect and HSTS. Only the shape is checked
 * here; the files are read by the gateway (gw_tls_cert.c), at start, on a reload and by `muster
 * --check`. */
#include <stdlib.h>
#include <string.h>

#include "cfg_schema.h"

#define DEFAULT_TLS_LISTEN "127.0.0.1:8443"
#define MAX_CERTS 64 /* certificates at most (each is an SNI candidate) */

static const char *const tls_keys[] = {"listen",         "certificates",    "min_version",
                                       "http2",          "redirect_http",   "https_port",
                                       "hsts_max_age_s", "hsts_subdomains", NULL};

static const struct cfg__int_field tls_ints[] = {
    {"https_port", offsetof(struct cfg_tls, https_port), sizeof(int), 0, 1, 65535, 1},
    {"hsts_max_age_s", offsetof(struct cfg_tls, hsts_max_age_s), sizeof(int), 0, 1, 63072000, 1},
    {NULL, 0, 0, 0, 0, 0, 0}};
static const char *const cert_keys[] = {"cert", "key", NULL};

/* Reads certificates[i] (at path p): {"cert": PATH, "key": PATH}, both
 * required. */
static void read_cert(struct cfg__ctx *x, const cJSON *v, const char *p, struct cfg_tls_cert *c) {
  if (cfg__check_object(x, v, p, cert_keys) != 0)
    return;
  for (int k = 0; k < 2; k++) {
    const char *key = k == 0 ? "cert" : "key";
    char **out = k == 0 ? &c->cert : &c->key;
    char kp[CFG__PATH_MAX];
    cfg__join(kp, sizeof(kp), p, key);
    if (cJSON_GetObjectItemCaseSensitive(v, key) == NULL)
      cfg__err(x, kp, "required (the path of a PEM file)");
    else
      cfg__get_path(x, v, p, key, NULL, out);
  }
}

/* Reads tls.certificates: a non-empty array of pairs. */
static void read_certs(struct cfg__ctx *x, const cJSON *v, struct cfg_tls *t) {
  const char *path = "gateway.tls.certificates";
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(v, "certificates");
  int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
  if (a == NULL) {
    cfg__err(x, path, "required: a list of {\"cert\": PATH, \"key\": PATH}");
    return;
  }
  if (!cJSON_IsArray(a) || n == 0 || n > MAX_CERTS) {
    cfg__err(x, path, "must be a list of 1..%d {\"cert\", \"key\"} objects, got %s", MAX_CERTS,
             cJSON_IsArray(a) ? (n == 0 ? "an empty list" : "too many") : cfg__type_name(a));
    return;
  }
  if ((t->certs = calloc((size_t)n, sizeof(*t->certs))) == NULL) {
    cfg__err(x, path, "out of memory");
    return;
  }
  t->ncerts = (size_t)n;
  for (int i = 0; i < n; i++) {
    char p[CFG__PATH_MAX];
    cfg__join_index(p, sizeof(p), path, (size_t)i);
    read_cert(x, cJSON_GetArrayItem(a, i), p, &t->certs[i]);
  }
}

/* Reads tls.min_version: "TLSv1.2" (default) or "TLSv1.3". */
static void read_min_version(struct cfg__ctx *x, const cJSON *v, struct cfg_tls *t) {
  char *s;
  if (cfg__get_string(x, v, "gateway.tls", "min_version", "TLSv1.2", &s) != 0 || s == NULL) {
    free(s);
    return;
  }
  if (strcmp(s, "TLSv1.3") == 0)
    t->min_version = CFG_TLS_1_3;
  else if (strcmp(s, "TLSv1.2") != 0)
    cfg__err(x, "gateway.tls.min_version",
             "must be \"TLSv1.2\" or \"TLSv1.3\" (nothing older is offered), got \"%s\"", s);
  free(s);
}

void cfg__parse_tls(struct cfg__ctx *x, const cJSON *v, struct cfg_gateway *g) {
  struct cfg_tls *t = &g->tls;
  if (cfg__check_object(x, v, "gateway.tls", tls_keys) != 0)
    return;
  t->enabled = 1;
  cfg__read_listen(x, v, "gateway.tls", DEFAULT_TLS_LISTEN, &t->listen);
  read_certs(x, v, t);
  read_min_version(x, v, t);
  cfg__get_bool(x, v, "gateway.tls", "http2", 1, &t->http2); /* ALPN h2: on by default */
  cfg__get_bool(x, v, "gateway.tls", "redirect_http", 0, &t->redirect_http);
  cfg__get_bool(x, v, "gateway.tls", "hsts_subdomains", 0, &t->hsts_subdomains);
  cfg__read_ints(x, v, "gateway.tls", tls_ints, t);
  if (t->hsts_subdomains && t->hsts_max_age_s == 0)
    cfg__err(x, "gateway.tls.hsts_subdomains", "needs hsts_max_age_s: no header is sent without");
  if (t->listen.host && g->listen.host && t->listen.port == g->listen.port)
    cfg__err(x, "gateway.tls.listen", "port %d is gateway.listen's: TLS needs a port of its own",
             t->listen.port);
}

void cfg__tls_free(struct cfg_gateway *g) {
  struct cfg_tls *t = &g->tls;
  free(t->listen.host);
  for (size_t i = 0; i < t->ncerts; i++) {
    free(t->certs[i].cert);
    free(t->certs[i].key);
  }
  free(t->certs);
  memset(t, 0, sizeof(*t));
}
