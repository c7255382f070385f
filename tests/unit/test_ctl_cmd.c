/* Unit tests for ctl_cmd: every command, defaults, and each kind of error. */
#include <signal.h>
#include <uv.h>

#include "ctl_cmd.h"
#include "test.h"

static char err[200];

static int parse(const char *s, struct ctl_cmd *c) {
  return ctl_cmd_parse(s, strlen(s), c, err, sizeof(err));
}

static void expect_err(const char *line, const char *want, int lineno) {
  struct ctl_cmd c;
  if (parse(line, &c) != UV_EINVAL || strcmp(err, want) != 0) {
    printf("  line %d: %s -> \"%s\", expected \"%s\"\n", lineno, line, err, want);
    test_cur_failed = 1;
  }
}
#define EXPECT_ERR(l, w) expect_err(l, w, __LINE__)

TEST(valid_commands) {
  struct ctl_cmd c;
  CHECK_INT(parse("{\"cmd\":\"status\"}", &c), 0);
  CHECK_INT(c.type, CTL_STATUS);
  CHECK_STR(c.service, "");
  CHECK_INT(parse("{\"cmd\":\"status\",\"service\":\"dummy\"}", &c), 0);
  CHECK_STR(c.service, "dummy");
  CHECK_INT(parse("{\"cmd\":\"scale\",\"service\":\"d\",\"instances\":4}", &c), 0);
  CHECK_INT(c.type, CTL_SCALE);
  CHECK_INT(c.instances, 4);
  CHECK_INT(c.add, 0);
  CHECK_INT(parse("{\"cmd\":\"scale\",\"service\":\"d\",\"instances\":\"+3\"}", &c), 0);
  CHECK_INT(c.instances, 3); /* pm2 scale d +3: three more */
  CHECK_INT(c.add, 1);
  CHECK_INT(parse("{\"cmd\":\"scale\",\"service\":\"d\",\"instances\":\"+1024\"}", &c), 0);
  CHECK_INT(parse("{\"cmd\":\"logs\",\"service\":\"d\"}", &c), 0);
  CHECK_INT(c.lines, CTL_LINES_DEFAULT);
  CHECK_INT(c.follow, 0);
  CHECK_INT(parse("{\"cmd\":\"logs\",\"service\":\"d\",\"lines\":7,\"follow\":true}", &c), 0);
  CHECK_INT(c.lines, 7);
  CHECK_INT(c.follow, 1);
  CHECK_INT(parse("{\"cmd\":\"signal\",\"service\":\"d\",\"signal\":\"HUP\"}", &c), 0);
  CHECK_INT(c.signo, SIGHUP);
  CHECK_INT(parse("{\"cmd\":\"signal\",\"service\":\"d\",\"signal\":\"SIGKILL\"}", &c), 0);
  CHECK_INT(c.signo, SIGKILL);
  CHECK_INT(parse("{\"cmd\":\"env\",\"service\":\"d\",\"index\":2}", &c), 0);
  CHECK_INT(c.type, CTL_ENV);
  CHECK_INT(c.index, 2);
  CHECK_INT(parse("{\"cmd\":\"env\",\"service\":\"d\"}", &c), 0);
  CHECK_INT(c.index, 0);
  CHECK_INT(parse("{\"cmd\":\"flush\"}", &c), 0); /* every service's */
  CHECK_INT(c.type, CTL_FLUSH);
  CHECK_INT(parse("{\"cmd\":\"flush\",\"service\":\"d\"}", &c), 0);
  CHECK_STR(c.service, "d");
  CHECK_INT(parse("{\"cmd\":\"logs\",\"follow\":true}", &c), 0); /* every service's */
  CHECK_STR(c.service, "");
  CHECK_INT(c.follow, 1);
  const char *simple[] = {"reload", "events", "shutdown", "version"};
  enum ctl_cmd_type types[] = {CTL_RELOAD, CTL_EVENTS, CTL_SHUTDOWN, CTL_VERSION};
  for (int i = 0; i < 4; i++) {
    char line[64];
    snprintf(line, sizeof(line), "{\"cmd\":\"%s\"}", simple[i]);
    CHECK_INT(parse(line, &c), 0);
    CHECK_INT(c.type, types[i]);
  }
}

