/* Unit tests for rt_handshake: the accept value of RFC 6455 §1.3, every
 * refusal of rt_hs_check (method, HTTP version, connection token, version
 * 426, the key, a key or version twice), and the token lists of upgrade,
 * connection and sec-websocket-protocol. */
#include <stdlib.h>
#include <uv.h>

#include "rt_handshake.h"
#include "test.h"

#define RFC_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static struct rt_hs_value val(const char *s) {
  return (struct rt_hs_value){s, s ? strlen(s) : 0};
}

/* A valid handshake (RFC 6455 §1.3's), to spoil one field at a time. */
static struct rt_hs_in valid(void) {
  return (struct rt_hs_in){.method = "GET",
                           .http_minor = 1,
                           .upgrade = val("websocket"),
                           .connection = val("Upgrade"),
                           .key = val(RFC_KEY),
                           .version = val("13")};
}

/* rt_hs_check's status for in; *why must be set on a refusal. */
static int check(const struct rt_hs_in *in) {
  char accept[RT_HS_ACCEPT_LEN + 1] = "";
  const char *why = NULL;
  int rc = rt_hs_check(in, accept, &why);
  if (rc == 0)
    CHECK_STR(accept, RFC_ACCEPT);
  else
    CHECK(why != NULL && why[0] != '\0');
  return rc;
}

/* ---- The accept value ---- */

TEST(rfc_accept_value) {
  char accept[RT_HS_ACCEPT_LEN + 1];
  CHECK_INT(rt_hs_accept(RFC_KEY, strlen(RFC_KEY), accept), 0);
  CHECK_STR(accept, RFC_ACCEPT);
  CHECK_INT(strlen(accept), RT_HS_ACCEPT_LEN);
}

TEST(accept_of_another_key) {
  /* RFC 6455 §4.1's example key; the value any implementation gives. */
  char accept[RT_HS_ACCEPT_LEN + 1];
  CHECK_INT(rt_hs_accept("x3JJHMbDL1EzLkh9GBhXDw==", 24, accept), 0);
  CHECK_STR(accept, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

TEST(valid_handshake) {
  struct rt_hs_in in = valid();
  CHECK_INT(check(&in), 0);
  CHECK_INT(rt_hs_wanted(&in), 1);
}

/* ---- Refusals ---- */

TEST(method_must_be_get) {
  static const char *methods[] = {"POST", "HEAD", "get", "PUT", "CONNECT", ""};
  for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
    struct rt_hs_in in = valid();
    in.method = methods[i];
    CHECK_INT(check(&in), 400);
  }
}

TEST(http_1_0_refused) {
  struct rt_hs_in in = valid();
  in.http_minor = 0;
  CHECK_INT(check(&in), 400);
}

TEST(version_not_13_is_426) {
  static const char *versions[] = {"12", "8", "130", "13 ", " 13", "1", "", "14", "13,8"};
  for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
    struct rt_hs_in in = valid();
    in.version = val(versions[i]);
    CHECK_INT(check(&in), 426);
  }
  struct rt_hs_in in = valid();
  in.version = val(NULL); /* absent */
  CHECK_INT(check(&in), 426);
}

TEST(bad_keys) {
  static const char *keys[] = {
      "",
      "dGhlIHNhbXBsZSBub25jZQ=",   /* 23 characters */
      "dGhlIHNhbXBsZSBub25jZQ===", /* 25 */
      "dGhlIHNhbXBsZSBub25jZQAA",  /* no padding */
      "dGhlIHNhbXBsZSBub25jZ===",  /* padding too early */
      "dGhlIHNhbXBsZSBub25j*Q==",  /* not base64 */
      "dGhlIHNhbXBsZSBub25j-Q==",  /* base64url */
      "dGhlIHNhbXBsZSBub25j_Q==",
      "dGhlIHNhbXBs ZSBub25jQ==", /* a space */
      "dGhlIHNhbXBsZSBub25jZR==", /* wrong padding bits: 'R' leaves 4 bits set */
      "dGhlIHNhbXBsZSBub25jZB==", /* 'B' leaves 1 bit set */
      "AAAAAAAAAAAAAAAAAAAAA/==", /* '/' too */
      "dGhlIHNhbXBsZSBub25jZQ",   /* 22: padding left out */
      "MTIzNDU2Nzg5MDEyMzQ1Ng",   /* 16 bytes without padding */
      "MTIzNDU2Nzg5MDEyMzQ1Njc=", /* 17 bytes */
  };
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    struct rt_hs_in in = valid();
    in.key = val(keys[i]);
    int rc = check(&in);
    if (rc != 400)
      printf("  key %s: %d\n", keys[i], rc);
    CHECK_INT(rc, 400);
  }
  struct rt_hs_in in = valid();
  in.key = val(NULL); /* absent */
  CHECK_INT(check(&in), 400);
  in.key = (struct rt_hs_value){"dGhlIHNhbXBsZSBub25j\0Q==", 24}; /* a NUL inside */
  CHECK_INT(check(&in), 400);
}

TEST(keys_with_every_allowed_last_character) {
  /* The 22nd character carries 2 bits: A, Q, g and w only. */
  static const char last[] = "AQgw";
  for (int i = 0; i < 4; i++) {
    char key[25] = "AAAAAAAAAAAAAAAAAAAAAA==";
    char accept[RT_HS_ACCEPT_LEN + 1];
    const char *why = NULL;
    key[21] = last[i];
    struct rt_hs_in in = valid();
    in.key = val(key);
    CHECK_INT(rt_hs_check(&in, accept, &why), 0);
  }
}

