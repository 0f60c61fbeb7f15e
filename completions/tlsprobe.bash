# bash completion for tlsprobe(1)                          -*- shell-script -*-
#
# Needs bash-completion (_init_completion, _filedir, _known_hosts_real).
# The commands and options MUST match `tlsprobe [COMMAND] --help`:
# tests/docs checks them.

_tlsprobe()
{
	local cur prev words cword split
	_init_completion -s -n : || return

	# The command, when named, is the first word; a probe needs no name.
	local command=connect start=1
	case ${words[1]-} in
		connect | serve | demo | fetch | batch | exporter | scan | cert | ca)
			((cword > 1)) && command=${words[1]} start=2
			;;
	esac

	case $prev in
		--ca-file | --crl | --client-cert | --client-key | --cert | --key | \
			--client-ca | --write-ca | --write-client-cert | --ca | --csr | --out | --save-chain | \
			--write-fullchain | --config | --ocsp-response)
			_filedir
			return
			;;
		--key-type)
			COMPREPLY=($(compgen -W 'ecdsa rsa ed25519' -- "$cur"))
			return
			;;
		--format)
			COMPREPLY=($(compgen -W 'text json nagios prometheus tsv' -- "$cur"))
			return
			;;
		--color)
			COMPREPLY=($(compgen -W 'auto always never' -- "$cur"))
			return
			;;
		--tls-min | --tls-max)
			COMPREPLY=($(compgen -W '1.0 1.1 1.2 1.3' -- "$cur"))
			return
			;;
		--scenario)
			# The scenarios of the tlsprobe being completed.
			COMPREPLY=($(compgen -W "all $("$1" serve --list-scenarios \
				2>/dev/null | awk 'NR > 1 { print $1 }')" -- "$cur"))
			return
			;;
		--as)
			# Clients, comma separated: complete the last one.
			local prefix=
			[[ $cur == *,* ]] && prefix=${cur%,*},
			COMPREPLY=($(compgen -P "$prefix" -W 'openssl gnutls python nss chrome go java' \
				-- "${cur##*,}"))
			[[ $prefix ]] || COMPREPLY+=($(compgen -W 'all' -- "$cur"))
			return
			;;
		--sni | --host)
			_known_hosts_real -- "$cur"
			return
			;;
		--cache-dir)
			_filedir -d
			return
			;;
		--noproxy)
			# Hosts, comma separated (* for all): complete the last one.
			local prefix=
			[[ $cur == *,* ]] && prefix=${cur%,*},
			_known_hosts_real -p "$prefix" -- "${cur##*,}"
			return
			;;
		--connect-to)
			# connect, batch, exporter, scan: a host; fetch: curl's H1:P1:H2:P2
			[[ $command == fetch || $cur == *:* ]] || _known_hosts_real -- "$cur"
			return
			;;
		--name)
			# serve: a name for the certificates; ca init: the CA's name.
			[[ $command == serve ]] && _known_hosts_real -- "$cur"
			return
			;;
		--reason)
			# ca revoke: the reasons RFC 5280 names.
			COMPREPLY=($(compgen -W 'keyCompromise cACompromise affiliationChanged superseded
				cessationOfOperation certificateHold privilegeWithdrawn unspecified' -- "$cur"))
			return
			;;
		--starttls)
			COMPREPLY=($(compgen -W 'smtp lmtp imap pop3 ftp nntp sieve irc xmpp xmpp-server ldap postgres mysql' -- "$cur"))
			return
			;;
		-X | --method)
			COMPREPLY=($(compgen -W 'GET HEAD POST PUT PATCH DELETE OPTIONS' -- "$cur"))
			return
			;;
		--timeout | --at | --crit-days | --warn-days | --alpn | --priority | --client-cert-wait | \
			--base-port | --handshake-timeout | --request-timeout | --listen | --workers | --days | \
			--max-time | --proxy | --resolve | --data | -H | \
			--header | --max-redirs | --expect-body | --expect-header | \
			--expect-status | --max-ms | -P | --parallel | --max-concurrent | --max-crl-size | \
			--crl-url | --ocsp-url)
			# A free value: nothing sensible to offer, and no file names.
			return
			;;
	esac
	$split && return

	if [[ $cur == -* ]]; then
		local opts
		case $command in
			connect | batch | exporter | scan)
				opts='--connect-to -4 --ipv4 -6 --ipv6 --sni --no-sni --all-addresses --starttls
					--noproxy --offline --proxy --timeout
					--as --at --ca-file --cache-dir
					--crit-days --crl -k --insecure --max-crl-size --no-system-ca
					--ocsp-required --warn-days --alpn --client-cert
					--client-cert-wait --client-key --priority --tls-max --tls-min'
				# The exporter chooses its output itself.
				[[ $command != exporter ]] && opts+=' --color --format --json -q --quiet -v --verbose'
				[[ $command == batch || $command == scan ]] && opts+=' -P --parallel'
				[[ $command == batch ]] && opts+=' --ordered --scan'
				[[ $command == connect ]] && opts+=' --save-chain --write-fullchain'
				[[ $command == exporter ]] && opts+=' --config --listen --max-concurrent'
				;;
			serve)
				opts='--alpn --base-port --cert --echo --handshake-timeout
					--key --list-scenarios --listen --log-json --name
					--request-timeout --scenario --workers --write-ca --client-ca
					--ocsp-response --request-client-cert --require-client-cert
					--write-client-cert'
				;;
			demo)
				opts='--color -v --verbose'
				;;
			fetch)
				opts='--connect-to --max-time --proxy --resolve --data -H
					--header --http1.1 --http2 -L --location --max-redirs -X
					--method --expect-body --expect-header --expect-status
					--max-ms --as --at --ca-file --crit-days --crl -k --insecure
					--no-system-ca --warn-days --client-cert --client-key
					--color --format --json -q --quiet -v --verbose'
				;;
			cert)
				opts='--as --at --ca-file --crit-days --crl --host --no-system-ca
					--verify --warn-days --color --format --json -q --quiet
					-v --verbose'
				;;
			ca)
				opts='--as --at --crit-days --crl --host --warn-days --ca --cert
					--client --crl-url --csr --days --force --key --key-type --name
					--no-intermediate --ocsp-url --out --reason --color --format
					--json -q --quiet -v --verbose'
				;;
		esac
		COMPREPLY=($(compgen -W "$opts -h --help -V --version" -- "$cur"))
		return
	fi

	# The operands so far: the words after the command that are neither
	# options nor their values.
	local i operands=()
	for ((i = start; i < cword; i++)); do
		case ${words[i]} in
			--sni | --starttls | --timeout | --as | --at | --ca-file | --crit-days | --crl | \
				--warn-days | --alpn | --client-cert | --client-cert-wait | --client-key | --priority | \
				--tls-max | --tls-min | --color | --format | -P | --parallel | \
				--base-port | --cert | --handshake-timeout | --key | --listen | \
				--name | --request-timeout | --scenario | --workers | --write-ca | --write-client-cert | \
				--client-ca | --ocsp-response | \
				--connect-to | --max-time | --proxy | --noproxy | --resolve | --data | -H | \
				--header | --max-redirs | -X | --method | --expect-body | \
				--expect-header | --expect-status | --max-ms | --host | --ca | \
				--csr | --days | --key-type | --out | --save-chain | --write-fullchain | --config | \
				--max-concurrent | --max-crl-size | --cache-dir | --crl-url | --ocsp-url | \
				--reason) ((i++)) ;;
			-*) ;;
			*) operands+=("${words[i]}") ;;
		esac
	done

	case $command in
		connect | scan)
			# Each TARGET is a host, never a file. After "host:" comes a
			# port, and https:// URLs are typed out.
			[[ $cur == *:* ]] && return
			_known_hosts_real -- "$cur"
			[[ $command == connect ]] && ((cword == 1)) &&
				COMPREPLY+=($(compgen -W 'connect serve demo fetch batch exporter scan cert ca' -- "$cur"))
			;;
		batch)
			# One list of targets, or - for standard input.
			((${#operands[@]} == 0)) && _filedir
			;;
		cert)
			_filedir
			;;
		ca)
			# ca init DIR, ca issue DIR NAME..., ca revoke DIR NAME|FILE|SERIAL,
			# ca crl DIR, ca check
			case ${#operands[@]}:${operands[0]-} in
				0:) COMPREPLY=($(compgen -W 'init issue revoke crl check' -- "$cur")) ;;
				1:init | 1:issue | 1:revoke | 1:crl) _filedir -d ;;
				*:issue) _known_hosts_real -- "$cur" ;;
				2:revoke)
					# The names certificates were issued for in DIR (DIR/NAME.pem,
					# not the CA's own files); host names when it holds none.
					local pem dir=${operands[1]} names=()
					[[ $dir == "~"/* ]] && dir=$HOME/${dir#"~"/}
					for pem in "$dir"/*.pem; do
						[[ -f $pem ]] || continue
						pem=${pem##*/}
						case $pem in
							root.pem | intermediate.pem | crl.pem | *.fullchain.pem) ;;
							*) names+=("${pem%.pem}") ;;
						esac
					done
					if ((${#names[@]})); then
						COMPREPLY=($(compgen -W '${names[@]}' -- "$cur"))
					else
						_known_hosts_real -- "$cur"
					fi
					;;
			esac
			;;
	esac
} &&
	complete -F _tlsprobe tlsprobe

# ex: filetype=sh
