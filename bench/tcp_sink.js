// The TCP program of bench/upstream.py: echoes what it gets, except on a
// connection whose first byte is 'S' (sink): it counts the bytes and, when
// the client closes its side, answers the count and closes.
'use strict';
const net = require('net');
net.createServer({allowHalfOpen: true}, (s) => {
  let sink = null;
  s.on('data', (d) => {
    if (sink === null)
      sink = d[0] === 0x53 ? 0 : -1;
    if (sink >= 0)
      sink += d.length;
    else
      s.write(d);
  });
  s.on('end', () => s.end(sink >= 0 ? String(sink) + '\n' : undefined));
  s.on('error', () => {});
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
