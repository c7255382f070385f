// The peer for bench/gateway.py: Node's cluster module, 2 workers, each
// answering like dummy_service's /echo (method, path, query, headers, body).
'use strict';
const cluster = require('cluster');
const http = require('http');
const port = Number(process.argv[2]);
if (cluster.isPrimary) {
  for (let i = 0; i < 2; i++) cluster.fork();
  process.on('SIGTERM', () => { for (const id in cluster.workers) cluster.workers[id].kill(); process.exit(0); });
} else {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const q = req.url.indexOf('?');
      const body = JSON.stringify({
        method: req.method, path: q < 0 ? req.url : req.url.slice(0, q),
        query: q < 0 ? '' : req.url.slice(q + 1), headers: req.headers,
        body: Buffer.concat(chunks).toString(), pid: process.pid,
      });
      res.writeHead(200, {'content-type': 'application/json', 'content-length': Buffer.byteLength(body)});
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60000;
  server.listen(port, '127.0.0.1');
}
