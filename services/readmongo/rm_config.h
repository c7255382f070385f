/* rm_config — readmongo's settings, read from the environment (SPEC §7).
 * Pure code (the environment comes through a getter): unit tested. */
#ifndef MUSTER_RM_CONFIG_H
#define MUSTER_RM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define RM_DEFAULT_URI "mongodb://127.0.0.1:27017"
#define RM_DEFAULT_THREADS 16 /* UV_THREADPOOL_SIZE when unset */
/* Largest READMONGO_MAX_RESPONSE_BYTES: a body is at most doubled by the
 * channel's JSON escaping, and a channel line may not pass 64 MiB. */
#define RM_MAX_RESPONSE_BYTES (30 << 20)

struct rm_config {
  const char *uri;            /* MONGODB_URI (borrowed) */
  const char *allow;          /* READMONGO_ALLOW (borrowed), NULL: the default */
  int64_t max_limit;          /* READMONGO_MAX_LIMIT: cap on documents returned */
  int64_t max_time_ms;        /* READMONGO_MAX_TIME_MS: maxTimeMS of every operation */
  int64_t health_timeout_ms;  /* READMONGO_HEALTH_TIMEOUT_MS: /_health answer deadline */
  int64_t max_response_bytes; /* READMONGO_MAX_RESPONSE_BYTES: buffered body cap */
  int threads;                /* UV_THREADPOOL_SIZE (2..1024) */
  int threads_defaulted;      /* 1 when UV_THREADPOOL_SIZE must be set to `threads` */
  int64_t socket_timeout_ms;  /* the URI's socketTimeoutMS (set by rm_pool) */
};

/* Reads the settings through getenv_fn (getenv, or a table in tests).
 * Returns 0, or UV_EINVAL with a message naming the variable in err. */
int rm_config_load(struct rm_config *cfg, const char *(*getenv_fn)(const char *name), char *err,
                   size_t errlen);

/* Copies uri into out with any password replaced by "***", for logs. */
void rm_config_redact_uri(const char *uri, char *out, size_t outlen);

#endif
