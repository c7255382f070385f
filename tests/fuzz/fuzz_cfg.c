/* Fuzz target: config loading and validation (cfg_parse), and ${VAR}
 * expansion (cfg_expand), with a fake environment. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"

static const char *fake_getenv(void *ctx, const char *name) {
  (void)ctx;
  if (strcmp(name, "HOME") == 0)
    return "/root";
  if (strcmp(name, "EMPTY") == 0)
    return "";
  if (strcmp(name, "PORT") == 0)
    return "8080";
  return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct cfg_env env = {.file = "fuzz.json", .dir = "/tmp", .bin_dir = NULL,
                        .path = "/usr/bin:/bin", .getenv = fake_getenv};
  struct cfg *c = NULL;
  struct cfg_errors errs;
  cfg_errors_init(&errs);
  if (cfg_parse((const char *)data, size, &env, &c, &errs) == 0)
    cfg_free(c);
  char *joined = cfg_errors_join(&errs, "\n");
  free(joined);
  cfg_errors_free(&errs);
  /* The same bytes as one string for the expander. */
  char *s = malloc(size + 1), *out = NULL, err[128];
  memcpy(s, data, size);
  s[size] = '\0';
  if (cfg_expand(s, fake_getenv, NULL, &out, err, sizeof(err)) == 0)
    free(out);
  free(s);
  return 0;
}
