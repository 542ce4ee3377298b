// ioredis.js tls|plain HOST PORT N P [CA CERT KEY] - ioredis's loop of
// scripts/bench.sh's client table (scripts/bench-lib/clients.sh): N
// sequential GETs (each awaited), then one pipeline of P GETs
// (pipeline().exec()), of a 16-byte value it SETs first.  tls: ioredis's
// own TLS (tls: { ca, cert, key }, the server verified against CA and its
// address); plain: plaintext, for the shim to carry.  Every reply is
// checked.  Prints "seq_rps=R pipe_rps=R seq_cpu_us=C pipe_cpu_us=C"
// (requests/s, the connection set-up left out; the process's CPU time per
// GET, microseconds).  ioredis comes from npm (package.json, package-lock.json
// here): NODE_PATH=the node_modules that `npm ci` made.
'use strict';
const fs = require('fs');
const { measure } = require('./loop_common');
const Redis = require('ioredis');

const [mode, host, port, n, p, ca, cert, key] = process.argv.slice(2);
const opts = { host, port: Number(port), connectTimeout: 10000, maxRetriesPerRequest: 0,
               retryStrategy: () => null, lazyConnect: true };
if (mode === 'tls') {
  opts.tls = { ca: fs.readFileSync(ca), cert: fs.readFileSync(cert), key: fs.readFileSync(key),
               rejectUnauthorized: true };
} else if (mode !== 'plain') {
  throw new Error('mode is tls or plain');
}
const KEY = 'bench:clients:ioredis', VAL = '0123456789abcdef';

async function main() {
  const r = new Redis(opts);
  r.on('error', (e) => { console.error(`ioredis.js: ${e.message}`); process.exit(1); });
  await r.connect();
  await r.set(KEY, VAL);
  await measure(Number(n), Number(p), VAL, () => r.get(KEY), async (p) => {
    const pl = r.pipeline();
    for (let i = 0; i < p; i++) pl.get(KEY);
    return (await pl.exec()).map(([e, v]) => (e ? null : v));
  });
  await r.quit();
}
main().catch((e) => { console.error(`ioredis.js: ${e.message}`); process.exit(1); });
