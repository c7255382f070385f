// hello_node.js — a muster service in Node.js with no dependency.
//
// muster starts it with the channel on fd 3 and NODE_CHANNEL_FD=3, so Node
// sets up `process.send` / `process.on('message')` by itself: the SPEC §3
// messages are plain objects. Mount it in a config:
//
//   {"name": "hello", "command": ["node", "services/examples/hello_node.js"],
//    "instances": 2, "routes": ["/hello"]}
//
// then `curl localhost:8080/hello/world` answers {"hello": "world", ...}.
//
// It also speaks WebSocket, which muster holds for it (SPEC §8): a
// handshake is a `request` with `ws`, accepted with a 101 (meta {name});
// each client message comes as `ws_message` and is echoed back with
// `ws_send`, but "join ROOM" joins the connection to ROOM and publishes
// "NAME joined ROOM" there. No connection state is kept here: the name
// comes back with every message, in `meta`.
//   websocat 'ws://localhost:8080/hello/ws?name=ada'
'use strict';

const inflight = new Map(); // id -> timer, so a `cancel` can drop a request
let stopping = false;

function respond(id, status, json) {
  if (!inflight.has(id)) return; // cancelled meanwhile
  clearTimeout(inflight.get(id));
  inflight.delete(id);
  process.send({type: 'response', id, status, json});
  if (stopping && inflight.size === 0) process.exit(0);
}

// A query parameter, decoded ('' when absent or badly encoded).
function param(query, key) {
  for (const kv of (query || '').split('&')) {
    const i = kv.indexOf('=');
    if (i < 0 || kv.slice(0, i) !== key) continue;
    try {
      return decodeURIComponent(kv.slice(i + 1).replace(/\+/g, ' '));
    } catch (e) {
      return '';
    }
  }
  return '';
}

process.on('message', (m) => {
  switch (m.type) {
    case 'ping': // liveness: muster restarts an instance that stops answering
      process.send({type: 'pong', seq: m.seq});
      break;
    case 'request': {
      if (m.ws) { // a WebSocket handshake: accept it, muster holds the connection
        process.send({type: 'response', id: m.id, status: 101,
                      ws: {meta: {name: param(m.query, 'name') || 'someone'}}});
        break;
      }
      const name = m.path.slice(m.prefix.length).replace(/^\/+/, '') || 'world';
      // Answer a little later, as real work would: requests run concurrently.
      inflight.set(m.id, setTimeout(() => respond(m.id, 200, {
        hello: name, method: m.method, query: m.query, pid: process.pid,
        instance: Number(process.env.MUSTER_INSTANCE),
      }), 1));
      break;
    }
    case 'ws_message': { // a message of a client: a join, else an echo
      const join = /^join (\S+)$/.exec(m.text || '');
      if (join) {
        process.send({type: 'join', conn: m.conn, room: join[1]});
        const who = (m.meta && m.meta.name) || 'someone';
        process.send({type: 'publish', topic: join[1], data: who + ' joined ' + join[1]});
      } else if (m.text !== undefined) {
        process.send({type: 'ws_send', conn: m.conn, text: m.text});
      } else {
        process.send({type: 'ws_send', conn: m.conn, data_base64: m.data_base64});
      }
      break;
    }
    case 'cancel': // the client went away or the request timed out
      clearTimeout(inflight.get(m.id));
      inflight.delete(m.id);
      break;
    case 'shutdown': // finish in-flight work, then exit 0
      stopping = true;
      if (inflight.size === 0) process.exit(0);
      break;
  }
});

// When muster goes away the channel closes; with nothing else pending
// Node exits by itself.
process.on('disconnect', () => process.exit(0));

process.send({type: 'ready'}); // after our own initialisation
