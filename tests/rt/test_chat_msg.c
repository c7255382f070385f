/* Unit tests of chat_msg (services/chat): the names and rooms the chat
 * accepts, the client messages it understands, the publications it makes. */
#include <stdlib.h>
#include <string.h>

#include "chat_msg.h"
#include "test.h"

#define NAME_OK(s) chat_name_valid(s, strlen(s))
#define ROOM_OK(s) chat_room_valid(s, strlen(s))

/* The JSON text of o (freed), for comparisons. */
static char *text_of(cJSON *o) {
  static char buf[4096];
  char *t = o ? cJSON_PrintUnformatted(o) : NULL;
  snprintf(buf, sizeof(buf), "%s", t ? t : "(null)");
  free(t);
  cJSON_Delete(o);
  return buf;
}

TEST(names) {
  CHECK(NAME_OK("Ada"));
  CHECK(NAME_OK("Ada Lovelace"));
  CHECK(NAME_OK("Zoë 😀"));
  CHECK(NAME_OK("<b>&amp;</b>")); /* shown as text by the page */
  CHECK(NAME_OK("12345678901234567890123456789012"));
  CHECK(!NAME_OK("123456789012345678901234567890123")); /* 33 bytes */
  CHECK(!NAME_OK(""));
  CHECK(!NAME_OK("   "));
  CHECK(!NAME_OK("a\tb"));
  CHECK(!NAME_OK("a\nb"));
  CHECK(!NAME_OK("a\x7f"));
  CHECK(!NAME_OK("\xff\xfe"));
  CHECK(!NAME_OK("\xc3")); /* a cut UTF-8 sequence */
  CHECK(!chat_name_valid("a\0b", 3));
}

TEST(rooms) {
  CHECK(ROOM_OK("lobby"));
  CHECK(ROOM_OK("Room_1.b-c"));
  CHECK(ROOM_OK("12345678901234567890123456789012"));
  CHECK(!ROOM_OK("123456789012345678901234567890123"));
  CHECK(!ROOM_OK(""));
  CHECK(!ROOM_OK("a b"));
  CHECK(!ROOM_OK("a/b"));
  CHECK(!ROOM_OK("a=b"));
  CHECK(!ROOM_OK("a,b"));
  CHECK(!ROOM_OK("café"));
}

TEST(parse) {
  struct chat_in in;
  const char *why = NULL;
  const char *ok = "{\"type\":\"say\",\"text\":\"hi <there>\",\"extra\":1}";
  CHECK_INT(chat_parse(&in, ok, strlen(ok), &why), 0);
  CHECK_STR(in.text, "hi <there>");
  chat_in_free(&in);
  CHECK(in.tree == NULL && in.text == NULL);
  static const char *const bad[][2] = {
      {"", "a message is a JSON object"},
      {"hello", "a message is a JSON object"},
      {"[1]", "a message is a JSON object"},
      {"{\"text\":\"x\"}", "unknown message type"},
      {"{\"type\":\"shout\",\"text\":\"x\"}", "unknown message type"},
      {"{\"type\":\"say\"}", "say needs a text"},
      {"{\"type\":\"say\",\"text\":\"\"}", "say needs a text"},
      {"{\"type\":\"say\",\"text\":5}", "say needs a text"}};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    why = NULL;
    CHECK_INT(chat_parse(&in, bad[i][0], strlen(bad[i][0]), &why), -1);
    CHECK(why != NULL && strncmp(why, bad[i][1], strlen(bad[i][1])) == 0);
    CHECK(in.tree == NULL);
  }
  /* the length is the message's, not up to a NUL */
  CHECK_INT(chat_parse(&in, ok, 10, &why), -1);
}

TEST(text_limit) {
  struct chat_in in;
  const char *why;
  char msg[CHAT_TEXT_MAX + 64];
  for (int n = CHAT_TEXT_MAX; n <= CHAT_TEXT_MAX + 1; n++) {
    int k = snprintf(msg, sizeof(msg), "{\"type\":\"say\",\"text\":\"");
    memset(msg + k, 'x', (size_t)n);
    k += n;
    k += snprintf(msg + k, sizeof(msg) - (size_t)k, "\"}");
    int rc = chat_parse(&in, msg, (size_t)k, &why);
    CHECK_INT(rc, n == CHAT_TEXT_MAX ? 0 : -1);
    if (rc == 0)
      chat_in_free(&in);
    else
      CHECK_STR(why, "text too long (at most 2000 bytes)");
  }
}

TEST(meta) {
  const char *name, *room;
  cJSON *m = chat_meta_new("Ada", "lobby");
  CHECK_INT(chat_meta_read(m, &name, &room), 0);
  CHECK_STR(name, "Ada");
  CHECK_STR(room, "lobby");
  CHECK_STR(text_of(m), "{\"name\":\"Ada\",\"room\":\"lobby\"}");
  CHECK_INT(chat_meta_read(NULL, &name, &room), -1);
  static const char *const bad[] = {"{}",
                                    "{\"name\":\"Ada\"}",
                                    "{\"room\":\"lobby\"}",
                                    "{\"name\":\"\",\"room\":\"lobby\"}",
                                    "{\"name\":\"Ada\",\"room\":\"a b\"}",
                                    "{\"name\":1,\"room\":\"lobby\"}",
                                    "\"Ada\"",
                                    "null"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    cJSON *b = cJSON_Parse(bad[i]);
    CHECK_INT(chat_meta_read(b, &name, &room), -1);
    cJSON_Delete(b);
  }
}

TEST(publications) {
  char id[64];
  chat_msg_id(id, sizeof(id), "00ab-7", 12);
  CHECK_STR(id, "00ab-7/12");
  CHECK_STR(text_of(chat_say_new("Ada", "hi \"you\"", "00ab-7", 3, 1700000000123, 0)),
            "{\"type\":\"say\",\"from\":\"Ada\",\"text\":\"hi \\\"you\\\"\",\"id\":\"00ab-7/3\","
            "\"at\":1700000000123}");
  CHECK_STR(text_of(chat_say_new("Ada", "again", "00ab-7", 4, 5, 1)),
            "{\"type\":\"say\",\"from\":\"Ada\",\"text\":\"again\",\"id\":\"00ab-7/4\","
            "\"at\":5,\"redelivered\":true}");
  CHECK_STR(text_of(chat_notice_new("join", "Bob", "lobby", "00ab-8", 6)),
            "{\"type\":\"join\",\"name\":\"Bob\",\"room\":\"lobby\",\"id\":\"00ab-8/join\","
            "\"at\":6}");
  CHECK_STR(text_of(chat_notice_new("leave", "Bob", "lobby", "00ab-8", 7)),
            "{\"type\":\"leave\",\"name\":\"Bob\",\"room\":\"lobby\",\"id\":\"00ab-8/leave\","
            "\"at\":7}");
  CHECK_STR(text_of(chat_error_new("no")), "{\"type\":\"error\",\"error\":\"no\"}");
}

int main(void) {
  RUN(names);
  RUN(rooms);
  RUN(parse);
  RUN(text_limit);
  RUN(meta);
  RUN(publications);
  return test_summary();
}
