/* Unit tests for ipc_msg (codec) and ipc_text (UTF-8, JSON strings, base64). */
#include <stdlib.h>
#include <uv.h>

#include "ipc_msg.h"
#include "ipc_scan.h"
#include "ipc_text.h"
#include "test.h"

static char err[256];

/* Parses a NUL-terminated line; returns the rc, leaves err filled. */
static int parse(struct ipc_msg *m, const char *line) {
  return ipc_msg_parse(m, line, strlen(line), err, sizeof(err));
}

/* Expects line to fail with exactly the message want. */
static void expect_error(const char *line, const char *want, int lineno) {
  struct ipc_msg m;
  int rc = parse(&m, line);
  if (rc != UV_EINVAL || strcmp(err, want) != 0) {
    printf("  line %d: parse(%s) = %d \"%s\", expected \"%s\"\n", lineno, line, rc, err, want);
    test_cur_failed = 1;
  }
  CHECK(m.root == NULL);
}
#define EXPECT_ERROR(line, want) expect_error(line, want, __LINE__)

TEST(parse_request) {
  struct ipc_msg m;
  CHECK_INT(
      parse(&m, "{\"type\":\"request\",\"id\":7,\"method\":\"GET\",\"path\":\"/d/echo\","
                "\"query\":\"a=1\",\"prefix\":\"/d\",\"headers\":{\"x\":\"1\",\"y\":[\"a\",\"b\"]},"
                "\"body\":\"hi\",\"remote\":\"127.0.0.1\"}"),
      0);
  CHECK_INT(m.type, IPC_T_REQUEST);
  CHECK_INT(m.id, 7);
  CHECK_STR(m.method, "GET");
  CHECK_STR(m.path, "/d/echo");
  CHECK_STR(m.query, "a=1");
  CHECK_STR(m.prefix, "/d");
  CHECK_STR(m.remote, "127.0.0.1");
  CHECK_STR(m.body, "hi");
  CHECK_INT(m.body_len, 2);
  CHECK(cJSON_IsObject(m.headers));
  CHECK_INT(m.nhdrs, 2); /* an array value is joined */
  CHECK_STR(m.hdrs[0].name, "x");
  CHECK_STR(m.hdrs[0].value, "1");
  CHECK_STR(m.hdrs[1].name, "y");
  CHECK_STR(m.hdrs[1].value, "a, b");
  ipc_msg_free(&m);
  CHECK(m.root == NULL);
}

TEST(parse_request_defaults_and_base64) {
  struct ipc_msg m;
  CHECK_INT(parse(&m, "{\"type\":\"request\",\"id\":1,\"method\":\"POST\",\"path\":\"/\","
                      "\"body_base64\":\"AP8A\"}"),
            0);
  CHECK_STR(m.query, "");
  CHECK_STR(m.prefix, "");
  CHECK_INT(m.body_len, 3);
  CHECK(m.body[0] == 0 && (unsigned char)m.body[1] == 0xff && m.body[2] == 0);
  ipc_msg_free(&m);
}

TEST(parse_every_type) {
  static const char *lines[] = {
      "{\"type\":\"cancel\",\"id\":1}",
      "{\"type\":\"ping\",\"seq\":2}",
      "{\"type\":\"shutdown\",\"deadline_ms\":5000}",
      "{\"type\":\"message\",\"topic\":\"t\",\"data\":{\"k\":[1]}}",
      "{\"type\":\"ready\"}",
      "{\"type\":\"response\",\"id\":3,\"status\":200,\"json\":[1,2]}",
      "{\"type\":\"chunk\",\"id\":3,\"data\":\"abc\"}",
      "{\"type\":\"end\",\"id\":3}",
      "{\"type\":\"pong\",\"seq\":2}",
      "{\"type\":\"subscribe\",\"topic\":\"t\"}",
      "{\"type\":\"unsubscribe\",\"topic\":\"t\"}",
      "{\"type\":\"publish\",\"topic\":\"t\",\"data\":null}",
  };
  static const enum ipc_type types[] = {
      IPC_T_CANCEL, IPC_T_PING, IPC_T_SHUTDOWN, IPC_T_MESSAGE,   IPC_T_READY,       IPC_T_RESPONSE,
      IPC_T_CHUNK,  IPC_T_END,  IPC_T_PONG,     IPC_T_SUBSCRIBE, IPC_T_UNSUBSCRIBE, IPC_T_PUBLISH};
  for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
    struct ipc_msg m;
    int rc = parse(&m, lines[i]);
    CHECK_INT(rc, 0);
    if (rc == 0)
      CHECK_INT(m.type, types[i]);
    ipc_msg_free(&m);
  }
}

