/* fuzz_ctl — control request parsing (ctl_cmd_parse, SPEC §5).
 *
 * Checks: nothing crashes or leaks; every refusal says why; an accepted
 * line is exactly one JSON object (blanks around it allowed: one request
 * per line), its fields are in range and the command's required fields
 * are there; the parsed command written back as JSON parses to the same
 * command. */
#include <cjson/cJSON.h>
#include <string.h>

#include "ctl_cmd.h"
#include "fuzz.h"

static const int needs_service[] = {[CTL_NONE] = 0,
#define XX(e, s, svc) [CTL_##e] = svc,
                                    CTL_CMD_MAP(XX)
#undef XX
};

/* 1 when line[0..len) is one JSON value with nothing but blanks after it. */
static int one_value(const char *line, size_t len) {
  const char *end = NULL;
  cJSON *v = cJSON_ParseWithLengthOpts(line, len, &end, 0);
  int ok = v != NULL;
  for (const char *p = end; ok && p < line + len; p++)
    ok = *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n';
  cJSON_Delete(v);
  return ok;
}

/* Writes c back as a request line (malloc'd). */
static char *encode(const struct ctl_cmd *c) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "cmd", ctl_cmd_name(c->type));
  if (c->service[0])
    cJSON_AddStringToObject(o, "service", c->service);
  cJSON_AddNumberToObject(o, "lines", (double)c->lines);
  if (c->type == CTL_SCALE || c->instances)
    cJSON_AddNumberToObject(o, "instances", (double)c->instances);
  cJSON_AddBoolToObject(o, "follow", c->follow);
  char *s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct ctl_cmd c, again;
  char err[200], err2[200];
  const char *line = (const char *)data;
  err[0] = '\0';
  if (ctl_cmd_parse(line, size, &c, err, sizeof(err)) != 0) {
    FUZZ_CHECK(err[0] != '\0', "a refusal without a reason");
    return 0;
  }
  FUZZ_CHECK(one_value(line, size), "accepted a line that is not one JSON object: %.*s", (int)size,
             line);
  FUZZ_CHECK(c.type > CTL_NONE && c.type <= CTL_VERSION, "type %d", (int)c.type);
  FUZZ_CHECK(c.lines >= 1 && c.lines <= CTL_LINES_MAX, "lines %lld", (long long)c.lines);
  FUZZ_CHECK(c.instances >= 0 && c.instances <= 1024, "instances %lld", (long long)c.instances);
  FUZZ_CHECK(c.follow == 0 || c.follow == 1, "follow %d", c.follow);
  size_t n = strnlen(c.service, sizeof(c.service));
  FUZZ_CHECK(n < sizeof(c.service), "service not terminated");
  if (needs_service[c.type] == 1)
    FUZZ_CHECK(n > 0, "%s accepted without a service", ctl_cmd_name(c.type));
  char *text = encode(&c);
  FUZZ_CHECK(text != NULL, "encoding failed");
  int rc = ctl_cmd_parse(text, strlen(text), &again, err2, sizeof(err2));
  FUZZ_CHECK(rc == 0, "%s refused (%s)", text, err2);
  FUZZ_CHECK(again.type == c.type && strcmp(again.service, c.service) == 0 &&
                 again.instances == c.instances && again.lines == c.lines &&
                 again.follow == c.follow,
             "%s parses to another command", text);
  free(text);
  return 0;
}
