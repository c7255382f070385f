// A WebSocket echo app on the `ws` library (Debian's node-ws), unmodified
// by muster: an http server on PORT whose upgrades `ws` handles; every
// message is sent back, prefixed with the instance, and /who answers
// over plain HTTP on the same port; /chat/refuse refuses its upgrade.
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
const wss = new WebSocket.Server({noServer: true});
// /chat/refuse: the upgrade refused with a 403, the socket left open (as
// an app that writes its refusal and forgets the socket does); Node reads
// no more HTTP from a socket it handed to 'upgrade'
server.on('upgrade', (req, socket, head) => {
  if (req.url.startsWith('/chat/refuse')) {
    socket.write('HTTP/1.1 403 Forbidden\r\ncontent-length: 2\r\n\r\nno');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});
wss.on('connection', (ws, req) => {
  ws.send('hello from ' + instance + ' ' + req.url);
  ws.on('message', (data, isBinary) => ws.send(isBinary ? data : instance + ': ' + data,
                                              {binary: isBinary}));
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