TEST(parse_response_fields) {
  struct ipc_msg m;
  CHECK_INT(parse(&m, "{\"type\":\"response\",\"id\":9,\"status\":201,\"stream\":true,"
                      "\"headers\":{\"a\":\"b\"}}"),
            0);
  CHECK_INT(m.id, 9);
  CHECK_INT(m.status, 201);
  CHECK_INT(m.stream, 1);
  CHECK(m.body == NULL);
  ipc_msg_free(&m);
  CHECK_INT(parse(&m, "{\"type\":\"chunk\",\"id\":9,\"data_base64\":\"aGk=\"}"), 0);
  CHECK_INT(m.body_len, 2);
  CHECK(memcmp(m.body, "hi", 2) == 0);
  ipc_msg_free(&m);
}

TEST(invalid_json) {
  EXPECT_ERROR("{\"type\":", "invalid JSON near offset 7");
  EXPECT_ERROR("not json", "invalid JSON near offset 0");
  EXPECT_ERROR("{\"type\":\"ready\"} x", "invalid JSON near offset 17: trailing data");
  EXPECT_ERROR("[1,2]", "message must be a JSON object");
  EXPECT_ERROR("\"hello\"", "message must be a JSON object");
  EXPECT_ERROR("\"ready\" x", "invalid JSON near offset 8: trailing data");
}

/* JSON.stringify of a string cut inside a surrogate pair writes the lone
 * half as an escape; Node reads it back, cJSON refuses the line. muster
 * reads it as U+FFFD (what Node and browsers send for it as UTF-8) rather
 * than dropping the message. */
TEST(lone_surrogates_read_as_fffd) {
  struct ipc_msg m;
  const char *line = "{\"type\":\"ws_send\",\"conn\":\"c1\",\"text\":\"half \\ud83d\"}";
  CHECK_INT(parse(&m, line), 0);
  CHECK_INT(m.type, IPC_T_WS_SEND);
  CHECK(m.body_len == 8 && memcmp(m.body, "half \xEF\xBF\xBD", 8) == 0);
  CHECK(m.line != line && m.line_len == strlen(line)); /* the mended copy, m's */
  CHECK(memmem(m.line, m.line_len, "\\ufffd", 6) != NULL);
  ipc_msg_free(&m);
  /* a low half alone, on the fast path (a chunk) */
  CHECK_INT(parse(&m, "{\"type\":\"chunk\",\"id\":4,\"data\":\"a\\uDfccb\"}"), 0);
  CHECK(m.body_len == 5 && memcmp(m.body,
                                  "a\xEF\xBF\xBD"
                                  "b",
                                  5) == 0);
  ipc_msg_free(&m);
  /* a high half before a whole pair: only the first is mended */
  CHECK_INT(parse(&m, "{\"type\":\"chunk\",\"id\":4,\"data\":\"\\ud83d\\ud83d\\ude00\"}"), 0);
  CHECK(m.body_len == 7 && memcmp(m.body, "\xEF\xBF\xBD\xF0\x9F\x98\x80", 7) == 0);
  ipc_msg_free(&m);
  /* publish data, and a reason */
  CHECK_INT(parse(&m, "{\"type\":\"publish\",\"topic\":\"r\",\"data\":\"x\\udbff\"}"), 0);
  CHECK(cJSON_IsString(m.data) && strcmp(m.data->valuestring, "x\xEF\xBF\xBD") == 0);
  ipc_msg_free(&m);
  CHECK_INT(
      parse(&m, "{\"type\":\"ws_close\",\"conn\":\"c\",\"code\":4000,\"reason\":\"\\ud800\"}"), 0);
  CHECK(m.reason_len == 3 && memcmp(m.reason, "\xEF\xBF\xBD", 3) == 0);
  ipc_msg_free(&m);
  /* a response refused for another field is still known by its id */
  int64_t id = 0;
  const char *bad = "{\"type\":\"response\",\"id\":6,\"status\":\"x\",\"b\\udc00\":1}";
  CHECK_INT(parse(&m, bad), UV_EINVAL);
  CHECK_INT(ipc_msg_response_id(bad, strlen(bad), &id), 1);
  CHECK_INT(id, 6);
  /* a line bad for another reason keeps its error */
  EXPECT_ERROR("{\"type\":\"chunk\",\"id\":4,\"data\":\"\\ud800\",}",
               "invalid JSON near offset 39"); /* the } after a comma */
  EXPECT_ERROR("{\"type\":\"bogus\",\"x\":\"\\ud800\"}", "unknown type \"bogus\"");
}

/* Raw bytes that are not UTF-8 inside a line (cJSON takes them): in text
 * for WebSocket clients, U+FFFD each (a browser fails a connection on a
 * text frame or close reason that is not UTF-8); in an HTTP body, bytes
 * as they came. */
