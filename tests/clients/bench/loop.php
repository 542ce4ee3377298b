<?php
// loop.php tls|plain HOST PORT N P [CA CERT KEY] - phpredis's loop of
// scripts/bench.sh's client table (scripts/bench-lib/clients.sh): N
// sequential GETs, then one pipeline of P GETs (multi(Redis::PIPELINE)),
// of a 16-byte value it SETs first.  tls: phpredis's own TLS (a tls://
// host, the server verified against CA and its name, client
// certificate); plain: plaintext, for the shim to carry.  Every reply is
// checked.  Prints "seq_rps=R pipe_rps=R seq_cpu_us=C pipe_cpu_us=C"
// (requests/s, the connection set-up left out; the process's CPU time per
// GET, microseconds).
[$mode, $host, $port, $n, $p] = [$argv[1], $argv[2], (int)$argv[3], (int)$argv[4], (int)$argv[5]];
function cpu_us() {
    $u = getrusage();
    return $u['ru_utime.tv_sec'] * 1e6 + $u['ru_utime.tv_usec'] + $u['ru_stime.tv_sec'] * 1e6 + $u['ru_stime.tv_usec'];
}
function fail($what) { fwrite(STDERR, "loop.php: $what\n"); exit(1); }

$r = new Redis();
if ($mode === 'tls') {
    $ctx = ['stream' => [
        'cafile' => $argv[6], 'local_cert' => $argv[7], 'local_pk' => $argv[8],
        'verify_peer' => true, 'verify_peer_name' => true, 'peer_name' => $host,
    ]];
    $ok = $r->connect("tls://$host", $port, 10, null, 0, 60, $ctx);
} elseif ($mode === 'plain') {
    $ok = $r->connect($host, $port, 10, null, 0, 60);
} else {
    fail('mode is tls or plain');
}
if (!$ok) fail('cannot connect');
const KEY = 'bench:clients:php';
const VAL = '0123456789abcdef';
$r->set(KEY, VAL); // connected (and handshaken) before the clock starts

$c = cpu_us();
$t = hrtime(true);
for ($i = 0; $i < $n; $i++) {
    if ($r->get(KEY) !== VAL) fail('wrong GET reply');
}
$seq = $n / ((hrtime(true) - $t) / 1e9);
$seq_cpu = (cpu_us() - $c) / max($n, 1);

$c = cpu_us();
$t = hrtime(true);
$pl = $r->multi(Redis::PIPELINE);
for ($i = 0; $i < $p; $i++) $pl->get(KEY);
$got = $pl->exec();
$pipe = $p / ((hrtime(true) - $t) / 1e9);
$pipe_cpu = (cpu_us() - $c) / $p;
if (!is_array($got) || count($got) !== $p || count(array_filter($got, fn($v) => $v !== VAL)))
    fail('wrong pipeline replies');
printf("seq_rps=%.0f pipe_rps=%.0f seq_cpu_us=%.2f pipe_cpu_us=%.2f\n", $seq, $pipe, $seq_cpu, $pipe_cpu);