TEST(connection_must_list_upgrade) {
  static const char *refused[] = {
      "keep-alive",       "",           "upgrade2", "up grade", "upgrade;q=1", "close, keepalive",
      "Upgrade-Insecure", "\"upgrade\""};
  for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
    struct rt_hs_in in = valid();
    in.connection = val(refused[i]);
    CHECK_INT(check(&in), 400);
  }
  struct rt_hs_in in = valid();
  in.connection = val(NULL);
  CHECK_INT(check(&in), 400);
  static const char *accepted[] = {"upgrade",
                                   "UPGRADE",
                                   "uPgRaDe",
                                   "keep-alive, Upgrade",
                                   "Upgrade, keep-alive",
                                   "  upgrade  ",
                                   "keep-alive,upgrade",
                                   ",,upgrade,,",
                                   "a,\tupgrade\t,b"};
  for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
    in = valid();
    in.connection = val(accepted[i]);
    int rc = check(&in);
    if (rc != 0)
      printf("  connection \"%s\": %d\n", accepted[i], rc);
    CHECK_INT(rc, 0);
  }
}

TEST(refusals_in_order) {
  /* Method, then connection, then version, then key. */
  struct rt_hs_in in = valid();
  in.method = "POST";
  in.connection = val(NULL);
  in.version = val("8");
  in.key = val(NULL);
  CHECK_INT(check(&in), 400);
  in.method = "GET";
  CHECK_INT(check(&in), 400); /* connection */
  in.connection = val("upgrade");
  CHECK_INT(check(&in), 426); /* version before key */
  in.version = val("13");
  CHECK_INT(check(&in), 400); /* key */
}

TEST(doubled_key_or_version_refused) {
  /* Two sec-websocket-key headers: which one to answer is a guess. */
  struct rt_hs_in in = valid();
  in.doubled = 1;
  CHECK_INT(check(&in), 400);
  in.version = val("8"); /* before the version's 426 */
  CHECK_INT(check(&in), 400);
}

/* ---- Token lists ---- */

TEST(lists_exact_for_subprotocols) {
  struct rt_hs_value v = val("chat.v1, chat.v2 ,\tsoap");
  CHECK_INT(rt_hs_lists(v, "chat.v1", 7, 1), 1);
  CHECK_INT(rt_hs_lists(v, "chat.v2", 7, 1), 1);
  CHECK_INT(rt_hs_lists(v, "soap", 4, 1), 1);
  CHECK_INT(rt_hs_lists(v, "Chat.V1", 7, 1), 0); /* case matters */
  CHECK_INT(rt_hs_lists(v, "Chat.V1", 7, 0), 1); /* unless not exact */
  CHECK_INT(rt_hs_lists(v, "chat", 4, 1), 0);
  CHECK_INT(rt_hs_lists(v, "chat.v1, chat.v2", 16, 1), 0);
  CHECK_INT(rt_hs_lists(v, "", 0, 1), 0);
  CHECK_INT(rt_hs_lists(val(NULL), "a", 1, 1), 0);
  CHECK_INT(rt_hs_lists(val("a\r\nx: 1"), "a", 1, 1), 0);
}

TEST(wanted_when_upgrade_lists_websocket) {
  static const char *yes[] = {"websocket", "WebSocket", "h2c, websocket", " websocket ,x",
                              "x,WEBSOCKET"};
  static const char *no[] = {"websockets", "h2c", "", "web socket", "websocket/13"};
  for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
    struct rt_hs_in in = valid();
    in.upgrade = val(yes[i]);
    CHECK_INT(rt_hs_wanted(&in), 1);
  }
  for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
    struct rt_hs_in in = valid();
    in.upgrade = val(no[i]);
    CHECK_INT(rt_hs_wanted(&in), 0);
  }
  struct rt_hs_in in = valid();
  in.upgrade = val(NULL);
  CHECK_INT(rt_hs_wanted(&in), 0);
}

struct tokens {
  char out[256];
  int n;
};

static void on_token(void *ctx, const char *p, size_t n) {
  struct tokens *t = ctx;
  size_t len = strlen(t->out);
  snprintf(t->out + len, sizeof(t->out) - len, "%s%.*s", t->n ? "|" : "", (int)n, p);
  t->n++;
}

TEST(tokens_trimmed_empty_skipped_in_order) {
  struct tokens t = {"", 0};
  rt_hs_tokens(val(" a ,\tb c\t,, ,d,"), on_token, &t);
  CHECK_STR(t.out, "a|b c|d");
  CHECK_INT(t.n, 3);
  struct tokens u = {"", 0};
  rt_hs_tokens(val(NULL), on_token, &u);
  rt_hs_tokens(val(""), on_token, &u);
  rt_hs_tokens(val(" , ,"), on_token, &u);
  CHECK_INT(u.n, 0);
  /* the value need not end with a NUL */
  struct tokens v = {"", 0};
  rt_hs_tokens((struct rt_hs_value){"x, yz", 4}, on_token, &v);
  CHECK_STR(v.out, "x|y");
}

int main(void) {
  RUN(rfc_accept_value);
  RUN(accept_of_another_key);
  RUN(valid_handshake);
  RUN(method_must_be_get);
  RUN(http_1_0_refused);
  RUN(version_not_13_is_426);
  RUN(bad_keys);
  RUN(keys_with_every_allowed_last_character);
  RUN(connection_must_list_upgrade);
  RUN(refusals_in_order);
  RUN(doubled_key_or_version_refused);
  RUN(lists_exact_for_subprotocols);
  RUN(wanted_when_upgrade_lists_websocket);
  RUN(tokens_trimmed_empty_skipped_in_order);
  return test_summary();
}
