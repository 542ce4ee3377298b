// node_big.js HOST PORT MIB KEY - one SET of MIB MiB (written in one
// socket.write: libuv writes until EAGAIN, then waits for EPOLLOUT),
// prints the reply line.  tests/integration/27-node.sh, case_node_big_stalled.
'use strict';
const net = require('net');
const [host, port, mib, key] = process.argv.slice(2);
const n = Number(mib) * 1024 * 1024;
const s = net.connect(Number(port), host, () => {
	s.write(`*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${n}\r\n`);
	s.write(Buffer.alloc(n, 'v'));
	s.write('\r\n');
});
let got = '';
s.on('data', (d) => {
	got += d;
	if (got.includes('\r\n')) {
		console.log('reply ' + got.trim());
		s.end();
	}
});
s.on('error', (e) => {
	console.log('error ' + e.message);
	process.exit(1);
});
