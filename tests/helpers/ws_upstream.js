// A WebSocket echo app on the `ws` library (Debian's node-ws), unmodified
// by muster: an http server on PORT whose upgrades `ws` handles; every
// message is sent back, prefixed with the instance, and /who answers
// over plain HTTP on the same port.
'use strict';
const http = require('http');
let WebSocket;
try {
  WebSocket = require('ws');
} catch (e) {
  WebSocket = require('/usr/share/nodejs/ws');
}
const instance = process.env.NODE_APP_INSTANCE || '0';
const server = http.createServer((req, res) => {
  res.writeHead(200, {'content-type': 'text/plain'});
  res.end('instance ' + instance + '\n');
});
const wss = new WebSocket.Server({server});
wss.on('connection', (ws, req) => {
  ws.send('hello from ' + instance + ' ' + req.url);
  ws.on('message', (data, isBinary) => ws.send(isBinary ? data : instance + ': ' + data,
                                              {binary: isBinary}));
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
