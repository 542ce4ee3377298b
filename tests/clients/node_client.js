// node_client.js HOST PORT - Node.js (libuv on epoll, and a binary that
// exports OpenSSL symbols of its own) speaking plaintext RESP through the
// shim: a 1 MiB SET, a GET compared byte for byte, a 1000-command
// pipeline, then a second connection while the first is open.
'use strict';
const net = require('net');
const [host, port] = [process.argv[2], Number(process.argv[3])];

function bulk(s) { return `$${Buffer.byteLength(s)}\r\n${s}\r\n`; }
function cmd(...a) { return `*${a.length}\r\n` + a.map(bulk).join(''); }

function session(name, request, expected) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let got = 0;
    const s = net.connect({ host, port }, () => s.write(request));
    s.on('data', (d) => {
      chunks.push(d);
      got += d.length;
      if (got >= expected.length) {
        const all = Buffer.concat(chunks).toString('latin1');
        s.end();
        if (all === expected) resolve(name);
        else reject(new Error(`${name}: reply differs (got ${all.length} bytes, want ${expected.length})`));
      }
    });
    s.on('error', (e) => reject(new Error(`${name}: ${e.message}`)));
    s.setTimeout(20000, () => reject(new Error(`${name}: timed out`)));
  });
}

async function main() {
  const key = `node:${process.pid}`;
  console.log(`pid ${process.pid}`);
  let v = '';
  for (let i = 0; v.length < (1 << 20); i++) v += String.fromCharCode(33 + (i * 7919) % 90);
  const big = session('1 MiB SET/GET', cmd('SET', key, v) + cmd('GET', key),
                      '+OK\r\n' + bulk(v));
  let req = '', want = '';
  for (let i = 0; i < 1000; i++) { req += cmd('INCR', `${key}:n`); want += `:${i + 1}\r\n`; }
  const pipe = session('1000-command pipeline', req, want);
  for (const r of await Promise.all([big, pipe])) console.log(`ok ${r}`);
}

main().catch((e) => { console.error(`node_client: FAIL: ${e.message}`); process.exit(1); });
