#!/bin/sh
# chrome-verify.sh: headless Chromium as a client, with its defaults, trusting
# only TRUST (a root in a fresh NSS database, as Chrome on Linux reads it).
# It runs in a network namespace of its own, made by the caller with
# `unshare -n`, holding only loopback: openssl s_server serves CERT, KEY and
# CHAIN there, and nothing Chromium tries reaches any other network.
#
# Usage: unshare -n chrome-verify.sh CERT KEY CHAIN|- TRUST HOST [s_server option...]
# With AIA_PORT and AIA_DIR set, the files of AIA_DIR are served over plain
# HTTP at 127.0.0.1:AIA_PORT too, where a certificate's AIA may point.
# Prints "loaded" when the page loaded, and "net_error N" for each network
# error Chromium's net log recorded (certificate errors are -200 to -299).
set -u
[ $# -ge 5 ] || { echo "usage: chrome-verify.sh CERT KEY CHAIN|- TRUST HOST [s_server option...]" >&2; exit 2; }
cert=$1 key=$2 chain=$3 trust=$4 host=$5
shift 5
ip link set lo up || exit 2
t=$(mktemp -d) || exit 2
aia=
trap 'kill "$srv" $aia 2>/dev/null; rm -rf "$t"' EXIT
if [ -n "${AIA_PORT:-}" ] && [ -n "${AIA_DIR:-}" ]; then
	python3 -m http.server --bind 127.0.0.1 --directory "$AIA_DIR" "$AIA_PORT" >"$t/aia.log" 2>&1 </dev/null &
	aia=$!
fi
mkdir -p "$t/.pki/nssdb"
certutil -N -d "sql:$t/.pki/nssdb" --empty-password || exit 2
certutil -A -d "sql:$t/.pki/nssdb" -n root -t "C,," -i "$trust" || exit 2
set -- -accept 127.0.0.1:8443 -cert "$cert" -key "$key" -www "$@"
[ "$chain" = - ] || set -- "$@" -cert_chain "$chain"
openssl s_server "$@" >"$t/server.log" 2>&1 </dev/null &
srv=$!
i=0
until grep -q ACCEPT "$t/server.log" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "s_server did not start" >&2; exit 2; }
	sleep 0.05
done
HOME=$t timeout 60 chromium --headless=new --no-sandbox --disable-gpu --no-first-run \
	--user-data-dir="$t/profile" --log-net-log="$t/net.json" \
	--dump-dom "https://$host:8443/" >"$t/dom.html" 2>"$t/chromium.log"
grep -q "s_server" "$t/dom.html" && echo loaded
grep -o '"net_error":-[0-9]*' "$t/net.json" | sed 's/.*://' | sort -u | sed 's/^/net_error /'
exit 0
