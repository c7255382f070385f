// Asks the API (services/examples/express_like.js, mounted at /api) and
// shows its answer.
fetch('/api/')
  .then((r) => r.json())
  .then((j) => { document.getElementById('api').textContent = JSON.stringify(j); })
  .catch((e) => { document.getElementById('api').textContent = 'unreachable: ' + e; });
