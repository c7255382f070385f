// An upstream that closes keep-alive connections at random (SPEC §9
// tests): after a response, with probability CLOSE_RATE (default 0.3), it
// destroys the connection without saying `connection: close` — the way a
// server's keep-alive timeout ends one while the proxy may be reusing it.
'use strict';
const http = require('http');
const rate = Number(process.env.CLOSE_RATE || 0.3);
const server = http.createServer((req, res) => {
  const parts = [];
  req.on('data', (d) => parts.push(d));
  req.on('end', () => {
    const body = JSON.stringify({pid: process.pid, url: req.url,
                                 bytes: Buffer.concat(parts).length});
    res.writeHead(200, {'content-type': 'application/json',
                        'content-length': Buffer.byteLength(body)});
    res.end(body);
    res.on('finish', () => {
      if (Math.random() < rate)
        setImmediate(() => req.socket.destroy());
    });
  });
});
server.keepAliveTimeout = 60000;
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