TEST(raw_bytes_in_text_for_clients_read_as_fffd) {
  struct ipc_msg m;
  const char *line = "{\"type\":\"ws_send\",\"conn\":\"c1\",\"text\":\"a \xff\xc3( b\"}";
  CHECK_INT(parse(&m, line), 0);
  CHECK(m.body_len == 11 && memcmp(m.body, "a \xEF\xBF\xBD\xEF\xBF\xBD( b", 11) == 0);
  CHECK(m.line != line && m.line_len == strlen(line) + 4); /* the mended copy, m's */
  ipc_msg_free(&m);
  CHECK_INT(parse(&m, "{\"type\":\"publish\",\"topic\":\"r\",\"data\":\"\xfe\"}"), 0);
  CHECK(cJSON_IsString(m.data) && strcmp(m.data->valuestring, "\xEF\xBF\xBD") == 0);
  ipc_msg_free(&m);
  CHECK_INT(parse(&m, "{\"type\":\"ws_close\",\"conn\":\"c\",\"reason\":\"\xed\xa0\x80\"}"), 0);
  CHECK(m.reason_len == 9); /* a surrogate written out: three bytes, three U+FFFD */
  ipc_msg_free(&m);
  /* both mendings: a lone surrogate escape and a raw byte */
  CHECK_INT(parse(&m, "{\"type\":\"ws_send\",\"conn\":\"c\",\"text\":\"\\ud800\xff\"}"), 0);
  CHECK(m.body_len == 6 && memcmp(m.body, "\xEF\xBF\xBD\xEF\xBF\xBD", 6) == 0);
  ipc_msg_free(&m);
  /* an HTTP body is bytes: as the service wrote them */
  line = "{\"type\":\"response\",\"id\":1,\"status\":200,\"body\":\"\xff\"}";
  CHECK_INT(parse(&m, line), 0);
  CHECK(m.body_len == 1 && (unsigned char)m.body[0] == 0xff && m.line == line);
  ipc_msg_free(&m);
  /* the mender itself */
  struct ipc_buf b;
  ipc_buf_init(&b);
  CHECK_INT(ipc_utf8_mend("ok \xe2\x82\xac \x00", 8, NULL), 0);
  CHECK_INT(ipc_utf8_mend("\xc0\xaf\xf4\x90\x80\x80x", 7, &b), 6); /* overlong, past U+10FFFF */
  CHECK(b.len == 19 && memcmp(b.data + 18, "x", 1) == 0);
  ipc_buf_free(&b);
}

/* A PM2 program's process.send('ready') writes the bare JSON string
 * (SPEC §3): it is a `ready` message. */
TEST(bare_ready_string) {
  struct ipc_msg m;
  CHECK_INT(parse(&m, "\"ready\""), 0);
  CHECK_INT(m.type, IPC_T_READY);
  ipc_msg_free(&m);
  CHECK_INT(parse(&m, " \"ready\"\r"), 0);
  CHECK_INT(m.type, IPC_T_READY);
  ipc_msg_free(&m);
}

TEST(type_errors) {
  EXPECT_ERROR("{}", "missing field \"type\"");
  EXPECT_ERROR("{\"type\":1}", "field \"type\" must be a string");
  EXPECT_ERROR("{\"type\":\"bogus\"}", "unknown type \"bogus\"");
}

