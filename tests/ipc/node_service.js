// A muster service in plain Node.js (SPEC section 3): muster starts it like
// child_process.fork does (channel on fd 3, NODE_CHANNEL_FD=3, json
// serialization), so process.on('message') / process.send() is the whole API.
process.on('message', (msg) => {
  if (msg.type === 'ping') process.send({ type: 'pong', seq: msg.seq });
  else if (msg.type === 'request')
    process.send({ type: 'response', id: msg.id, status: 200,
                   json: { node: true, path: msg.path, method: msg.method } });
  else if (msg.type === 'shutdown') process.exit(0);
});
process.send({ type: 'ready' });
// When muster closes the channel, 'disconnect' fires and nothing keeps the
// event loop alive, so the process exits 0 on its own.
