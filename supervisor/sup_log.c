/* sup_log — muster's stderr log. See sup_log.h. */
#include "sup_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static enum sup_level min_level = SUP_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void sup_log_set_level(enum sup_level level) {
  min_level = level;
}

void sup_log_init_from_env(void) {
  const char *s = getenv("MUSTER_LOG_LEVEL");
  for (int i = 0; s && i < 4; i++)
    if (strcmp(s, level_names[i]) == 0)
      min_level = (enum sup_level)i;
}

void sup_log_timestamp(char *out, unsigned outlen) {
  struct timeval tv;
  struct tm tm;
  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
}

void sup_log(enum sup_level level, const char *fmt, ...) {
  if (level < min_level)
    return;
  char line[2048], ts[32];
  va_list ap;
  sup_log_timestamp(ts, sizeof(ts));
  int n = snprintf(line, sizeof(line), "%s %s ", ts, level_names[level]);
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
  va_end(ap);
  size_t len = strlen(line);
  line[len++] = '\n';
  fwrite(line, 1, len, stderr); /* one write: lines never interleave */
}
