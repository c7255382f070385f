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

process.on('message', (m) => {
  switch (m.type) {
    case 'ping': // liveness: muster restarts an instance that stops answering
      process.send({type: 'pong', seq: m.seq});
      break;
    case 'request': {
      const name = m.path.slice(m.prefix.length).replace(/^\/+/, '') || 'world';
      // Answer a little later, as real work would: requests run concurrently.
      inflight.set(m.id, setTimeout(() => respond(m.id, 200, {
        hello: name, method: m.method, query: m.query, pid: process.pid,
        instance: Number(process.env.MUSTER_INSTANCE),
      }), 1));
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
