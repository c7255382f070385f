// A program written for PM2 (tests/sup/test_compat.py): it says it is ready
// the PM2 way, process.send('ready') — a bare JSON string on the channel —
// and answers each request with the instance variables it was given.
process.on('message', (msg) => {
  if (msg === null || typeof msg !== 'object') return;
  if (msg.type === 'ping') process.send({ type: 'pong', seq: msg.seq });
  else if (msg.type === 'request')
    process.send({ type: 'response', id: msg.id, status: 200,
                   json: { node_app_instance: process.env.NODE_APP_INSTANCE || null,
                           muster_instance: process.env.MUSTER_INSTANCE || null } });
  else if (msg.type === 'shutdown') process.exit(0);
});
process.send('ready');