TEST(field_errors) {
  EXPECT_ERROR("{\"type\":\"request\",\"method\":\"GET\",\"path\":\"/\"}",
               "request: missing field \"id\"");
  EXPECT_ERROR("{\"type\":\"request\",\"id\":\"7\",\"method\":\"GET\",\"path\":\"/\"}",
               "request: field \"id\" must be an integer");
  EXPECT_ERROR("{\"type\":\"request\",\"id\":1.5,\"method\":\"GET\",\"path\":\"/\"}",
               "request: field \"id\" must be an integer");
  EXPECT_ERROR("{\"type\":\"request\",\"id\":1e300,\"method\":\"GET\",\"path\":\"/\"}",
               "request: field \"id\" must be an integer");
  EXPECT_ERROR("{\"type\":\"request\",\"id\":1,\"method\":7,\"path\":\"/\"}",
               "request: field \"method\" must be a string");
  EXPECT_ERROR("{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"/\",\"headers\":[]}",
               "request: field \"headers\" must be an object");
  EXPECT_ERROR(
      "{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"/\",\"headers\":{\"a\":1}}",
      "request: header \"a\" must be a string or an array of strings");
  EXPECT_ERROR("{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"/"
               "\",\"headers\":{\"a\":[\"x\",2]}}",
               "request: header \"a\" must be a string or an array of strings");
  EXPECT_ERROR(
      "{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"/\",\"body_base64\":\"@@@@\"}",
      "request: field \"body_base64\" is not valid base64");
  EXPECT_ERROR("{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"/"
               "\",\"body\":\"a\",\"body_base64\":\"YQ==\"}",
               "request: fields \"body\" and \"body_base64\" are exclusive");
  EXPECT_ERROR("{\"type\":\"ping\"}", "ping: missing field \"seq\"");
  EXPECT_ERROR("{\"type\":\"pong\",\"seq\":null}", "pong: field \"seq\" must be an integer");
  EXPECT_ERROR("{\"type\":\"response\",\"id\":1}", "response: missing field \"status\"");
  EXPECT_ERROR("{\"type\":\"response\",\"id\":1,\"status\":42}",
               "response: field \"status\" must be 100..999");
  EXPECT_ERROR("{\"type\":\"response\",\"id\":1,\"status\":200,\"stream\":1}",
               "response: field \"stream\" must be a boolean");
  EXPECT_ERROR("{\"type\":\"response\",\"id\":1,\"status\":200,\"body\":\"x\",\"json\":1}",
               "response: fields \"body\" and \"json\" are exclusive");
  EXPECT_ERROR("{\"type\":\"chunk\",\"id\":1}", "chunk: missing field \"data\"");
  EXPECT_ERROR("{\"type\":\"publish\",\"topic\":\"t\"}", "publish: missing field \"data\"");
  EXPECT_ERROR("{\"type\":\"subscribe\",\"topic\":[]}",
               "subscribe: field \"topic\" must be a string");
  EXPECT_ERROR("{\"type\":\"shutdown\",\"deadline_ms\":\"soon\"}",
               "shutdown: field \"deadline_ms\" must be an integer");
}

/* Encodes with fn, checks the line ends in exactly one "\n", parses it. */
static int roundtrip(struct ipc_buf *b, struct ipc_msg *m) {
  if (b->oom || b->len == 0 || b->data[b->len - 1] != '\n' ||
      memchr(b->data, '\n', b->len - 1) != NULL)
    return -1;
  return ipc_msg_parse(m, b->data, b->len - 1, err, sizeof(err));
}

TEST(encode_request_roundtrip) {
  struct ipc_buf b;
  struct ipc_msg m;
  struct ipc_header h[] = {{"x-a", 3, "v\"1\n", 4}, {"accept", 6, "*/*", 3}};
  struct ipc_request_out r = {.id = 42,
                              .method = "POST",
                              .method_len = 4,
                              .path = "/svc/x",
                              .path_len = 6,
                              .query = "q=1",
                              .query_len = 3,
                              .prefix = "/svc",
                              .prefix_len = 4,
                              .remote = "::1",
                              .remote_len = 3,
                              .headers = h,
                              .nheaders = 2,
                              .body = "h\xc3\xa9llo\x01",
                              .body_len = 7};
  ipc_buf_init(&b);
  ipc_enc_request(&b, &r);
  CHECK_INT(roundtrip(&b, &m), 0);
  CHECK_INT(m.id, 42);
  CHECK_STR(m.method, "POST");
  CHECK_STR(m.query, "q=1");
  CHECK_STR(m.remote, "::1");
  CHECK(m.root == NULL); /* the fast path: no cJSON tree */
  CHECK_INT(m.nhdrs, 2);
  CHECK_STR(m.hdrs[0].name, "x-a");
  CHECK_STR(m.hdrs[0].value, "v\"1\n");
  CHECK_STR(m.hdrs[1].name, "accept");
  CHECK_STR(m.hdrs[1].value, "*/*");
  CHECK_STR(m.body, "h\xc3\xa9llo\x01");
  CHECK(m.body_buf == NULL); /* valid UTF-8 travels as text */
  ipc_msg_free(&m);

  /* Binary bodies travel as base64 and come back byte for byte. */
  ipc_buf_reset(&b);
  r.body = "\x00\xff\xfe z";
  r.body_len = 5;
  ipc_enc_request(&b, &r);
  CHECK(strstr(b.data, "\"body_base64\":") != NULL);
  CHECK_INT(roundtrip(&b, &m), 0);
  CHECK_INT(m.body_len, 5);
  CHECK(memcmp(m.body, "\x00\xff\xfe z", 5) == 0);
  ipc_msg_free(&m);
  ipc_buf_free(&b);
}

