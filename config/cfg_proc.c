/* cfg_proc — services[].umask, nice and limits: how an instance's process
 * is set up before its program runs, as systemd's UMask=, Nice= and
 * LimitNOFILE= (and supervisord's umask) set it.
 *
 *   "umask": "027"                          octal, as a string (or 23, the
 *                                           same number in decimal)
 *   "nice": 10                              -20..19
 *   "limits": {"nofile": 65536, "core": "infinity"}
 *                                           soft and hard limit both
 *
 * Applied by the --exec-as shim (sup_exec), before the user changes. */
#include <stdlib.h>
#include <string.h>

#include "cfg_schema.h"

static const char *const limit_names[] = {
#define XX(e, k) k,
    CFG_LIMITS_MAP(XX)
#undef XX
        NULL};

const char *cfg_limit_name(enum cfg_limit i) {
  return limit_names[i];
}

/* "umask": "0027" / "027" (octal text) or a number. */
static void read_umask(struct cfg__ctx *x, const cJSON *v, const char *p, struct cfg_proc *pr) {
  char *end;
  long m = -1;
  if (cJSON_IsString(v) && v->valuestring[0] != '\0' && strlen(v->valuestring) <= 4) {
    m = strtol(v->valuestring, &end, 8);
    if (*end != '\0' || v->valuestring[0] == '-' || v->valuestring[0] == '+')
      m = -1;
  } else if (cJSON_IsNumber(v) && v->valuedouble == (int)v->valuedouble) {
    m = (long)v->valuedouble;
  }
  if (m < 0 || m > 0777) {
    cfg__err(x, p, "must be an octal mode 000..777 as a string (\"027\")");
    return;
  }
  pr->umask = (int)m;
}

/* One limit: a count, or "infinity". */
static void read_limit(struct cfg__ctx *x, const cJSON *v, const char *p, struct cfg_proc *pr,
                       int i) {
  if (cJSON_IsString(v) && strcmp(v->valuestring, "infinity") == 0) {
    pr->limit[i] = CFG_LIMIT_INFINITY;
  } else if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 9e15 &&
             v->valuedouble == (double)(int64_t)v->valuedouble) {
    pr->limit[i] = (uint64_t)v->valuedouble;
  } else {
    cfg__err(x, p, "must be a count (0..9000000000000000) or \"infinity\"");
    return;
  }
  pr->limit_set[i] = 1;
}

static void read_limits(struct cfg__ctx *x, const cJSON *v, const char *p, struct cfg_proc *pr) {
  char pk[CFG__PATH_MAX];
  if (cfg__check_object(x, v, p, limit_names) != 0)
    return;
  for (int i = 0; i < CFG_LIMIT__COUNT; i++) {
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(v, limit_names[i]);
    cfg__join(pk, sizeof(pk), p, limit_names[i]);
    if (l != NULL)
      read_limit(x, l, pk, pr, i);
  }
  if (pr->limit_set[CFG_LIMIT_NOFILE] && pr->limit[CFG_LIMIT_NOFILE] == 0) {
    cfg__join(pk, sizeof(pk), p, "nofile");
    cfg__err(x, pk, "must be at least 1: a program needs its stdout");
  }
}

void cfg__parse_proc(struct cfg__ctx *x, const cJSON *obj, const char *path, struct cfg_proc *pr) {
  char p[CFG__PATH_MAX];
  const cJSON *v;
  double nice = 0;
  memset(pr, 0, sizeof(*pr));
  pr->umask = -1;
  if ((v = cJSON_GetObjectItemCaseSensitive(obj, "umask")) != NULL) {
    cfg__join(p, sizeof(p), path, "umask");
    read_umask(x, v, p, pr);
  }
  if (cJSON_GetObjectItemCaseSensitive(obj, "nice") != NULL &&
      cfg__get_number(x, obj, path, "nice", 0, -20, 19, &nice) == 0) {
    pr->nice_set = 1;
    pr->nice = (int)nice;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(obj, "limits")) != NULL) {
    cfg__join(p, sizeof(p), path, "limits");
    read_limits(x, v, p, pr);
  }
}
