/* chat_msg — the chat's pure parts (no I/O): the names and rooms it
 * accepts, the client messages it understands, and the publications it
 * makes of them (services/chat/README.md describes both).
 *
 * The chat keeps no connection state: a connection's name and room are
 * its meta {"name": N, "room": R}, kept by muster and sent with each of
 * its messages. A publication's id is unique per message a client sent
 * (its connection and the message's seq), so that a client can drop the
 * copies that come again after an instance died (flagged redelivered). */
#ifndef MUSTER_CHAT_MSG_H
#define MUSTER_CHAT_MSG_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define CHAT_NAME_MAX 32   /* bytes of a name */
#define CHAT_ROOM_MAX 32   /* bytes of a room */
#define CHAT_TEXT_MAX 2000 /* bytes of one message's text */

/* 1 when name (len bytes) may be a chatter's name: 1..CHAT_NAME_MAX bytes
 * of UTF-8, no control character, not only spaces. */
int chat_name_valid(const char *name, size_t len);

/* 1 when room (len bytes) may be a room: 1..CHAT_ROOM_MAX of
 * [A-Za-z0-9_.-] (the room is muster's topic; keeping it plain keeps it
 * readable in ids, URLs and `musterctl rooms`). */
int chat_room_valid(const char *room, size_t len);

/* A client's message, parsed. */
struct chat_in {
  cJSON *tree;      /* owned; chat_in_free() */
  const char *text; /* say: its text, borrowed from tree */
};

/* Parses one client message (len bytes of text): {"type":"say","text":T}
 * with T 1..CHAT_TEXT_MAX bytes. Returns 0, or -1 with *why set to what
 * the client is told. */
int chat_parse(struct chat_in *in, const char *data, size_t len, const char **why);
void chat_in_free(struct chat_in *in);

/* Reads a connection's meta: 0 with *name and *room (borrowed) set, or -1
 * when meta is not {"name": valid, "room": valid}. */
int chat_meta_read(const cJSON *meta, const char **name, const char **room);

/* The meta the chat gives a connection: {"name": name, "room": room}.
 * Owned by the caller (NULL on out of memory). */
cJSON *chat_meta_new(const char *name, const char *room);

/* The id of message seq of connection conn: "CONN/SEQ" into out. */
void chat_msg_id(char *out, size_t n, const char *conn, int64_t seq);

/* The publication of a said text:
 * {"type":"say","from":from,"text":text,"id":"CONN/SEQ","at":at_ms}, with
 * "redelivered": true when the message came again. Owned by the caller
 * (NULL on out of memory). */
cJSON *chat_say_new(const char *from, const char *text, const char *conn, int64_t seq,
                    int64_t at_ms, int redelivered);

/* A notice that name came into (type "join") or left ("leave") room:
 * {"type":T,"name":name,"room":room,"id":"CONN/T","at":at_ms}. Owned by
 * the caller (NULL on out of memory). */
cJSON *chat_notice_new(const char *type, const char *name, const char *room, const char *conn,
                       int64_t at_ms);

/* {"type":"error","error":why}: what a client is told about a message the
 * chat did not take. Owned by the caller. */
cJSON *chat_error_new(const char *why);

#endif
