// A TCP program for tests/up/test_tcp.py: when the client half-closes, it
// writes BYTES (default 4 MiB) of 'y' and closes at once, so its last
// words and its FIN reach muster together.
'use strict';
const net = require('net');
const bytes = Number(process.env.BYTES || (4 << 20));
net.createServer({allowHalfOpen: true}, (s) => {
  s.on('data', () => {});
  s.on('end', () => s.end(Buffer.alloc(bytes, 'y')));
  s.on('error', () => {});
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
