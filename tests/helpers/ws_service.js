// A real-time test service (SPEC §8) in plain Node.js: it keeps no
// connection state, as the protocol intends. Driven by the tests in
// tests/rt/ through what clients send:
//   handshake  GET /ws?join=a,b&name=N&protocol=P  → 101 (join, meta {name})
//              ...&cookies → the 101 has headers: set-cookie a=1 and b=2,
//              x-chat, and ones muster must not pass (sec-websocket-*, upgrade)
//              GET /refuse                         → 403
//   message    "echo:X"       → ws_send X back          "json:X"  → ws_send {"echo":X}
//              "cut:X"        → ws_send X less its last UTF-16 unit (half an emoji's pair)
//              "bin"          → a binary ws_send         "join:R" / "leave:R"
//              "pub:R:X"      → publish X to room R      "pubx:R:X" → the same, except self
//              "close:C[:R]"  → ws_close with code C, reason R (bye)   "meta:X" → meta {name: X}
//              "hang"         → stop acking (ack mode)   "whoami" → ws_send its conn id
//              "to:CONN:X"    → ws_send X to connection CONN ("joinc:CONN:R" → join CONN to R)
//              anything else: ignored
//   GET /sse?rooms=a,b        → an SSE hold with body ": hello\n\n"
//   POST /publish?room=R&event=E  → publish the body (a string) to R
//   GET /seen                 → {"messages": [...], "closes": [...]} what this process got
//   GET /crash                → exits at once
// Every ws_message is acknowledged after handling unless WS_NO_ACK is set.
// With WS_ECHO_ALL set, every ws_message is sent back as it came (text as
// text, data_base64 as binary) and nothing else is done with it; /seen
// then lists the messages with their text cut at 64 characters.
// /seen also lists the ws_close events this process heard ("closes").
// WS_READY_DELAY_MS delays its ready message.
const seen = [], closes = [];
let acking = !process.env.WS_NO_ACK;
const echoAll = !!process.env.WS_ECHO_ALL;

function send(m) { process.send(m); }

function query(q) {
  const out = {};
  for (const kv of (q || '').split('&')) {
    if (!kv) continue;
    const i = kv.indexOf('=');
    out[decodeURIComponent(i < 0 ? kv : kv.slice(0, i))] =
      i < 0 ? '' : decodeURIComponent(kv.slice(i + 1));
  }
  return out;
}

function onRequest(m) {
  const sub = m.path.slice(m.prefix === '/' ? 0 : m.prefix.length);
  const q = query(m.query);
  if (m.ws) {
    if (sub === '/refuse')
      return send({ type: 'response', id: m.id, status: 403, json: { error: 'refused' } });
    const ws = { join: q.join ? q.join.split(',') : [], meta: { name: q.name || 'anon' } };
    if (q.protocol) ws.protocol = q.protocol;
    const headers = q.cookies === undefined ? undefined
      : { 'set-cookie': ['a=1', 'b=2'], 'x-chat': 'yes',
          'sec-websocket-accept': 'forged', 'sec-websocket-extensions': 'permessage-deflate',
          upgrade: 'h2c' };
    return send({ type: 'response', id: m.id, status: 101, headers, ws });
  }
  if (sub === '/sse')
    return send({ type: 'response', id: m.id, status: 200, body: ': hello\n\n',
                  hold: { rooms: (q.rooms || 'news').split(',') } });
  if (sub === '/publish') {
    const p = { type: 'publish', topic: q.room, data: m.body || '' };
    if (q.event) p.event = q.event;
    send(p);
    return send({ type: 'response', id: m.id, status: 200, json: { published: q.room } });
  }
  if (sub === '/seen')
    return send({ type: 'response', id: m.id, status: 200, json: { pid: process.pid, messages: seen, closes } });
  if (sub === '/crash') process.exit(1);
  send({ type: 'response', id: m.id, status: 404, json: { error: 'no such endpoint' } });
}

function echo(m) {
  const binary = m.data_base64 !== undefined;
  let cut = binary ? '' : m.text.slice(0, 64);
  if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1); /* not half a pair */
  seen.push({ conn: m.conn, seq: m.seq, text: cut, binary,
              redelivered: !!m.redelivered, meta: m.meta });
  if (seen.length > 10000) seen.shift();
  if (binary) send({ type: 'ws_send', conn: m.conn, data_base64: m.data_base64 });
  else send({ type: 'ws_send', conn: m.conn, text: m.text });
  if (acking) send({ type: 'ack', conn: m.conn, seq: m.seq });
}

function onWsMessage(m) {
  if (echoAll) return echo(m);
  const text = m.text !== undefined ? m.text : '';
  seen.push({ conn: m.conn, seq: m.seq, text, redelivered: !!m.redelivered, meta: m.meta });
  if (seen.length > 10000) seen.shift();
  const c = m.conn;
  if (text.startsWith('echo:')) send({ type: 'ws_send', conn: c, text: text.slice(5) });
  else if (text.startsWith('cut:')) send({ type: 'ws_send', conn: c, text: text.slice(4, -1) });
  else if (text.startsWith('json:')) send({ type: 'ws_send', conn: c, json: { echo: text.slice(5) } });
  else if (text === 'bin') send({ type: 'ws_send', conn: c, data_base64: Buffer.from([0, 1, 2, 255]).toString('base64') });
  else if (text.startsWith('join:')) send({ type: 'join', conn: c, room: text.slice(5) });
  else if (text.startsWith('leave:')) send({ type: 'leave', conn: c, room: text.slice(6) });
  else if (text.startsWith('pub:') || text.startsWith('pubx:')) {
    const rest = text.slice(text.indexOf(':') + 1), i = rest.indexOf(':');
    const p = { type: 'publish', topic: rest.slice(0, i), data: rest.slice(i + 1) };
    if (text.startsWith('pubx:')) p.except = c;
    send(p);
  } else if (text.startsWith('close:')) {
    const [code, reason] = text.slice(6).split(':', 2); /* "close:C" or "close:C:REASON" */
    send({ type: 'ws_close', conn: c, code: Number(code), reason: reason === undefined ? 'bye' : reason });
  } else if (text.startsWith('meta:')) send({ type: 'meta', conn: c, meta: { name: text.slice(5) } });
  else if (text === 'hang') acking = false;
  else if (text === 'whoami') send({ type: 'ws_send', conn: c, text: c });
  else if (text.startsWith('to:') || text.startsWith('joinc:')) {
    const rest = text.slice(text.indexOf(':') + 1), i = rest.lastIndexOf(':');
    const conn = rest.slice(0, i), arg = rest.slice(i + 1);
    if (text.startsWith('to:')) send({ type: 'ws_send', conn, text: arg });
    else send({ type: 'join', conn, room: arg });
  }
  if (acking) send({ type: 'ack', conn: c, seq: m.seq });
}

process.on('message', (m) => {
  if (m === null || typeof m !== 'object') return;
  if (m.type === 'ping') send({ type: 'pong', seq: m.seq });
  else if (m.type === 'request') onRequest(m);
  else if (m.type === 'ws_message') onWsMessage(m);
  else if (m.type === 'ws_close') {
    closes.push({ conn: m.conn, code: m.code, reason: m.reason, meta: m.meta });
    if (closes.length > 10000) closes.shift();
  }
  else if (m.type === 'shutdown') process.exit(0);
});
// WS_READY_DELAY_MS: ready that much later (a replacement slow to start).
setTimeout(() => send({ type: 'ready' }), Number(process.env.WS_READY_DELAY_MS || 0));
