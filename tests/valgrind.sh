#!/bin/sh
# The main paths of tlsprobe under valgrind's memcheck: any invalid access,
# use of uninitialised memory or definite leak fails. Prints TAP.
set -u
tlsprobe=${TLSPROBE:?TLSPROBE must name the binary}
here=$(dirname "$0")
if ! command -v valgrind >/dev/null 2>&1; then
	echo "1..0 # SKIP valgrind is not installed"
	exit 0
fi
dir=$(mktemp -d)
server=""
servers=""
trap 'for p in $server $servers; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$dir"' EXIT INT TERM
vg() {
	valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		--show-leak-kinds=definite --suppressions="$here/valgrind.supp" --log-file="$dir/vg.log" "$@" \
		>"$dir/out" 2>"$dir/err"
}
n=0 failed=0
check() { # name, expected exit codes (space separated), command...
	name=$1 want=$2
	shift 2
	n=$((n + 1))
	vg "$@"
	rc=$?
	case " $want " in
	*" $rc "*) echo "ok $n - $name" ;;
	*)
		failed=$((failed + 1))
		echo "not ok $n - $name (exit $rc, wanted $want)"
		sed 's/^/# /' "$dir/vg.log" "$dir/err" | head -60
		;;
	esac
}

check "demo: every scenario served and probed in one process" "0" "$tlsprobe" demo
check "ca init" "0" "$tlsprobe" ca init "$dir/ca" --name Valgrind
check "ca issue" "0" "$tlsprobe" ca issue "$dir/ca" localhost 127.0.0.1
check "ca check" "0" "$tlsprobe" ca check --ca "$dir/ca/root.pem" --cert "$dir/ca/localhost.fullchain.pem" \
	--key "$dir/ca/localhost.key" --host localhost --json
check "cert --verify" "0" "$tlsprobe" cert "$dir/ca/localhost.fullchain.pem" --verify --ca-file "$dir/ca/root.pem" \
	--no-system-ca --host localhost

# A server outside valgrind, for the clients under it.
"$tlsprobe" serve --scenario all --listen 127.0.0.1:0 --write-ca "$dir/root.pem" >"$dir/ports" 2>/dev/null &
server=$!
i=0
while :; do
	# The file may not exist yet: the server's shell makes it.
	count=$(grep -c '^[0-9]' "$dir/ports" 2>/dev/null)
	if [ "${count:-0}" -ge 15 ] || [ $i -ge 100 ]; then
		break
	fi
	sleep 0.1
	i=$((i + 1))
done
awk '/^[0-9]/ { print "localhost:" $1 }' "$dir/ports" >"$dir/targets"
good=$(head -1 "$dir/targets")
check "batch over every scenario" "2" "$tlsprobe" batch "$dir/targets" --ca-file "$dir/root.pem" --json --parallel 8
check "connect, prometheus" "0" "$tlsprobe" "$good" --ca-file "$dir/root.pem" --format prometheus
check "fetch" "0" "$tlsprobe" fetch "https://$good/" --ca-file "$dir/root.pem" --json
check "fetch, failing TLS explained by a probe" "2" "$tlsprobe" fetch "https://$(sed -n 2p "$dir/targets")/" \
	--ca-file "$dir/root.pem"
check "connect, refused port" "2" "$tlsprobe" localhost:1 --timeout 2
check "scan: hellos, probes of each key type, resumption" "0 1" "$tlsprobe" scan "$good" --ca-file "$dir/root.pem" \
	--json --timeout 60
