// loop_common.js - the timed part of the Node.js loops of scripts/bench.sh's
// client table (ioredis.js, node_redis.js): N sequential GETs, each
// awaited, then one pipeline of P GETs, every reply checked against VAL;
// prints "seq_rps=R pipe_rps=R seq_cpu_us=C pipe_cpu_us=C" (requests/s;
// the process's CPU time per GET, microseconds).
'use strict';

const now = () => Number(process.hrtime.bigint()) / 1e9;
const cpuSince = (c0, k) => { const u = process.cpuUsage(c0); return (u.user + u.system) / Math.max(k, 1); };

// get(): one GET's reply; pipeline(p): the replies of a pipeline of p GETs,
// each a value (or null for an error).
async function measure(n, p, val, get, pipeline) {
  let c = process.cpuUsage();
  let t = now();
  for (let i = 0; i < n; i++) {
    if ((await get()) !== val) throw new Error('wrong GET reply');
  }
  const seq = n / (now() - t);
  const seqCpu = cpuSince(c, n);
  c = process.cpuUsage();
  t = now();
  const got = await pipeline(p);
  const pipe = p / (now() - t);
  const pipeCpu = cpuSince(c, p);
  if (got.length !== p || !got.every((v) => v === val)) throw new Error('wrong pipeline replies');
  console.log(`seq_rps=${seq.toFixed(0)} pipe_rps=${pipe.toFixed(0)} ` +
              `seq_cpu_us=${seqCpu.toFixed(2)} pipe_cpu_us=${pipeCpu.toFixed(2)}`);
}

module.exports = { measure };
