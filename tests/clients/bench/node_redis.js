// node_redis.js tls|plain HOST PORT N P [CA CERT KEY] - node-redis's loop
// of scripts/bench.sh's client table (scripts/bench-lib/clients.sh): N
// sequential GETs (each awaited), then one pipeline of P GETs
// (multi().execAsPipeline()), of a 16-byte value it SETs first.  tls:
// node-redis's own TLS (socket: { tls: true }, the server verified
// against CA and its address, client certificate); plain: plaintext, for
// the shim to carry.  Every reply is checked.  Prints "seq_rps=R
// pipe_rps=R seq_cpu_us=C pipe_cpu_us=C" (requests/s, the connection set-up
// left out; the process's CPU time per GET, microseconds).  Debian's
// node-redis 4: NODE_PATH=/usr/share/nodejs.
'use strict';
const fs = require('fs');
const { measure } = require('./loop_common');
const { createClient } = require('redis');

const [mode, host, port, n, p, ca, cert, key] = process.argv.slice(2);
const socket = { host, port: Number(port), connectTimeout: 10000, reconnectStrategy: false };
if (mode === 'tls') {
  Object.assign(socket, { tls: true, ca: fs.readFileSync(ca), cert: fs.readFileSync(cert),
                          key: fs.readFileSync(key), rejectUnauthorized: true });
} else if (mode !== 'plain') {
  throw new Error('mode is tls or plain');
}
const KEY = 'bench:clients:node-redis', VAL = '0123456789abcdef';

async function main() {
  const r = createClient({ socket });
  r.on('error', (e) => { console.error(`node_redis.js: ${e.message}`); process.exit(1); });
  await r.connect();
  await r.set(KEY, VAL);
  await measure(Number(n), Number(p), VAL, () => r.get(KEY), async (p) => {
    const m = r.multi();
    for (let i = 0; i < p; i++) m.get(KEY);
    return m.execAsPipeline();
  });
  await r.quit();
}
main().catch((e) => { console.error(`node_redis.js: ${e.message}`); process.exit(1); });
