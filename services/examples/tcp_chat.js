// A line-based TCP chat room with no dependency (`net`), listening on
// process.env.PORT. Hosted by muster as an upstream service behind a TCP
// route (config/examples/upstream.json), unmodified:
//
//   every line a client sends goes to every other client of this instance
//   /nick NAME   sets the name lines are sent under
//   /who         how many are here, and this instance
//   /echo        from here on the connection echoes raw bytes back
//
// When a client closes its side, the room says goodbye and closes too (a
// half-close is passed through muster both ways).
'use strict';
const net = require('net');

const instance = process.env.NODE_APP_INSTANCE || '0';
const clients = new Set();
let seq = 0;

const server = net.createServer({allowHalfOpen: true}, (sock) => {
  const me = {sock, nick: 'guest' + ++seq, lines: 0, echo: false};
  clients.add(me);
  let buf = '';
  sock.write('welcome ' + me.nick + ' to instance ' + instance + '\n');
  sock.on('data', (d) => {
    if (me.echo)
      return sock.write(d);
    buf += d.toString('utf8');
    let nl;
    while (!me.echo && (nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, '');
      buf = buf.slice(nl + 1);
      me.lines++;
      command(me, line);
    }
    if (me.echo && buf) {
      sock.write(buf);
      buf = '';
    }
  });
  sock.on('end', () => {
    clients.delete(me);
    sock.end('bye ' + me.nick + ', ' + me.lines + ' lines\n');
  });
  sock.on('error', () => clients.delete(me));
  sock.on('close', () => clients.delete(me));
});

function command(me, line) {
  if (line.startsWith('/nick ')) {
    me.nick = line.slice(6).trim() || me.nick;
    me.sock.write('you are ' + me.nick + '\n');
  } else if (line === '/who') {
    me.sock.write(clients.size + ' here on instance ' + instance + '\n');
  } else if (line === '/echo') {
    me.echo = true;
    me.sock.write('echo on\n');
  } else {
    for (const c of clients)
      if (c !== me)
        c.sock.write(me.nick + ': ' + line + '\n');
  }
}

server.listen(Number(process.env.PORT || 7100), '127.0.0.1');
process.on('SIGTERM', () => {
  for (const c of clients)
    c.sock.end('the room closes\n');
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref(); /* clients that do not close */
});
