/* Unit tests for gw_fwd: the headers a service is given for a request.
 *
 * Each test builds a request head by hand (struct gw_hdr offsets over a
 * heap buffer with no NUL after a value, as gw_h1 leaves it), runs
 * gw_fwd_headers and compares the result as "name: value" lines. */
#include <stdint.h>
#include <stdlib.h>
#include <uv.h>

#include "gw_fwd.h"
#include "test.h"
#include "util_vec.h"

struct fwd {
  struct ipc_buf hb; /* header bytes */
  struct gw_hdr *h;  /* the headers */
  size_t n, cap;
  struct ipc_header *out; /* gw_fwd_headers' output, grown by it */
  size_t ocap;
  struct ipc_buf join; /* its joined values */
  int count;           /* its return value */
  const char *host;    /* an absolute-form target's authority, or NULL */
  const char *client;  /* the client behind trusted proxies, or NULL */
  char text[65536];    /* the output as "name: value\n" lines */
};

static void fwd_init(struct fwd *f) {
  memset(f, 0, sizeof(*f));
  ipc_buf_init(&f->hb);
  ipc_buf_init(&f->join);
}

static void fwd_free(struct fwd *f) {
  ipc_buf_free(&f->hb);
  ipc_buf_free(&f->join);
  free(f->h);
  free(f->out);
}

/* Adds a header as read: name (already lower-case) and value. */
static void add(struct fwd *f, const char *name, const char *value) {
  if (util_vec_reserve(&f->h, &f->cap, f->n + 1) != 0)
    abort();
  struct gw_hdr *h = &f->h[f->n++];
  h->name = (uint32_t)f->hb.len;
  h->nlen = (uint32_t)strlen(name);
  ipc_buf_adds(&f->hb, name);
  h->value = (uint32_t)f->hb.len;
  h->vlen = (uint32_t)strlen(value);
  ipc_buf_adds(&f->hb, value);
}

/* Runs gw_fwd_headers and renders the result in f->text. Returns it. */
static const char *run_as(struct fwd *f, int upgrade, const char *proto) {
  struct gw_fwd_in in = {.buf = f->hb.data,
                         .hdrs = f->h,
                         .n = f->n,
                         .reqid = "R1",
                         .remote = "10.0.0.9",
                         .client = f->client,
                         .proto = proto,
                         .host = f->host,
                         .host_len = f->host ? strlen(f->host) : 0,
                         .upgrade = upgrade};
  size_t len = 0;
  f->count = gw_fwd_headers(&in, &f->out, &f->ocap, &f->join);
  f->text[0] = '\0';
  for (int i = 0; i < f->count; i++) {
    const struct ipc_header *o = &f->out[i];
    len += (size_t)snprintf(f->text + len, sizeof(f->text) - len, "%.*s: %.*s\n", (int)o->name_len,
                            o->name, (int)o->value_len, o->value);
    if (len >= sizeof(f->text))
      abort();
  }
  return f->text;
}

static const char *run(struct fwd *f) {
  return run_as(f, 0, "http");
}

/* What muster adds when the client sent none of its headers. */
#define ADDED                                                                                      \
  "x-request-id: R1\nx-forwarded-for: 10.0.0.9\nx-forwarded-proto: http\nx-real-ip: 10.0.0.9\n"
/* The same when the request has a host h: x-forwarded-host says it too. */
#define ADDED_HOST(h)                                                                              \
  "x-request-id: R1\nx-forwarded-for: 10.0.0.9\nx-forwarded-proto: http\nx-forwarded-host: " h     \
  "\nx-real-ip: 10.0.0.9\n"

/* ---- Hop-by-hop headers ---- */

TEST(nothing_in) {
  struct fwd f;
  fwd_init(&f);
  CHECK_STR(run(&f), ADDED);
  CHECK_INT(f.count, 4);
  fwd_free(&f);
}

TEST(end_to_end_kept_in_order) {
  struct fwd f;
  fwd_init(&f);
  add(&f, "host", "example.com");
  add(&f, "accept", "*/*");
  add(&f, "content-type", "text/plain");
  CHECK_STR(run(&f),
            "host: example.com\naccept: */*\ncontent-type: text/plain\n" ADDED_HOST("example.com"));
  fwd_free(&f);
}