TEST(encode_every_type_roundtrip) {
  struct ipc_buf b;
  struct ipc_msg m;
  struct ipc_header h[] = {{"content-type", 12, "text/plain", 10}};
  ipc_buf_init(&b);
#define RT(call, want_type)                                                                        \
  do {                                                                                             \
    ipc_buf_reset(&b);                                                                             \
    call;                                                                                          \
    CHECK_INT(roundtrip(&b, &m), 0);                                                               \
    CHECK_INT(m.type, want_type);                                                                  \
  } while (0)
  RT(ipc_enc_cancel(&b, 5), IPC_T_CANCEL);
  CHECK_INT(m.id, 5);
  ipc_msg_free(&m);
  RT(ipc_enc_ping(&b, 77), IPC_T_PING);
  CHECK_INT(m.seq, 77);
  ipc_msg_free(&m);
  RT(ipc_enc_pong(&b, 78), IPC_T_PONG);
  CHECK_INT(m.seq, 78);
  ipc_msg_free(&m);
  RT(ipc_enc_shutdown(&b, 3000), IPC_T_SHUTDOWN);
  CHECK_INT(m.deadline_ms, 3000);
  ipc_msg_free(&m);
  RT(ipc_enc_message(&b, "news", "{\"a\":1}", 7), IPC_T_MESSAGE);
  CHECK_STR(m.topic, "news");
  CHECK_INT(cJSON_GetObjectItem(m.data, "a")->valueint, 1);
  ipc_msg_free(&m);
  RT(ipc_enc_publish(&b, "t\"q", "\"s\"", 3), IPC_T_PUBLISH);
  CHECK_STR(m.topic, "t\"q");
  CHECK_STR(m.data->valuestring, "s");
  ipc_msg_free(&m);
  RT(ipc_enc_ready(&b), IPC_T_READY);
  ipc_msg_free(&m);
  RT(ipc_enc_response(&b, 9, 404, h, 1, "nope", 4, 0), IPC_T_RESPONSE);
  CHECK_INT(m.status, 404);
  CHECK(m.body_len == 4 && memcmp(m.body, "nope", 4) == 0); /* a span: no NUL */
  CHECK_STR(cJSON_GetObjectItem(m.headers, "content-type")->valuestring, "text/plain");
  ipc_msg_free(&m);
  RT(ipc_enc_response(&b, 9, 200, NULL, 0, NULL, 0, 1), IPC_T_RESPONSE);
  CHECK_INT(m.stream, 1);
  ipc_msg_free(&m);
  RT(ipc_enc_response_json(&b, 9, 200, NULL, 0, "[1,{\"x\":null}]", 14), IPC_T_RESPONSE);
  CHECK(m.json_len == 14 && memcmp(m.json_raw, "[1,{\"x\":null}]", 14) == 0);
  ipc_msg_free(&m);
  RT(ipc_enc_chunk(&b, 9, "\xff\x00", 2), IPC_T_CHUNK);
  CHECK_INT(m.body_len, 2);
  CHECK((unsigned char)m.body[0] == 0xff && m.body[1] == 0);
  ipc_msg_free(&m);
  RT(ipc_enc_end(&b, 9), IPC_T_END);
  ipc_msg_free(&m);
  RT(ipc_enc_subscribe(&b, "t"), IPC_T_SUBSCRIBE);
  ipc_msg_free(&m);
  RT(ipc_enc_unsubscribe(&b, "t"), IPC_T_UNSUBSCRIBE);
  ipc_msg_free(&m);
#undef RT
  ipc_buf_free(&b);
}