TEST(errors) {
  EXPECT_ERR("{\"cmd\":", "invalid JSON near offset 6");
  EXPECT_ERR("[]", "a request is a JSON object like {\"cmd\":\"status\"}");
  /* cJSON takes raw bytes that are not UTF-8: a published text carried them to clients */
  EXPECT_ERR("{\"cmd\":\"publish\",\"topic\":\"r\",\"data\":\"a \xff b\"}",
             "a request must be UTF-8 text (1 byte is not)");
  EXPECT_ERR("{\"cmd\":\"publish\",\"topic\":\"r\xc3\",\"data\":\"\xed\xa0\x80\"}",
             "a request must be UTF-8 text (4 bytes are not)");
  /* cJSON would read "web\u0000x" as "web": the service a restart named not */
  EXPECT_ERR("{\"cmd\":\"restart\",\"service\":\"web\\u0000x\"}",
             "invalid JSON near offset 31: U+0000 is not taken");
  EXPECT_ERR("{}", "field \"cmd\" (a string) is required");
  EXPECT_ERR("{\"cmd\":5}", "field \"cmd\" (a string) is required");
  EXPECT_ERR("{\"cmd\":\"frob\"}", "unknown command \"frob\"");
  EXPECT_ERR("{\"cmd\":\"stop\"}", "stop: field \"service\" is required");
  EXPECT_ERR("{\"cmd\":\"stop\",\"service\":\"\"}",
             "stop: field \"service\" must be a service name");
  EXPECT_ERR("{\"cmd\":\"stop\",\"service\":1}", "stop: field \"service\" must be a service name");
  EXPECT_ERR("{\"cmd\":\"stop\",\"sevice\":\"d\"}", "unknown field \"sevice\"");
  EXPECT_ERR("{\"cmd\":\"scale\",\"service\":\"d\"}", "scale: field \"instances\" is required");
  EXPECT_ERR("{\"cmd\":\"scale\",\"service\":\"d\",\"instances\":1025}",
             "scale: field \"instances\" must be an integer 0..1024");
  EXPECT_ERR("{\"cmd\":\"scale\",\"service\":\"d\",\"instances\":1.5}",
             "scale: field \"instances\" must be an integer 0..1024");
  static const char *const bad_adds[] = {"+", "+x", "+0",  "+1025",
                                         "3", "-1", "+1 ", "+99999999999"};
  for (size_t i = 0; i < sizeof(bad_adds) / sizeof(bad_adds[0]); i++) {
    char line[128];
    snprintf(line, sizeof(line), "{\"cmd\":\"scale\",\"service\":\"d\",\"instances\":\"%s\"}",
             bad_adds[i]);
    EXPECT_ERR(line, "scale: field \"instances\" must be an integer 0..1024 or \"+N\" (N 1..1024)");
  }
  static const char *const bad_signals[] = {
      "{\"cmd\":\"signal\",\"service\":\"d\"}",
      "{\"cmd\":\"signal\",\"service\":\"d\",\"signal\":1}",
      "{\"cmd\":\"signal\",\"service\":\"d\",\"signal\":\"STOP\"}",
      "{\"cmd\":\"signal\",\"service\":\"d\",\"signal\":\"SIG\"}",
      "{\"cmd\":\"signal\",\"service\":\"d\",\"signal\":\"hup\"}"};
  for (size_t i = 0; i < sizeof(bad_signals) / sizeof(bad_signals[0]); i++)
    EXPECT_ERR(bad_signals[i], "signal: field \"signal\" must be one of SIGTERM, SIGINT, SIGQUIT, "
                               "SIGHUP, SIGUSR1, SIGUSR2, SIGABRT, SIGALRM, SIGWINCH, SIGPWR, "
                               "SIGKILL");
  EXPECT_ERR("{\"cmd\":\"signal\"}", "signal: field \"service\" is required");
  EXPECT_ERR("{\"cmd\":\"env\"}", "env: field \"service\" is required");
  EXPECT_ERR("{\"cmd\":\"env\",\"service\":\"d\",\"index\":1024}",
             "env: field \"index\" must be an integer 0..1023");
  EXPECT_ERR("{\"cmd\":\"logs\",\"service\":\"d\",\"lines\":0}",
             "logs: field \"lines\" must be an integer 1..10000");
  EXPECT_ERR("{\"cmd\":\"logs\",\"service\":\"d\",\"follow\":1}",
             "logs: field \"follow\" must be true or false");
}

int main(void) {
  RUN(valid_commands);
  RUN(errors);
  return test_summary();
}