TEST(hop_by_hop_names) {
  const char *hop[] = {"connection", "keep-alive",      "te", "trailer", "transfer-encoding",
                       "upgrade",    "proxy-connection"};
  const char *not_hop[] = {"t",
                           "tee",
                           "trailers",
                           "upgrade-insecure-requests",
                           "keep-alivex",
                           "connections",
                           "proxy-authorization",
                           "content-length",
                           "x-connection",
                           ""};
  for (size_t i = 0; i < sizeof(hop) / sizeof(*hop); i++)
    CHECK_INT(gw_fwd_hop_by_hop(hop[i], strlen(hop[i])), 1);
  for (size_t i = 0; i < sizeof(not_hop) / sizeof(*not_hop); i++)
    CHECK_INT(gw_fwd_hop_by_hop(not_hop[i], strlen(not_hop[i])), 0);
  CHECK_INT(gw_fwd_hop_by_hop("te-x", 2), 1); /* n bytes only */
}

TEST(hop_by_hop_removed) {
  struct fwd f;
  fwd_init(&f);
  add(&f, "a", "1");
  add(&f, "connection", "keep-alive");
  add(&f, "keep-alive", "timeout=5");
  add(&f, "te", "trailers");
  add(&f, "trailer", "x-sum");
  add(&f, "transfer-encoding", "chunked");
  add(&f, "upgrade", "websocket");
  add(&f, "proxy-connection", "keep-alive");
  add(&f, "b", "2");
  CHECK_STR(run(&f), "a: 1\nb: 2\n" ADDED);
  fwd_free(&f);
}

TEST(connection_tokens_removed) {
  struct fwd f;
  fwd_init(&f);
  add(&f, "x-secret", "s");
  add(&f, "connection", "close, X-Secret");
  add(&f, "x-kept", "k");
  add(&f, "x-other", "o");
  CHECK_STR(run(&f), "x-kept: k\nx-other: o\n" ADDED);
  fwd_free(&f);
}

TEST(connection_tokens_case_insensitive) {
  struct fwd f;
  fwd_init(&f);
  add(&f, "connection", "X-FOO,x-Bar");
  add(&f, "x-foo", "1");
  add(&f, "x-bar", "2");
  add(&f, "x-foobar", "3"); /* a whole token, not a prefix */
  CHECK_STR(run(&f), "x-foobar: 3\n" ADDED);
  fwd_free(&f);
}

TEST(connection_tokens_odd_spacing_and_commas) {
  struct fwd f;
  fwd_init(&f);
  add(&f, "connection", " ,, x-a ,x-b,\t x-c  ,,");
  add(&f, "x-a", "1");
  add(&f, "x-b", "2");
  add(&f, "x-c", "3");
  add(&f, "x-d", "4");
  CHECK_STR(run(&f), "x-d: 4\n" ADDED);
  fwd_free(&f);
}

TEST(connection_tokens_of_several_headers) {
  /* Every connection header counts, also one after the headers it names. */
  struct fwd f;
  fwd_init(&f);
  add(&f, "x-a", "1");
  add(&f, "connection", "x-a");
  add(&f, "x-b", "2");
  add(&f, "x-c", "3");
  add(&f, "connection", "x-b");
  add(&f, "connection", "");
  add(&f, "connection", "x-c");
  CHECK_STR(run(&f), ADDED);
  fwd_free(&f);
}

TEST(connection_tokens_many) {
  /* 32 named headers, spread over two connection headers. */
  struct fwd f;
  char names[32][8], list[2][200] = {"", ""};
  fwd_init(&f);
  for (int i = 0; i < 32; i++) {
    snprintf(names[i], sizeof(names[i]), "x-%d", i);
    strcat(list[i % 2], names[i]);
    strcat(list[i % 2], ", ");
  }
  add(&f, "connection", list[0]);
  add(&f, "connection", list[1]);
  for (int i = 0; i < 32; i++)
    add(&f, names[i], "v");
  add(&f, "x-kept", "k");
  CHECK_STR(run(&f), "x-kept: k\n" ADDED);
  fwd_free(&f);
}

TEST(upgrade_dropped_without_handshake) {
  /* "connection: upgrade" alone is no handshake: both stay with this hop. */
  struct fwd f;
  fwd_init(&f);
  add(&f, "connection", "upgrade");
  add(&f, "upgrade", "websocket");
  CHECK_STR(run(&f), ADDED);
  fwd_free(&f);
}

