// An Express-style web app with no dependency: plain `http`, a small
// router, JSON answers, listening on process.env.PORT (or a Unix socket
// in MUSTER_SOCKET). It knows nothing of muster: muster hosts it as an
// upstream service (docs/http.md#upstream-services), supervises it,
// balances its instances and tunnels its WebSockets.
//
//   GET  /               a greeting with the instance and pid
//   GET  /info           the request as the app saw it (method, url, headers)
//   POST /echo           the body back, streamed (req.pipe(res))
//   POST /sink           reads the body, answers {"bytes": N}
//   GET  /bytes?n=N      N bytes, streamed with backpressure
//   GET  /stream?n=&ms=  n chunks, ms apart (chunked)
//   GET  /slow?ms=N      answers after N ms
//   GET  /crash          exits in the middle of the request (?instance=N: only
//                        instance N does; the others answer)
//   GET  /close          answers, then closes the connection
//
// BASE_PATH (optional) is where the app is mounted ("/web": /web/info ...):
// muster passes the path as the client sent it.
'use strict';
const http = require('http');

const instance = process.env.NODE_APP_INSTANCE || '0';
const base = process.env.BASE_PATH || '';

// ---- a router in the style of Express: app.get(path, handler) ----
function makeApp() {
  const routes = [];
  const app = (req, res) => {
    const url = new URL(req.url, 'http://x');
    req.path = url.pathname;
    req.query = Object.fromEntries(url.searchParams);
    res.json = (status, obj) => {
      const body = JSON.stringify(obj);
      res.writeHead(status, {'content-type': 'application/json',
                             'content-length': Buffer.byteLength(body)});
      res.end(body);
    };
    const method = req.method === 'HEAD' ? 'GET' : req.method; // as Express does
    for (const r of routes)
      if (r.method === method && r.path === req.path)
        return r.fn(req, res);
    res.json(404, {error: 'not found', path: req.path});
  };
  for (const m of ['get', 'post', 'put'])
    app[m] = (path, fn) => routes.push({method: m.toUpperCase(), path: base + path, fn});
  return app;
}

const app = makeApp();

app.get('/', (req, res) => res.json(200, {hello: 'world', instance, pid: process.pid}));

const info = (req, res, body) => res.json(200, {method: req.method, url: req.url,
  headers: req.headers, instance, pid: process.pid, port: process.env.PORT,
  remotePort: req.socket.remotePort, httpVersion: req.httpVersion, body});
app.get('/info', (req, res) => info(req, res));
app.put('/info', (req, res) => {
  const parts = [];
  req.on('data', (d) => parts.push(d));
  req.on('end', () => info(req, res, Buffer.concat(parts).toString()));
});

app.post('/echo', (req, res) => {
  res.writeHead(200, {'content-type': req.headers['content-type'] || 'application/octet-stream'});
  req.pipe(res);
});

app.post('/sink', (req, res) => {
  let bytes = 0;
  req.on('data', (d) => { bytes += d.length; });
  req.on('end', () => res.json(200, {bytes, instance, pid: process.pid}));
});

app.get('/bytes', (req, res) => {
  let left = Number(req.query.n || 0);
  const chunk = Buffer.alloc(65536, 'x');
  res.writeHead(200, {'content-type': 'application/octet-stream', 'content-length': left});
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n)))
        return res.once('drain', pump);
    }
    res.end();
  };
  pump();
});

app.get('/stream', (req, res) => {
  let i = 0;
  const n = Number(req.query.n || 3), ms = Number(req.query.ms || 10);
  res.writeHead(200, {'content-type': 'text/plain'});
  const tick = () => {
    if (i === n)
      return res.end();
    res.write('chunk ' + i++ + '\n');
    setTimeout(tick, ms);
  };
  tick();
});

app.get('/slow', (req, res) => {
  setTimeout(() => res.json(200, {slept: Number(req.query.ms), instance, pid: process.pid}),
             Number(req.query.ms || 100));
});

app.get('/crash', (req, res) => {
  if (req.query.instance === undefined || req.query.instance === instance)
    process.exit(1);
  res.json(200, {survived: true, instance, pid: process.pid});
});
app.post('/crash', () => process.exit(1));

app.get('/close', (req, res) => {
  res.setHeader('connection', 'close');
  res.json(200, {closing: true, instance, pid: process.pid});
});

const server = http.createServer(app);
if (process.env.MUSTER_SOCKET)
  server.listen(process.env.MUSTER_SOCKET);
else
  server.listen(Number(process.env.PORT || 3000), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
