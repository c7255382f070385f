// The Socket.IO 4 peer of bench/ws.py: the same work as muster with
// bench_ws_service, in one process. Every socket joins the room "bench";
// the event "pub" is emitted to the room as "msg" (Socket.IO encodes a
// broadcast once), the event "echo" goes back to its sender. GET /healthz
// answers 200 (readiness).
// usage: node sio_peer.js PORT
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const port = Number(process.argv[2]);
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
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
