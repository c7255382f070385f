/* Fuzz target: control request parsing (ctl_cmd_parse). */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "ctl_cmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct ctl_cmd c;
  char err[200];
  if (ctl_cmd_parse((const char *)data, size, &c, err, sizeof(err)) == 0) {
    assert(c.type > CTL_NONE && c.type <= CTL_VERSION);
    assert(c.lines >= 1 && c.lines <= CTL_LINES_MAX);
    assert(c.instances >= 0 && c.instances <= 1024);
    assert(strlen(c.service) < sizeof(c.service));
  } else {
    assert(err[0] != '\0'); /* every refusal says why */
  }
  return 0;
}
