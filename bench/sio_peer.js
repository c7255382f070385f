// The Socket.IO 4 peer of bench/ws.py and bench/cluster.py: the same work
// as muster with bench_ws_service, in one process. Every socket joins the
// room "bench"; the event "pub" is emitted to the room as "msg" (Socket.IO
// encodes a broadcast once), the event "echo" goes back to its sender.
// GET /healthz answers 200 (readiness).
// With REDIS_URL (bench/cluster.py), the process is one of several hosts:
// @socket.io/redis-adapter over two `redis` clients (publish; subscribe),
// so an emit to the room reaches its members on every process; it listens
// once both clients are connected.
// usage: node sio_peer.js PORT [REDIS_URL]
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const port = Number(process.argv[2]);
const redisUrl = process.argv[3];
const server = http.createServer((req, res) => {
  res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'text/plain' });
  res.end(req.url === '/healthz' ? 'ok\n' : 'not found\n');
});
const io = new Server(server, { serveClient: false, perMessageDeflate: false });
io.on('connection', (socket) => {
  socket.join('bench');
  socket.on('pub', (d) => io.to('bench').emit('msg', d));
  socket.on('echo', (d) => socket.emit('echo', d));
});

async function main() {
  if (redisUrl) {
    const { createClient } = require('redis');
    const { createAdapter } = require('@socket.io/redis-adapter');
    const pub = createClient({ url: redisUrl });
    const sub = pub.duplicate();
    for (const c of [pub, sub]) c.on('error', (e) => console.error('redis:', e.message));
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub));
  }
  server.listen(port, '127.0.0.1');
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
process.on('SIGTERM', () => process.exit(0));
