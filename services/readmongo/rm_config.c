/* rm_config — settings from the environment. See rm_config.h. */
#include "rm_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* Reads variable name as an integer in [min, max] (def when unset or
 * empty). Returns 0, or UV_EINVAL with a message in err. */
static int get_int(const char *(*getenv_fn)(const char *), const char *name, int64_t min,
                   int64_t max, int64_t def, int64_t *out, char *err, size_t errlen) {
  const char *s = getenv_fn(name);
  if (s == NULL || *s == '\0') {
    *out = def;
    return 0;
  }
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max) {
    snprintf(err, errlen, "%s=\"%s\": must be an integer %lld..%lld", name, s, (long long)min,
             (long long)max);
    return UV_EINVAL;
  }
  *out = v;
  return 0;
}

int rm_config_load(struct rm_config *cfg, const char *(*getenv_fn)(const char *name), char *err,
                   size_t errlen) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->uri = getenv_fn("MONGODB_URI");
  if (cfg->uri == NULL || *cfg->uri == '\0')
    cfg->uri = RM_DEFAULT_URI;
  cfg->allow = getenv_fn("READMONGO_ALLOW");
  if (cfg->allow != NULL && *cfg->allow == '\0')
    cfg->allow = NULL;
  int64_t threads;
  if (get_int(getenv_fn, "READMONGO_MAX_LIMIT", 1, 100000000, 1000, &cfg->max_limit, err, errlen) <
          0 ||
      get_int(getenv_fn, "READMONGO_MAX_TIME_MS", 1, 86400000, 5000, &cfg->max_time_ms, err,
              errlen) < 0 ||
      get_int(getenv_fn, "READMONGO_HEALTH_TIMEOUT_MS", 1, 600000, 1000, &cfg->health_timeout_ms,
              err, errlen) < 0 ||
      get_int(getenv_fn, "READMONGO_MAX_RESPONSE_BYTES", 1024, RM_MAX_RESPONSE_BYTES, 16 << 20,
              &cfg->max_response_bytes, err, errlen) < 0 ||
      get_int(getenv_fn, "UV_THREADPOOL_SIZE", 2, 1024, RM_DEFAULT_THREADS, &threads, err, errlen) <
          0)
    return UV_EINVAL;
  cfg->threads = (int)threads;
  const char *t = getenv_fn("UV_THREADPOOL_SIZE");
  cfg->threads_defaulted = t == NULL || *t == '\0';
  return 0;
}

void rm_config_redact_uri(const char *uri, char *out, size_t outlen) {
  if (outlen == 0)
    return;
  const char *scheme = strstr(uri, "://");
  const char *hosts = scheme ? scheme + 3 : uri;
  const char *slash = strchr(hosts, '/');
  const char *at = strchr(hosts, '@');
  if (at != NULL && (slash == NULL || at < slash)) {
    const char *colon = memchr(hosts, ':', (size_t)(at - hosts));
    if (colon != NULL) {
      snprintf(out, outlen, "%.*s:***%s", (int)(colon - uri), uri, at);
      return;
    }
  }
  snprintf(out, outlen, "%s", uri);
}
