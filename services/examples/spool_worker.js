// A worker with no dependency and no port: it takes job files from a
// spool directory and writes each one's result beside it. Hosted by muster
// with "ready": "running" (config/examples/worker.json), unmodified: it
// neither speaks IPC nor listens, as a queue consumer or a mailer.
//
//   SPOOL_DIR/incoming/NAME.job  a job: some text (written elsewhere, then
//                                renamed in, so it is whole)
//   SPOOL_DIR/done/NAME.txt      its result: "INSTANCE LINES WORDS\n"
//
// Several instances share the directory: a job is claimed by renaming it
// into SPOOL_DIR/work/, which only one of them can win. On SIGTERM the
// worker finishes the job under way and exits 0.
'use strict';
const fs = require('fs');
const path = require('path');

const instance = process.env.NODE_APP_INSTANCE || '0';
const spool = path.resolve(process.env.SPOOL_DIR || 'spool');
const dirs = {};
for (const d of ['incoming', 'work', 'done']) {
  dirs[d] = path.join(spool, d);
  fs.mkdirSync(dirs[d], {recursive: true});
}
let stopping = false;

// Claims one job (null when none is left or another instance took it).
function claim(name) {
  const mine = path.join(dirs.work, instance + '.' + name);
  try {
    fs.renameSync(path.join(dirs.incoming, name), mine);
    return mine;
  } catch (e) {
    if (e.code === 'ENOENT')
      return null;
    throw e;
  }
}

function run(file, name) {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n').filter((l) => l !== '').length;
  const words = text.split(/\s+/).filter((w) => w !== '').length;
  const out = path.join(dirs.done, name.replace(/\.job$/, '.txt'));
  fs.writeFileSync(out + '.tmp', `${instance} ${lines} ${words}\n`);
  fs.renameSync(out + '.tmp', out);
  fs.unlinkSync(file);
  console.log(`worker ${instance}: ${name}: ${lines} lines, ${words} words`);
}

// One pass over the jobs waiting, then the next one 100 ms later.
function tick() {
  for (const name of fs.readdirSync(dirs.incoming).sort()) {
    if (stopping)
      break;
    if (!name.endsWith('.job'))
      continue;
    const file = claim(name);
    if (file)
      run(file, name);
  }
  if (stopping) {
    console.log(`worker ${instance}: stopped`);
    process.exit(0);
  }
  setTimeout(tick, 100);
}

process.on('SIGTERM', () => {
  stopping = true; // the job under way is finished first: run() is synchronous
});
console.log(`worker ${instance}: watching ${dirs.incoming}`);
tick();
