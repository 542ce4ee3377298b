#!/bin/bash
# rediss:// URLs end to end, against a TLS-only redis-server that requires
# a client certificate and a password: /usr/bin/python3 (redis-py) reads
# REDIS_URL with redis.from_url through `redis-tls-run --url-env`, then
# through the entrypoint (REDIS_TLS_URL_ENV, from --print-env's file);
# redis-cli through `--url`.  The value lands in the URL's database, the
# program sees redis://, the URL's password is the one used, and it
# appears in no log line at debug level.  (The wrapper's parsing and
# refusals: 05-wrapper.sh.)
# shellcheck source-path=SCRIPTDIR source=../../scripts/testlib.sh disable=SC2317,SC2119,SC2016
source "$(dirname "$0")/../../scripts/testlib.sh"
t_require_shim

T_ENTRY=$T_ROOT/scripts/redis-tls-entrypoint
PW=pw-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
start_tls_redis --requirepass "$PW" || t_done
TLS=(--cacert "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client.key")

# The program: prints the URL it was given, SETs KEY to VALUE and prints
# what GET returns.
PYC=$T_ROOT/tests/clients/url_client.py

# db_get DB KEY: KEY in database DB, read with redis-cli's own TLS.
db_get() { REDISCLI_AUTH=$PW rcli_native --no-auth-warning -n "$1" GET "$2"; }

# no_password WHAT TEXT: the password is nowhere in TEXT.
no_password() { assert_not_contains "$2" "$PW" "$1"; }

case_url_env_python() {
	local url="rediss://default:$PW@127.0.0.1:$REDIS_PORT/2" value
	value=$(marker)
	t_run env REDIS_URL="$url" "$T_RUN" --url-env REDIS_URL "${TLS[@]}" --log-level debug -- \
		"$T_PY" "$PYC" url:py "$value"
	assert_rc 0 "redis-py through --url-env" || return
	assert_eq "redis://default:$PW@127.0.0.1:$REDIS_PORT/2"$'\n'"$value" "$T_OUT" \
		"the URL the program saw, its GET" || return
	assert_eq "$value" "$(db_get 2 url:py)" "the key in db 2 (native redis-cli)" || return
	assert_eq "" "$(db_get 0 url:py)" "the key in db 0" || return
	# Logging was on (the wrapper's line, the shim's), and never shows it.
	assert_contains "$T_ERR" "redis-tls-run: REDIS_URL: rediss://default:***@127.0.0.1:$REDIS_PORT/2 -> endpoint 127.0.0.1:$REDIS_PORT" \
		"the wrapper's info line" || return
	[ -n "$(shim_log_lines)" ] || { fail "no shim log line at debug: $(t_short "$T_ERR")"; return; }
	no_password "stderr at debug" "$T_ERR"
}

case_url_env_wrong_password() {
	# The URL's password is the one the server checks: a wrong one fails.
	t_run env REDIS_URL="rediss://default:not-$PW@127.0.0.1:$REDIS_PORT/2" "$T_RUN" \
		--url-env REDIS_URL "${TLS[@]}" -- "$T_PY" "$PYC" url:wrong x
	assert_failed "redis-py with a wrong password" || return
	assert_match "$T_ERR" "WRONGPASS|invalid username-password" "redis-py's error"
}

case_url_env_ipv6() {
	# An IPv6 host in brackets, end to end (the test certificate has
	# IP:::1).
	if ! ip -6 addr show lo 2>/dev/null | grep -q 'inet6 ::1/'; then
		echo "    (no ::1 on lo: not run)"
		return 0
	fi
	local value port
	value=$(marker)
	_start_redis tls --bind 127.0.0.1 ::1 --requirepass "$PW" || return
	port=$_PORT
	t_run env REDIS_URL="rediss://:$PW@[::1]:$port/3" "$T_RUN" --url-env REDIS_URL "${TLS[@]}" \
		--log-level debug -- "$T_PY" "$PYC" url:v6 "$value"
	assert_rc 0 "redis-py to [::1]" || return
	assert_eq "redis://:$PW@[::1]:$port/3"$'\n'"$value" "$T_OUT" "the URL, the GET" || return
	assert_eq "$value" "$(REDISCLI_AUTH=$PW redis-cli "${T_TLS_FLAGS[@]}" --no-auth-warning -h ::1 \
		-p "$port" -n 3 GET url:v6)" "the key in db 3 of [::1]:$port" || return
	no_password "stderr at debug" "$T_ERR"
}

