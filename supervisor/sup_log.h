/* sup_log — muster's own log: one line per event on stderr,
 * "2026-11-23T03:02:01.123Z info dummy[1]: ready in 4 ms (pid 1234)". */
#ifndef MUSTER_SUP_LOG_H
#define MUSTER_SUP_LOG_H

enum sup_level { SUP_DEBUG = 0, SUP_INFO, SUP_WARN, SUP_ERROR };

/* Lines below this level are not written (default SUP_INFO;
 * MUSTER_LOG_LEVEL=debug|info|warn|error overrides at start-up). */
void sup_log_set_level(enum sup_level level);
void sup_log_init_from_env(void);

void sup_log(enum sup_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Formats the current UTC time as 2026-11-23T03:02:01.123Z into out (>= 25
 * bytes). */
void sup_log_timestamp(char *out, unsigned outlen);

#endif
