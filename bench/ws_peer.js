// The Node.js `ws` peer of bench/ws.py: the same work as muster with
// bench_ws_service, in one process. Every connection is in the one room
// (the server's client set); a message starting with 'P' goes to all of
// them (ws's own broadcast idiom: send() to each client), any other comes
// back to its sender. GET /healthz answers 200 (readiness).
// usage: node ws_peer.js PORT
'use strict';
const http = require('http');
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2]);
const server = http.createServer((req, res) => {
  res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'text/plain' });
  res.end(req.url === '/healthz' ? 'ok\n' : 'not found\n');
});
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    if (!isBinary && data.length > 0 && data[0] === 0x50) {
      for (const c of wss.clients) c.send(data, { binary: false });
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