case_entrypoint_url_env() {
	# --print-env's file (REDIS_TLS_URL_ENV, not the URL) and the URL given
	# to the container: the entrypoint hands the program redis://.
	local envfile=$T_TMP/url.env url="rediss://default:$PW@127.0.0.1:$REDIS_PORT/4" value lib=()
	local -a vars
	value=$(marker)
	env REDIS_URL="$url" "$T_RUN" --url-env REDIS_URL "${TLS[@]}" --log-level debug \
		--print-env >"$envfile" 2>"$T_TMP/pe.err"
	assert_eq 0 "$?" "--print-env ($(cat "$T_TMP/pe.err"))" || return
	no_password "--print-env's output" "$(cat "$envfile" "$T_TMP/pe.err")" || return
	assert_file_has "$envfile" "REDIS_TLS_URL_ENV=REDIS_URL" || return
	assert_file_has "$envfile" "REDIS_TLS_ENDPOINTS=127.0.0.1:$REDIS_PORT" || return
	mapfile -t vars < <(grep -v '^#' "$envfile")
	[ "$T_LIB" = "$T_ROOT/build/libredistls.so" ] || lib=("REDIS_TLS_LIB=$T_LIB")
	t_run env -i PATH=/usr/local/bin:/usr/bin:/bin "${lib[@]}" "${vars[@]}" REDIS_URL="$url" \
		"$T_ENTRY" "$T_PY" "$PYC" url:entry "$value"
	assert_rc 0 "redis-py through the entrypoint" || return
	assert_eq "redis://default:$PW@127.0.0.1:$REDIS_PORT/4"$'\n'"$value" "$T_OUT" \
		"the URL the program saw, its GET" || return
	assert_eq "$value" "$(db_get 4 url:entry)" "the key in db 4" || return
	[ -n "$(shim_log_lines)" ] || { fail "no shim log line at debug: $(t_short "$T_ERR")"; return; }
	no_password "the entrypoint's stderr at debug" "$T_ERR" || return
	# REDIS_TLS_URL_ENV alone configures the endpoint; a redis:// URL in
	# it is refused before the program starts.
	t_run env -i PATH=/usr/local/bin:/usr/bin:/bin "${lib[@]}" REDIS_TLS_URL_ENV=REDIS_URL \
		REDIS_URL="$url" "REDIS_TLS_CA_FILE=$PKI/ca.crt" "REDIS_TLS_CERT_FILE=$PKI/client.crt" \
		"REDIS_TLS_KEY_FILE=$PKI/client.key" "$T_ENTRY" "$T_PY" "$PYC" url:entry2 "$value"
	assert_rc 0 "the entrypoint with REDIS_TLS_URL_ENV only" || return
	assert_eq "$value" "$(db_get 4 url:entry2)" "the key in db 4" || return
	t_run env -i PATH=/usr/local/bin:/usr/bin:/bin "${lib[@]}" REDIS_TLS_URL_ENV=REDIS_URL \
		REDIS_URL="redis://default:$PW@127.0.0.1:$REDIS_PORT/4" "REDIS_TLS_CA_FILE=$PKI/ca.crt" \
		"$T_ENTRY" sh -c 'echo COMMAND-RAN'
	assert_rc 2 "the entrypoint with a redis:// URL" || return
	assert_not_contains "$T_OUT" COMMAND-RAN "the command" || return
	assert_match "$T_ERR" "redis://default:\*\*\*@127.0.0.1:$REDIS_PORT/4 is plaintext" "the refusal" || return
	no_password "the refusal" "$T_ERR" || return
	t_run env -i PATH=/usr/local/bin:/usr/bin:/bin "${lib[@]}" REDIS_TLS_URL_ENV=REDIS_URL \
		"REDIS_TLS_CA_FILE=$PKI/ca.crt" "$T_ENTRY" sh -c 'echo COMMAND-RAN'
	assert_rc 2 "the entrypoint, REDIS_URL unset" || return
	assert_eq "redis-tls-entrypoint: REDIS_TLS_URL_ENV names REDIS_URL, which is not set" "$T_ERR" \
		"one line"
}

case_url_redis_cli() {
	# --url: the endpoint only; redis-cli is given the host and port (and
	# its password its own way).
	local value
	value=$(marker)
	REDISCLI_AUTH=$PW rcli_native --no-auth-warning -n 2 SET url:cli "$value" >/dev/null
	t_run env REDISCLI_AUTH="$PW" "$T_RUN" --url "rediss://127.0.0.1:$REDIS_PORT" "${TLS[@]}" \
		--log-level debug -- redis-cli --no-auth-warning -h 127.0.0.1 -p "$REDIS_PORT" -n 2 GET url:cli
	assert_rc 0 "redis-cli through --url" || return
	assert_eq "$value" "$T_OUT" "its GET" || return
	# A password in --url's URL is not logged either.
	t_run env REDISCLI_AUTH="$PW" "$T_RUN" --url "rediss://default:$PW@127.0.0.1:$REDIS_PORT/2" \
		"${TLS[@]}" --log-level debug -- redis-cli --no-auth-warning -h 127.0.0.1 -p "$REDIS_PORT" \
		-n 2 GET url:cli
	assert_rc 0 "redis-cli through --url with a password" || return
	assert_eq "$value" "$T_OUT" "its GET" || return
	no_password "stderr at debug" "$T_ERR"
}

t_case "--url-env: redis-py reads REDIS_URL as redis://, SET/GET in db 2, password masked" case_url_env_python
t_case "--url-env: the URL's password is the one used (a wrong one fails)" case_url_env_wrong_password
t_case "--url-env: an IPv6 URL, rediss://[::1]:PORT/3" case_url_env_ipv6
t_case "entrypoint: REDIS_TLS_URL_ENV from --print-env, redis-py through it" case_entrypoint_url_env
t_case "--url: redis-cli to the URL's endpoint" case_url_redis_cli
t_done
