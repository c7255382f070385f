// An upstream for the resilience tests of upstream services (SPEC §4
// "Surviving bad moments", §9): plain Node `http` on process.env.PORT.
//   GET /            {"pid", "instance"}
//   GET /slow?ms=N   the same after N ms
//   GET /crash       process.exit(1) while handling it: a query of death
//   GET /count       {"pid", "seen", "health"}: requests this process was sent
//                    before, and how many of them were muster's health checks
//   POST /sink       {"pid", "bytes", "sha256"} of the body it read
//   POST /refuse     401 at once, its body unread (an upload refused at its head)
// READY_DELAY_MS delays the listen (its port is not ready meanwhile);
// LISTEN_HOST is where it listens (default 127.0.0.1).
'use strict';
const crypto = require('crypto');
const http = require('http');

let seen = 0;
let healthSeen = 0; // requests from muster's health check (its user-agent)
const instance = process.env.NODE_APP_INSTANCE || '0';

function json(res, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(200, {'content-type': 'application/json',
                      'content-length': Buffer.byteLength(body)});
  res.end(body);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const before = seen++;
  if (req.headers['user-agent'] === 'muster-health')
    healthSeen++;
  if (url.pathname === '/crash') {
    process.exit(1);
  } else if (url.pathname === '/slow') {
    const ms = Number(url.searchParams.get('ms') || 100);
    setTimeout(() => json(res, {pid: process.pid, instance, slept: ms}), ms);
  } else if (url.pathname === '/sink') {
    const hash = crypto.createHash('sha256');
    let bytes = 0;
    req.on('data', (d) => { bytes += d.length; hash.update(d); });
    req.on('end', () => json(res, {pid: process.pid, bytes, sha256: hash.digest('hex')}));
  } else if (url.pathname === '/refuse') {
    const body = '{"error":"not allowed"}';
    res.writeHead(401, {'content-type': 'application/json',
                        'content-length': Buffer.byteLength(body)});
    res.end(body);
  } else if (url.pathname === '/count') {
    json(res, {pid: process.pid, instance, seen: before, health: healthSeen});
  } else {
    json(res, {pid: process.pid, instance});
  }
});
server.keepAliveTimeout = 60000;
setTimeout(() => server.listen(Number(process.env.PORT), process.env.LISTEN_HOST || '127.0.0.1'),
           Number(process.env.READY_DELAY_MS || 0));
process.on('SIGTERM', () => process.exit(0));
