#!/bin/sh
# mkpki.sh DIR - make the test PKI the integration tests and the demo use.
#
#   ca.crt ca.key                   the test CA (EC P-256)
#   server.crt server.key           RSA-2048, DNS:localhost IP:127.0.0.1 IP:::1
#   client.crt client.key           signed by the CA, clientAuth
#   client-enc.key passphrase.txt   client.key encrypted (AES-256) + passphrase
#   other-ca.crt other-ca.key       an unrelated CA
#   server-other-ca.crt/.key        the server (same names) signed by other-ca
#   client-other-ca.crt/.key        a client certificate signed by other-ca
#   server-wrongname.crt/.key       signed by the CA, DNS:wrong.example only
#   server-expired.crt/.key         signed by the CA, valid 2020-01-01..02
#   server-redistest.crt/.key       signed by the CA, DNS:redis.test only (no IP
#                                   SAN: only a connection verified as that
#                                   name accepts it)
#   ca-bundle.crt                   other-ca.crt then ca.crt (a two-CA bundle)
#   cadir/                          ca.crt under its `openssl rehash` name
#
# Idempotent: a complete DIR is left alone (stamp file .mkpki-v2).  Safe to
# run concurrently on one DIR (flock).  Private keys are test keys: never use
# them for anything but tests.
set -eu

STAMP=.mkpki-v2

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
dir=$1
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
[ -f "$dir/$STAMP" ] && exit 0

exec 9>"$dir/.mkpki.lock"
flock 9
[ -f "$dir/$STAMP" ] && exit 0

# Build in a scratch folder beside DIR, then move the results in, so an
# interrupted run never leaves a half-made PKI that looks complete.
work=$(mktemp -d "$dir/.mkpki.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

ossl() {
	# openssl is chatty on stderr even when it succeeds; show it only on
	# failure.
	if ! openssl "$@" 2>ossl.err; then
		echo "mkpki: openssl $1 failed:" >&2
		cat ossl.err >&2
		exit 1
	fi
}

ec_key() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
rsa_key() { ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"; }

# make_ca NAME CN
make_ca() {
	ec_key "$1.key"
	ossl req -x509 -new -key "$1.key" -sha256 -days 3650 -subj "/O=redis-tls-shim test/CN=$2" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" -out "$1.crt"
}

# ext_server SAN  /  ext_client: extension files for leaf certificates.
ext_server() {
	cat >"$1" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$2
authorityKeyIdentifier=keyid
EOF
}
ext_client() {
	cat >"$1" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
authorityKeyIdentifier=keyid
EOF
}

# sign CA NAME CN EXTFILE: NAME.crt from NAME.key, signed by CA.
sign() {
	ossl req -new -key "$2.key" -subj "/O=redis-tls-shim test/CN=$3" -out "$2.csr"
	ossl x509 -req -in "$2.csr" -CA "$1.crt" -CAkey "$1.key" -CAcreateserial \
		-sha256 -days 825 -extfile "$4" -out "$2.crt"
	rm -f "$2.csr"
}

make_ca ca "redis-tls-shim test CA"
make_ca other-ca "unrelated test CA"

ext_server server.ext "DNS:localhost,IP:127.0.0.1,IP:::1"
ext_server wrongname.ext "DNS:wrong.example"
ext_server redistest.ext "DNS:redis.test"
ext_client client.ext

rsa_key server.key
sign ca server localhost server.ext

cp server.key server-other-ca.key
sign other-ca server-other-ca localhost server.ext

rsa_key server-wrongname.key
sign ca server-wrongname wrong.example wrongname.ext

rsa_key server-redistest.key
sign ca server-redistest redis.test redistest.ext

ec_key client.key
sign ca client "test client" client.ext

ec_key client-other-ca.key
sign other-ca client-other-ca "client of the other CA" client.ext

# An expired certificate: `x509 -req` cannot back-date, `openssl ca` can.
rsa_key server-expired.key
mkdir -p cadb
: >cadb/index.txt
cat >ca.cnf <<'EOF'
[ ca ]
default_ca = test
[ test ]
database = cadb/index.txt
new_certs_dir = cadb
serial = cadb/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
organizationName = optional
commonName = supplied
EOF
echo 1000 >cadb/serial
ossl req -new -key server-expired.key -subj "/O=redis-tls-shim test/CN=localhost" \
	-out server-expired.csr
ossl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -notext \
	-startdate 20200101000000Z -enddate 20200102000000Z \
	-extfile server.ext -in server-expired.csr -out server-expired.crt
rm -rf cadb ca.cnf server-expired.csr

# The client key under a passphrase (PKCS#8, AES-256).
printf '%s\n' "test-passphrase-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" >passphrase.txt
ossl pkey -in client.key -aes256 -passout file:passphrase.txt -out client-enc.key

cat other-ca.crt ca.crt >ca-bundle.crt
mkdir cadir
cp ca.crt cadir/ca.pem
ossl rehash cadir

rm -f ./*.ext ./*.srl ossl.err
chmod 600 ./*.key
chmod 644 ./*.crt passphrase.txt

for f in *; do
	rm -rf "${dir:?}/$f"
	mv "$f" "$dir/$f"
done
: >"$dir/$STAMP"
