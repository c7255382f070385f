// An upstream that also speaks IPC (services[].upstream.ready "message"):
// an http server on PORT that says `ready` on its channel READY_DELAY_MS
// after it listens (so a test can tell port readiness from the message),
// and answers muster's pings.
'use strict';
const http = require('http');
const server = http.createServer((req, res) => {
  res.writeHead(200, {'content-type': 'text/plain'});
  res.end('ipc upstream ' + process.pid + '\n');
});
process.on('message', (m) => {
  if (m && m.type === 'ping')
    process.send({type: 'pong', seq: m.seq});
  else if (m && m.type === 'shutdown')
    server.close(() => process.exit(0));
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => {
  setTimeout(() => process.send('ready'), Number(process.env.READY_DELAY_MS || 0));
});