# Servers with a 1024-bit DH group of their own (RFC 5114's, not an RFC 7919
# one): tlsprobe names it "DH-1024" in a string of its own making, which a
# failed fetch takes over from the probe that explains it, and which the
# second look of a probe of a TLS 1.1-only server makes and must free.
# Not in a $(...): the server's pid must reach $servers, which the trap stops.
dh_server() { # file for the log, then s_server options; sets $port
	out=$1
	shift
	openssl s_server -accept 127.0.0.1:0 -cert "$dir/dh.crt" -key "$dir/dh.key" -dhparam "$dir/dh.pem" -www "$@" \
		>"$out" 2>&1 &
	servers="$servers $!"
	i=0
	until grep -q '^ACCEPT' "$out" 2>/dev/null || [ $i -ge 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	port=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$out")
}
if command -v openssl >/dev/null 2>&1 &&
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/dh.key" -out "$dir/dh.crt" -subj /CN=localhost \
		-addext subjectAltName=DNS:localhost -days 30 >/dev/null 2>&1 &&
	openssl genpkey -genparam -algorithm DH -pkeyopt dh_rfc5114:1 -out "$dir/dh.pem" >/dev/null 2>&1; then
	dh_server "$dir/dh12" -tls1_2 -cipher 'DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0'
	check "fetch explained by a probe that found a DH-1024 group" "2" "$tlsprobe" fetch "https://localhost:$port/" \
		--no-system-ca --json
	dh_server "$dir/dh11" -tls1_1 -cipher 'DHE-RSA-AES128-SHA:@SECLEVEL=0'
	check "connect, a second look at a TLS 1.1-only server with a DH-1024 group" "2" "$tlsprobe" \
		"localhost:$port" --no-system-ca --json
	check "scan of a TLS 1.1-only server: its probe with a priority of its own" "1 2" "$tlsprobe" scan \
		"localhost:$port" --no-system-ca --json --timeout 60
fi
# The exporter: a process that lives through many requests, reloads and a
# stop. Every kind of request once, then SIGTERM: exit 0, nothing leaked.
if command -v curl >/dev/null 2>&1; then
	n=$((n + 1))
	name="exporter: probes, modules, reloads, the pages, SIGTERM"
	printf 'modules:\n  strict:\n    ca-file: root.pem\n    no-system-ca: true\n  web:\n    prober: https\n    ca-file: root.pem\n' \
		>"$dir/exporter.yml"
	valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		--show-leak-kinds=definite --suppressions="$here/valgrind.supp" --log-file="$dir/vg-exporter.log" \
		"$tlsprobe" exporter --listen 127.0.0.1:0 --config "$dir/exporter.yml" --max-concurrent 4 \
		>"$dir/exporter.out" 2>"$dir/exporter.err" &
	exporter=$!
	servers="$servers $exporter"
	i=0
	until grep -q 'listening on' "$dir/exporter.err" 2>/dev/null || [ $i -ge 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	base="http://127.0.0.1:$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$dir/exporter.err")"
	for path in "/probe?target=$good" "/probe?target=$good&module=strict" "/probe?target=$good&module=web" \
		"/probe?target=$(sed -n 2p "$dir/targets")&module=strict&debug=true" "/probe?target=localhost:1" \
		"/probe?target=$good&module=nope" "/probe" "/metrics" "/" "/report?id=1" "/nothing"; do
		curl -s -o /dev/null --max-time 60 "$base$path"
	done
	curl -s -o /dev/null --max-time 60 -X POST "$base/-/reload"
	printf 'modules:\n  bad:\n    nope: 1\n' >"$dir/exporter.yml"
	curl -s -o /dev/null --max-time 60 -X POST "$base/-/reload"
	kill -HUP "$exporter"
	sleep 1
	curl -s -o /dev/null --max-time 60 "$base/probe?target=$good&module=strict"
	kill -TERM "$exporter"
	wait "$exporter"
	rc=$?
	if [ "$rc" -eq 0 ]; then
		echo "ok $n - $name"
	else
		failed=$((failed + 1))
		echo "not ok $n - $name (exit $rc, wanted 0)"
		sed 's/^/# /' "$dir/vg-exporter.log" "$dir/exporter.err" | head -60
	fi
fi
echo "1..$n"
[ "$failed" -eq 0 ]
