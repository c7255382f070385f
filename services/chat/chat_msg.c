/* chat_msg — names, rooms, client messages and publications of the chat
 * (see chat_msg.h). */
#include <stdio.h>
#include <string.h>

#include "chat_msg.h"
#include "ipc_text.h"

int chat_name_valid(const char *name, size_t len) {
  int visible = 0;
  if (len == 0 || len > CHAT_NAME_MAX || !ipc_utf8_valid(name, len))
    return 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)name[i];
    if (c < 0x20 || c == 0x7f)
      return 0;
    visible |= c != ' ';
  }
  return visible;
}

int chat_room_valid(const char *room, size_t len) {
  if (len == 0 || len > CHAT_ROOM_MAX)
    return 0;
  for (size_t i = 0; i < len; i++) {
    char c = room[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '-'))
      return 0;
  }
  return 1;
}

int chat_parse(struct chat_in *in, const char *data, size_t len, const char **why) {
  memset(in, 0, sizeof(*in));
  in->tree = cJSON_ParseWithLength(data, len);
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(in->tree, "type");
  const cJSON *text = cJSON_GetObjectItemCaseSensitive(in->tree, "text");
  if (!cJSON_IsObject(in->tree))
    *why = "a message is a JSON object such as {\"type\":\"say\",\"text\":\"hi\"}";
  else if (!cJSON_IsString(type) || strcmp(type->valuestring, "say") != 0)
    *why = "unknown message type (the chat knows \"say\")";
  else if (!cJSON_IsString(text) || text->valuestring[0] == '\0')
    *why = "say needs a text";
  else if (strlen(text->valuestring) > CHAT_TEXT_MAX)
    *why = "text too long (at most 2000 bytes)";
  else {
    in->text = text->valuestring;
    return 0;
  }
  chat_in_free(in);
  return -1;
}

void chat_in_free(struct chat_in *in) {
  cJSON_Delete(in->tree);
  in->tree = NULL;
  in->text = NULL;
}

/* The string field key of o when it is valid by check, else NULL. */
static const char *valid_str(const cJSON *o, const char *key, int (*check)(const char *, size_t)) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsString(v) || !check(v->valuestring, strlen(v->valuestring)))
    return NULL;
  return v->valuestring;
}

int chat_meta_read(const cJSON *meta, const char **name, const char **room) {
  *name = valid_str(meta, "name", chat_name_valid);
  *room = valid_str(meta, "room", chat_room_valid);
  return *name && *room ? 0 : -1;
}

cJSON *chat_meta_new(const char *name, const char *room) {
  cJSON *o = cJSON_CreateObject();
  if (cJSON_AddStringToObject(o, "name", name) == NULL ||
      cJSON_AddStringToObject(o, "room", room) == NULL) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

void chat_msg_id(char *out, size_t n, const char *conn, int64_t seq) {
  snprintf(out, n, "%s/%lld", conn, (long long)seq);
}

/* {"type": type} with the string fields of kv (key, value, ..., NULL)
 * and "at"; NULL on out of memory. */
static cJSON *pub_new(const char *type, const char *const *kv, int64_t at_ms) {
  cJSON *o = cJSON_CreateObject();
  int ok = cJSON_AddStringToObject(o, "type", type) != NULL;
  for (; ok && kv[0]; kv += 2)
    ok = cJSON_AddStringToObject(o, kv[0], kv[1]) != NULL;
  ok = ok && cJSON_AddNumberToObject(o, "at", (double)at_ms) != NULL;
  if (!ok) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

cJSON *chat_say_new(const char *from, const char *text, const char *conn, int64_t seq,
                    int64_t at_ms, int redelivered) {
  char id[128];
  chat_msg_id(id, sizeof(id), conn, seq);
  const char *kv[] = {"from", from, "text", text, "id", id, NULL};
  cJSON *o = pub_new("say", kv, at_ms);
  if (o && redelivered && cJSON_AddTrueToObject(o, "redelivered") == NULL) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

cJSON *chat_notice_new(const char *type, const char *name, const char *room, const char *conn,
                       int64_t at_ms) {
  char id[128];
  snprintf(id, sizeof(id), "%s/%s", conn, type);
  const char *kv[] = {"name", name, "room", room, "id", id, NULL};
  return pub_new(type, kv, at_ms);
}

cJSON *chat_error_new(const char *why) {
  cJSON *o = cJSON_CreateObject();
  if (cJSON_AddStringToObject(o, "type", "error") == NULL ||
      cJSON_AddStringToObject(o, "error", why) == NULL) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}