TEST(utf8_validation) {
  CHECK(ipc_utf8_valid("", 0));
  CHECK(ipc_utf8_valid("plain", 5));
  CHECK(ipc_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
  CHECK(!ipc_utf8_valid("a\0b", 3));             /* NUL cannot travel as text */
  CHECK(!ipc_utf8_valid("\xc0\xaf", 2));         /* overlong */
  CHECK(!ipc_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
  CHECK(!ipc_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
  CHECK(!ipc_utf8_valid("\xe2\x82", 2));         /* truncated */
  CHECK(!ipc_utf8_valid("\x80", 1));             /* lone continuation */
}

TEST(json_string_escaping) {
  struct ipc_buf b;
  ipc_buf_init(&b);
  ipc_json_str(&b, "a\"b\\c\n\t\x01\xff\xc3\xa9", 11);
  ipc_buf_addc(&b, '\0');
  CHECK_STR(b.data, "\"a\\\"b\\\\c\\n\\t\\u0001\xef\xbf\xbd\xc3\xa9\"");
  ipc_buf_free(&b);
}

TEST(base64) {
  static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  static const char *coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (int i = 0; i < 7; i++) {
    struct ipc_buf b;
    size_t n;
    ipc_buf_init(&b);
    ipc_b64_encode(&b, plain[i], strlen(plain[i]));
    ipc_buf_addc(&b, '\0');
    CHECK_STR(b.data, coded[i]);
    char *d = ipc_b64_decode(coded[i], strlen(coded[i]), &n);
    CHECK(d != NULL && n == strlen(plain[i]) && memcmp(d, plain[i], n) == 0);
    free(d);
    ipc_buf_free(&b);
  }
  size_t n;
  CHECK(ipc_b64_decode("abc", 3, &n) == NULL);      /* not a multiple of 4 */
  CHECK(ipc_b64_decode("ab=c", 4, &n) == NULL);     /* padding in the middle */
  CHECK(ipc_b64_decode("a===", 4, &n) == NULL);     /* too much padding */
  CHECK(ipc_b64_decode("Zg==Zg==", 8, &n) == NULL); /* padding before the end */
}

/* Parses line on the fast path and, with a leading blank (which the fast
 * path leaves alone), on the full cJSON path; both must agree. */
static void same_both_ways(const char *line, int lineno) {
  struct ipc_msg a, b;
  char slow[512];
  snprintf(slow, sizeof(slow), " %s", line);
  int ra = ipc_msg_parse(&a, line, strlen(line), err, sizeof(err));
  int rb = ipc_msg_parse(&b, slow, strlen(slow), err, sizeof(err));
  int ok = ra == rb;
  if (ok && ra == 0) {
    ok = a.type == b.type && a.id == b.id && a.seq == b.seq && a.status == b.status &&
         a.stream == b.stream && a.body_len == b.body_len && (a.body == NULL) == (b.body == NULL) &&
         (a.body == NULL || memcmp(a.body, b.body, a.body_len) == 0) &&
         (a.type == IPC_T_REQUEST || /* requests: compared as hdrs below */
          cJSON_GetArraySize(a.headers) == cJSON_GetArraySize(b.headers)) &&
         a.nhdrs == b.nhdrs && !strcmp(a.method ? a.method : "", b.method ? b.method : "") &&
         !strcmp(a.path ? a.path : "", b.path ? b.path : "") &&
         !strcmp(a.query ? a.query : "", b.query ? b.query : "") &&
         !strcmp(a.prefix ? a.prefix : "", b.prefix ? b.prefix : "") &&
         !strcmp(a.remote ? a.remote : "", b.remote ? b.remote : "");
    for (size_t i = 0; ok && i < a.nhdrs; i++)
      ok = !strcmp(a.hdrs[i].name, b.hdrs[i].name) && !strcmp(a.hdrs[i].value, b.hdrs[i].value);
    if (ok && b.json) { /* the raw text must hold the same value */
      cJSON *j = cJSON_ParseWithLength(a.json_raw, a.json_len);
      ok = j && cJSON_Compare(j, b.json, 1);
      cJSON_Delete(j);
    }
  }
  if (!ok) {
    printf("  line %d: fast and full paths disagree on %s (rc %d vs %d)\n", lineno, line, ra, rb);
    test_cur_failed = 1;
  }
  if (ra == 0)
    ipc_msg_free(&a);
  if (rb == 0)
    ipc_msg_free(&b);
}
#define SAME(line) same_both_ways(line, __LINE__)

TEST(fast_path_agrees_with_full_path) {
  SAME("{\"type\":\"pong\",\"seq\":12}");
  SAME("{\"type\":\"ready\"}");
  SAME("{\"type\":\"end\",\"id\":-3}");
  SAME("{\"type\":\"chunk\",\"id\":1,\"data\":\"a\\nb\\u00e9\\ud83d\\ude00\\\"\"}");
  SAME("{\"type\":\"chunk\",\"id\":1,\"data_base64\":\"AP8=\"}");
  SAME("{\"type\":\"response\",\"id\":5,\"status\":200,\"json\":{\"a\":[1,2.5e3,true,null,"
       "\"\\u0041\"]}}");
  SAME("{\"type\":\"response\",\"id\":5,\"status\":200,\"stream\":true,\"headers\":{\"a\":\"b\","
       "\"c\":[\"d\",\"e\"]}}");
  SAME("{\"type\":\"response\",\"id\":5,\"status\":204,\"headers\":{},\"body\":\"\"}");
  SAME("{ \"type\" : \"response\" , \"id\" : 5 , \"status\" : 201 , \"body\" : \"x\" }");
  SAME("{\"type\":\"response\",\"id\":5,\"status\":200,\"extra\":[{}],\"body\":\"x\"}");
  /* errors: both refuse */
  SAME("{\"type\":\"response\",\"id\":5,\"status\":99}");
  SAME("{\"type\":\"response\",\"id\":5,\"status\":200,\"body\":\"x\",\"json\":1}");
  SAME("{\"type\":\"response\",\"id\":5,\"status\":200,\"headers\":{\"a\":1}}");
  SAME("{\"type\":\"response\",\"id\":5,\"status\":200,\"stream\":1}");
  SAME("{\"type\":\"chunk\",\"id\":1}");
  SAME("{\"type\":\"chunk\",\"id\":1.5,\"data\":\"x\"}");
  SAME("{\"type\":\"pong\",\"seq\":\"1\"}");
  SAME("{\"type\":\"response\",\"id\":5,\"status\":200,\"json\":[1,]}");
  SAME("{\"type\":\"end\",\"id\":1} trailing");
  SAME("{\"type\":\"end\",\"id\":1,\"id\":2}"); /* duplicate: cJSON takes the first */
  SAME("{\"type\":\"chunk\",\"id\":4,\"data\":\"a\\uDfccb\"}"); /* fuzz: lone surrogate */
  SAME("{\"type\":\"response\",\"id\":4,\"status\":200,\"json\":\"\\ud800\"}");
  /* requests */
  SAME("{\"type\":\"request\",\"id\":9,\"method\":\"GET\",\"path\":\"/d/e\",\"query\":\"a=1\","
       "\"prefix\":\"/"
       "d\",\"remote\":\"::1\",\"headers\":{\"host\":\"x\",\"a\":\"\"},\"body\":\"\"}");
  SAME("{\"type\":\"request\",\"id\":9,\"method\":\"GET\",\"path\":\"/\"}");
  SAME("{\"type\":\"request\",\"id\":9,\"method\":\"P\\u004fST\",\"path\":\"/\\n\","
       "\"headers\":{\"k\\u0065y\":\"v\\\"\\u00e9\",\"k2\":[\"a\",\"b\"]},\"body\":\"x\\ty\"}");
  SAME("{\"type\":\"request\",\"id\":9,\"method\":\"GET\",\"path\":\"/"
       "\",\"headers\":{\"a\":\"x\\u0000y\"}}");
  SAME("{\"type\":\"request\",\"id\":9,\"method\":\"GET\",\"path\":\"/\",\"body\":\"x\\u0000y\"}");
  SAME(
      "{\"type\":\"request\",\"id\":9,\"method\":\"GET\",\"path\":\"/\",\"body_base64\":\"AP8=\"}");
  SAME("{\"type\":\"request\",\"id\":9,\"method\":\"GET\",\"path\":\"/"
       "\",\"headers\":{\"a\":\"1\",\"a\":\"2\"}}");
  SAME("{\"type\":\"request\",\"id\":9,\"method\":\"GET\",\"path\":\"/\",\"query\":5}");
  SAME("{\"type\":\"request\",\"id\":9,\"method\":\"GET\"}");
  SAME("{\"type\":\"request\",\"id\":9,\"method\":\"GET\",\"path\":\"/\",\"headers\":{\"a\":1}}");
  SAME("{\"type\":\"request\",\"id\":9,\"method\":\"GET\",\"path\":\"/"
       "\",\"body\":\"a\",\"body_base64\":\"\"}");
  SAME("{\"type\":\"request\",\"id\":9,\"method\":\"GET\",\"path\":\"/\",\"headers\":[]}");
}

/* U+0000 is text: a body, chunk, ws_send or ws_message text holding one
 * keeps every byte (cJSON would end the C string there). */
TEST(nul_in_text_bodies) {
  static const struct {
    const char *line;
    const char *want;
    size_t n;
  } cases[] = {
      {"{\"type\":\"ws_send\",\"conn\":\"c\",\"text\":\"\\u0000\"}", "\0", 1},
      {"{\"type\":\"ws_send\",\"conn\":\"c\",\"text\":\"a\\u0000b\\u00e9\"}", "a\0b\xc3\xa9", 5},
      {"{\"type\":\"ws_message\",\"conn\":\"c\",\"seq\":1,\"text\":\"x\\u0000\"}", "x\0", 2},
      {"{\"type\":\"response\",\"id\":1,\"status\":200,\"body\":\"a\\u0000b\"}", "a\0b", 3},
      {"{\"type\":\"chunk\",\"id\":1,\"data\":\"\\u0000\\u0000\"}", "\0\0", 2},
      {"{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"/\",\"body\":\"a\\u0000\"}",
       "a\0", 2},
      /* the first member of the name, as cJSON takes it */
      {"{\"type\":\"ws_send\",\"conn\":\"c\",\"te\\u0078t\":\"1\\u0000\",\"text\":\"2\"}", "1\0",
       2},
      /* an escaped backslash before u0000 is no NUL */
      {"{\"type\":\"ws_send\",\"conn\":\"c\",\"text\":\"\\\\u0000\"}", "\\u0000", 6},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct ipc_msg m;
    char slow[256];
    snprintf(slow, sizeof(slow), " %s", cases[i].line); /* the full path too */
    for (int k = 0; k < 2; k++) {
      const char *line = k ? slow : cases[i].line;
      if (parse(&m, line) != 0) {
        printf("  case %zu: %s\n", i, err);
        test_cur_failed = 1;
        continue;
      }
      CHECK_INT(m.body_len, cases[i].n);
      CHECK(m.body && memcmp(m.body, cases[i].want, cases[i].n) == 0);
      ipc_msg_free(&m);
    }
  }
}

/* Any other string holding U+0000 is refused, not cut where cJSON ends
 * it: the topic "t\u0000x" would have been the room "t". */
TEST(nul_in_names_refused) {
  static const struct {
    const char *line;
    const char *err;
  } cases[] = {
      {"{\"type\":\"publish\",\"topic\":\"t\\u0000x\",\"data\":1}",
       "publish: field \"topic\" must not hold U+0000"},
      {"{\"type\":\"subscribe\",\"topic\":\"\\u0000\"}",
       "subscribe: field \"topic\" must not hold U+0000"},
      {"{\"type\":\"publish\",\"topic\":\"t\",\"except\":\"c\\u00001\",\"data\":1}",
       "publish: field \"except\" must not hold U+0000"},
      {"{\"type\":\"ws_send\",\"conn\":\"c1\\u0000\",\"text\":\"x\"}",
       "ws_send: field \"conn\" must not hold U+0000"},
      {"{\"type\":\"ws_send\",\"conn\":\"c\",\"data_base64\":\"QUJD\\u0000RA==\"}",
       "ws_send: field \"data_base64\" must not hold U+0000"},
      {"{\"type\":\"request\",\"id\":1,\"method\":\"GET\",\"path\":\"/a\\u0000b\"}",
       "request: field \"path\" must not hold U+0000"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct ipc_msg m;
    char slow[256];
    snprintf(slow, sizeof(slow), " %s", cases[i].line); /* the full path too */
    for (int k = 0; k < 2; k++) {
      CHECK_INT(parse(&m, k ? slow : cases[i].line), UV_EINVAL);
      CHECK_STR(err, cases[i].err);
    }
  }
  struct ipc_msg m; /* an escaped backslash before u0000 is no NUL */
  CHECK_INT(parse(&m, "{\"type\":\"subscribe\",\"topic\":\"\\\\u0000\"}"), 0);
  CHECK_STR(m.topic, "\\u0000");
  ipc_msg_free(&m);
}

TEST(scanner) {
  static const char *valid[] = {"0",    "-1.5e-3", "\"\\u00e9\"",
                                "[]",   "{}",      "[1,[2,{\"a\":null}]]",
                                "true", " false ", "{\"k\":\"v\",\"n\":[true]}"};
  static const char *invalid[] = {"",        "01",  "1.", "-",   "[1,]",  "{\"a\"}",   "{\"a\":}",
                                  "\"\\x\"", "\"a", "[",  "tru", "{1:2}", "\"\\u12\"", "\"\x01\""};
  for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
    const char *e = ipc_scan_value(valid[i], valid[i] + strlen(valid[i]));
    CHECK(e != NULL);
  }
  for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
    const char *end = invalid[i] + strlen(invalid[i]);
    const char *e = ipc_scan_value(invalid[i], end);
    if (e != NULL && e == end) {
      printf("  scanner accepted %s\n", invalid[i]);
      test_cur_failed = 1;
    }
  }
  char deep[200];
  memset(deep, '[', 100);
  memset(deep + 100, ']', 100);
  CHECK(ipc_scan_value(deep, deep + 200) == NULL); /* deeper than the limit */
  struct ipc_buf b;
  ipc_buf_init(&b);
  const char *s = "\"a\\\"b\\\\c\\/d\\ud83d\\ude00x\"";
  CHECK_INT(ipc_scan_string(s, strlen(s), &b), 0);
  ipc_buf_addc(&b, '\0');
  CHECK_STR(b.data, "a\"b\\c/d\xf0\x9f\x98\x80x");
  /* unpaired surrogates are refused, as cJSON refuses them */
  CHECK(ipc_scan_string("\"\\ud800x\"", 9, &b) == UV_EINVAL);
  CHECK(ipc_scan_string("\"\\udfccx\"", 9, &b) == UV_EINVAL);
  ipc_buf_free(&b);
}

int main(void) {
  RUN(fast_path_agrees_with_full_path);
  RUN(scanner);
  RUN(nul_in_text_bodies);
  RUN(nul_in_names_refused);
  RUN(parse_request);
  RUN(parse_request_defaults_and_base64);
  RUN(parse_every_type);
  RUN(parse_response_fields);
  RUN(invalid_json);
  RUN(bare_ready_string);
  RUN(lone_surrogates_read_as_fffd);
  RUN(raw_bytes_in_text_for_clients_read_as_fffd);
  RUN(type_errors);
  RUN(field_errors);
  RUN(encode_request_roundtrip);
  RUN(encode_every_type_roundtrip);
  RUN(utf8_validation);
  RUN(json_string_escaping);
  RUN(base64);
  return test_summary();
}