/* ---- A WebSocket handshake ---- */

TEST(upgrade_keeps_upgrade_and_connection) {
  struct fwd f;
  fwd_init(&f);
  add(&f, "host", "h");
  add(&f, "connection", "Upgrade");
  add(&f, "upgrade", "websocket");
  add(&f, "sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
  add(&f, "keep-alive", "5");
  CHECK_STR(run_as(&f, 1, "http"), "host: h\nconnection: Upgrade\nupgrade: websocket\n"
                                   "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\n" ADDED_HOST("h"));
  fwd_free(&f);
}

TEST(upgrade_still_drops_named_and_others) {
  struct fwd f;
  fwd_init(&f);
  add(&f, "connection", "keep-alive, Upgrade, x-hop");
  add(&f, "upgrade", "websocket");
  add(&f, "x-hop", "1");
  add(&f, "te", "trailers");
  add(&f, "transfer-encoding", "chunked");
  add(&f, "proxy-connection", "x");
  CHECK_STR(run_as(&f, 1, "http"),
            "connection: keep-alive, Upgrade, x-hop\nupgrade: websocket\n" ADDED);
  fwd_free(&f);
}

/* ---- Repeated headers ---- */

TEST(repeats_joined_in_order) {
  struct fwd f;
  fwd_init(&f);
  add(&f, "accept", "a/1");
  add(&f, "host", "h");
  add(&f, "accept", "a/2");
  add(&f, "cookie", "c=1");
  add(&f, "accept", "a/3");
  CHECK_STR(run(&f), "accept: a/1, a/2, a/3\nhost: h\ncookie: c=1\n" ADDED_HOST("h"));
  CHECK_INT(f.count, 8);
  fwd_free(&f);
}

TEST(cookies_joined_with_semicolons) {
  struct fwd f; /* an HTTP/2 client sends one cookie field per pair */
  fwd_init(&f);
  add(&f, "cookie", "a=1");
  add(&f, "host", "h");
  add(&f, "cookie", "b=2");
  CHECK_STR(run(&f), "cookie: a=1; b=2\nhost: h\n" ADDED_HOST("h"));
  fwd_free(&f);
}

TEST(repeats_with_empty_values) {
  struct fwd f;
  fwd_init(&f);
  add(&f, "x-e", "");
  add(&f, "x-e", "b");
  add(&f, "x-e", "");
  CHECK_STR(run(&f), "x-e: , b, \n" ADDED);
  fwd_free(&f);
}

TEST(single_value_points_into_request) {
  /* A header seen once is not copied: its value is the request's bytes. */
  struct fwd f;
  fwd_init(&f);
  add(&f, "host", "h");
  run(&f);
  CHECK(f.out[0].value == f.hb.data + f.h[0].value);
  CHECK_INT(f.join.len, 0);
  fwd_free(&f);
}

/* ---- What muster sets ---- */

TEST(request_id_replaced) {
  struct fwd f;
  fwd_init(&f);
  add(&f, "x-request-id", "client-id");
  add(&f, "a", "1");
  add(&f, "x-request-id", "second");
  CHECK_STR(run(&f), "x-request-id: R1\na: 1\n"
                     "x-forwarded-for: 10.0.0.9\nx-forwarded-proto: http\nx-real-ip: 10.0.0.9\n");
  fwd_free(&f);
}

TEST(forwarded_for_appended) {
  struct fwd f;
  fwd_init(&f);
  add(&f, "x-forwarded-for", "1.1.1.1");
  add(&f, "a", "1");
  CHECK_STR(run(&f), "x-forwarded-for: 1.1.1.1, 10.0.0.9\na: 1\n"
                     "x-request-id: R1\nx-forwarded-proto: http\nx-real-ip: 10.0.0.9\n");
  fwd_free(&f);
}

TEST(forwarded_for_repeated_then_appended) {
  struct fwd f;
  fwd_init(&f);
  add(&f, "x-forwarded-for", "1.1.1.1");
  add(&f, "x-forwarded-for", "2.2.2.2, 3.3.3.3");
  CHECK_STR(run(&f), "x-forwarded-for: 1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.9\n"
                     "x-request-id: R1\nx-forwarded-proto: http\nx-real-ip: 10.0.0.9\n");
  fwd_free(&f);
}

TEST(forwarded_proto_replaced) {
  struct fwd f;
  fwd_init(&f);
  add(&f, "x-forwarded-proto", "https");
  add(&f, "x-forwarded-proto", "gopher");
  add(&f, "a", "1");
  CHECK_STR(run(&f), "a: 1\n" ADDED);
  CHECK_STR(run_as(&f, 0, "https"), "a: 1\nx-request-id: R1\nx-forwarded-for: 10.0.0.9\n"
                                    "x-forwarded-proto: https\nx-real-ip: 10.0.0.9\n");
  fwd_free(&f);
}

/* ---- An absolute-form target ---- */

TEST(underscore_lookalikes_dropped) {
  /* x_forwarded_for and x-forwarded-for are one HTTP_X_FORWARDED_FOR to a
   * CGI-style server: the client's spelling must not reach it */
  struct fwd f;
  fwd_init(&f);
  add(&f, "x_forwarded_for", "6.6.6.6");
  add(&f, "x-forwarded_proto", "https");
  add(&f, "x_request_id", "forged");
  add(&f, "x_request-id", "forged");
  add(&f, "x_forwarded_fo", "kept"); /* not one of them */
  add(&f, "x_forwarded_forx", "kept");
  add(&f, "my_header", "kept");
  CHECK_STR(run(&f), "x_forwarded_fo: kept\nx_forwarded_forx: kept\nmy_header: kept\n" ADDED);
  fwd_free(&f);
}

TEST(real_ip_is_muster_s) {
  /* the client's x-real-ip (any spelling) gives way to the address muster
   * believes: the peer, or behind trusted proxies the client they name */
  struct fwd f;
  fwd_init(&f);
  add(&f, "x-real-ip", "6.6.6.6");
  add(&f, "x_real_ip", "6.6.6.6");
  add(&f, "a", "1");
  CHECK_STR(run(&f), "a: 1\n" ADDED);
  f.client = "203.0.113.7";
  CHECK_STR(run(&f), "a: 1\nx-request-id: R1\nx-forwarded-for: 10.0.0.9\nx-forwarded-proto: "
                     "http\nx-real-ip: 203.0.113.7\n");
  fwd_free(&f);
}

TEST(forwarded_host_is_the_host) {
  /* the client's x-forwarded-host (a "password reset" link to its own
   * site) gives way to the host the service gets; a trusted proxy's passes */
  struct fwd f;
  fwd_init(&f);
  add(&f, "host", "shop.example");
  add(&f, "x-forwarded-host", "evil.example");
  add(&f, "x_forwarded_host", "evil.example");
  CHECK_STR(run(&f), "host: shop.example\n" ADDED_HOST("shop.example"));
  struct gw_fwd_in in = {.buf = f.hb.data,
                         .hdrs = f.h,
                         .n = 2,
                         .reqid = "R1",
                         .remote = "10.0.0.9",
                         .proto = "http",
                         .trusted = 1};
  f.count = gw_fwd_headers(&in, &f.out, &f.ocap, &f.join);
  CHECK_INT(f.count, 6); /* host, its x-forwarded-host, and muster's four */
  CHECK(f.count == 6 && f.out[1].value_len == 12 && !memcmp(f.out[1].value, "evil.example", 12));
  fwd_free(&f);
}

TEST(authority_replaces_host) {
  struct fwd f;
  fwd_init(&f);
  add(&f, "host", "public.example");
  add(&f, "a", "1");
  f.host = "admin.internal:8080";
  CHECK_STR(run(&f), "host: admin.internal:8080\na: 1\n" ADDED_HOST("admin.internal:8080"));
  fwd_free(&f);
}

TEST(authority_added_without_host) {
  struct fwd f;
  fwd_init(&f);
  add(&f, "a", "1");
  f.host = "example.com";
  CHECK_STR(run(&f), "a: 1\nhost: example.com\n" ADDED_HOST("example.com"));
  CHECK_INT(f.count, 7);
  fwd_free(&f);
}

/* ---- Memory ---- */

TEST(many_headers_joined_by_name) {
  /* past the links kept on the stack: 300 headers of 100 names, each name
   * three times, interleaved; a name's values join in their order, the
   * names in the order of their first header */
  struct fwd f;
  char name[16], value[16], want[8192];
  size_t len = 0;
  fwd_init(&f);
  for (int round = 0; round < 3; round++)
    for (int k = 99; k >= 0; k--) {
      snprintf(name, sizeof(name), "x-%d", k);
      snprintf(value, sizeof(value), "%d.%d", k, round);
      add(&f, name, value);
    }
  for (int k = 99; k >= 0; k--)
    len += (size_t)snprintf(want + len, sizeof(want) - len, "x-%d: %d.0, %d.1, %d.2\n", k, k, k, k);
  snprintf(want + len, sizeof(want) - len, "%s", ADDED);
  CHECK_STR(run(&f), want);
  CHECK_INT(f.count, 104);
  fwd_free(&f);
}

TEST(vector_grows_from_cap_0) {
  struct fwd f;
  fwd_init(&f);
  add(&f, "a", "1");
  CHECK(f.out == NULL && f.ocap == 0);
  run(&f);
  CHECK_INT(f.count, 5);
  CHECK(f.out != NULL);
  CHECK(f.ocap >= 4);
  /* A head with many headers grows it again; the next request reuses it. */
  char name[16];
  for (int i = 0; i < 100; i++) {
    snprintf(name, sizeof(name), "h-%d", i);
    add(&f, name, "v");
  }
  run(&f);
  CHECK_INT(f.count, 105);
  CHECK(f.ocap >= 104);
  size_t cap = f.ocap;
  run(&f);
  CHECK_INT(f.ocap, cap);
  fwd_free(&f);
}

TEST(join_never_moves_values) {
  /* 300 headers each sent twice, long values: the joins total well past
   * the join buffer's first size. If it moved while values were joined,
   * the earlier values would point into freed memory (ASan) or differ. */
  struct fwd f;
  char name[16], value[64], want[160];
  fwd_init(&f);
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 300; i++) {
      snprintf(name, sizeof(name), "h-%d", i);
      snprintf(value, sizeof(value), "%d-%d-%.40s", i, round,
               "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
      add(&f, name, value);
    }
  }
  add(&f, "x-forwarded-for", "9.9.9.9");
  run(&f);
  CHECK_INT(f.count, 304);
  for (int i = 0; i < 300; i++) {
    const struct ipc_header *o = &f.out[i];
    snprintf(want, sizeof(want), "%d-0-%.40s, %d-1-%.40s", i,
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", i,
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    CHECK(o->value >= f.join.data && o->value + o->value_len <= f.join.data + f.join.len);
    if (o->value_len != strlen(want) || memcmp(o->value, want, o->value_len) != 0) {
      printf("  header %d: \"%.*s\"\n", i, (int)o->value_len, o->value);
      test_cur_failed = 1;
    }
  }
  CHECK(f.out[300].value_len == strlen("9.9.9.9, 10.0.0.9") &&
        memcmp(f.out[300].value, "9.9.9.9, 10.0.0.9", f.out[300].value_len) == 0);
  /* The next request resets the buffer: nothing accumulates. */
  size_t len = f.join.len;
  run(&f);
  CHECK_INT(f.join.len, len);
  fwd_free(&f);
}

int main(void) {
  RUN(nothing_in);
  RUN(end_to_end_kept_in_order);
  RUN(hop_by_hop_names);
  RUN(hop_by_hop_removed);
  RUN(connection_tokens_removed);
  RUN(connection_tokens_case_insensitive);
  RUN(connection_tokens_odd_spacing_and_commas);
  RUN(connection_tokens_of_several_headers);
  RUN(connection_tokens_many);
  RUN(upgrade_dropped_without_handshake);
  RUN(upgrade_keeps_upgrade_and_connection);
  RUN(upgrade_still_drops_named_and_others);
  RUN(repeats_joined_in_order);
  RUN(cookies_joined_with_semicolons);
  RUN(repeats_with_empty_values);
  RUN(single_value_points_into_request);
  RUN(request_id_replaced);
  RUN(forwarded_for_appended);
  RUN(forwarded_for_repeated_then_appended);
  RUN(forwarded_proto_replaced);
  RUN(underscore_lookalikes_dropped);
  RUN(real_ip_is_muster_s);
  RUN(forwarded_host_is_the_host);
  RUN(authority_replaces_host);
  RUN(authority_added_without_host);
  RUN(many_headers_joined_by_name);
  RUN(vector_grows_from_cap_0);
  RUN(join_never_moves_values);
  return test_summary();
}
