# fish completion for tlsprobe(1)
# The commands and options MUST match `tlsprobe [COMMAND] --help`:
# tests/docs checks them.

# The command, when named, is the first word; a probe needs no name.
function __tlsprobe_command
    set -l words (commandline -opc)
    if set -q words[2]; and contains -- $words[2] connect serve demo fetch batch exporter scan cert ca
        echo $words[2]
    else
        echo connect
    end
end

function __tlsprobe_using
    test (__tlsprobe_command) = $argv[1]
end

function __tlsprobe_first_word
    test (count (commandline -opc)) -eq 1
end

# The words after the command that are neither options nor their values.
function __tlsprobe_operands
    set -l words (commandline -opc)[2..-1]
    contains -- $words[1] connect serve demo fetch batch exporter scan cert ca; and set -e words[1]
    set -l skip 0
    for w in $words
        if test $skip = 1
            set skip 0
        else if contains -- $w --sni --starttls --timeout --as --at --ca-file --crit-days --crl --warn-days --alpn --client-cert --client-cert-wait --client-key --priority --tls-max --tls-min --color --format -P --parallel --base-port --cert --handshake-timeout --key --listen --name --request-timeout --scenario --workers --write-ca --write-client-cert --client-ca --connect-to --max-time --proxy --noproxy --resolve --data -H --header --max-redirs -X --method --expect-body --expect-header --expect-status --max-ms --host --ca --csr --days --key-type --out --save-chain --write-fullchain --config --max-concurrent --max-crl-size --cache-dir --crl-url --ocsp-url --reason --ocsp-response
            set skip 1
        else if not string match -q -- '-*' $w
            echo $w
        end
    end
end

# ca init DIR, ca issue DIR NAME..., ca revoke DIR NAME|FILE|SERIAL,
# ca crl DIR: what the next operand is.
function __tlsprobe_ca_expects
    __tlsprobe_using ca; or return 1
    set -l ops (__tlsprobe_operands)
    switch $argv[1]
        case action
            test (count $ops) -eq 0
        case dir
            test (count $ops) -eq 1; and contains -- $ops[1] init issue revoke crl
        case name
            test (count $ops) -ge 2; and test $ops[1] = issue
        case revoked
            test (count $ops) -eq 2; and test $ops[1] = revoke
    end
end

# ca revoke DIR NAME: the names certificates were issued for in DIR
# (DIR/NAME.pem, not the CA's own files); host names when it holds none.
function __tlsprobe_issued
    set -l dir (__tlsprobe_operands)[2]
    string match -q -- '~/*' $dir; and set dir $HOME/(string sub -s 3 -- $dir)
    set -l names
    for pem in $dir/*.pem
        test -f $pem; or continue
        set -l name (string replace -r -- '^.*/(.*)\.pem$' '$1' $pem)
        contains -- $name root intermediate crl; or string match -q -- '*.fullchain' $name; or set -a names $name
    end
    if set -q names[1]
        printf '%s\tIssued\n' $names
    else
        __fish_print_hostnames
    end
end

# The scenarios of the tlsprobe being completed, without the header.
function __tlsprobe_scenarios
    set -l program (commandline -opc)[1]
    echo all
    $program serve --list-scenarios 2>/dev/null | string match -rv '^SCENARIO ' | string replace -r ' .*' ''
end

# --as: clients, comma separated; complete the last one.
function __tlsprobe_clients
    set -l token (commandline -ct | string replace -r -- '^--as=' '')
    set -l prefix (string match -r -- '^.*,' $token)
    printf '%s\t%s\n' "$prefix"openssl 'OpenSSL 3: curl, wget' "$prefix"gnutls 'GnuTLS: gnutls-cli, apt' \
        "$prefix"python "Python's ssl, as of 3.13" "$prefix"nss 'NSS (vfychain; Firefox differs)' \
        "$prefix"chrome "Chrome's verifier" "$prefix"go "Go's crypto/x509" "$prefix"java "The JDK's PKIX"
    test -n "$prefix"; or printf '%s\t%s\n' all 'Every client (the default)'
end

# --noproxy: hosts, comma separated; complete the last one.
function __tlsprobe_noproxy_hosts
    set -l token (commandline -ct | string replace -r -- '^--noproxy=' '')
    set -l prefix (string match -r -- '^.*,' $token)
    for host in (__fish_print_hostnames)
        echo "$prefix$host"
    end
end

# A TARGET is a host (host, host:port, [v6addr]:port, https://URL), never a
# file: no file names unless an option asks for one.
complete -c tlsprobe -f

complete -c tlsprobe -n __tlsprobe_first_word -a connect -d 'Probe each TARGET and report (the default)'
complete -c tlsprobe -n __tlsprobe_first_word -a serve -d 'Run the reference TLS server'
complete -c tlsprobe -n __tlsprobe_first_word -a demo -d 'Serve every scenario, probe each, show the diagnoses'
complete -c tlsprobe -n __tlsprobe_first_word -a fetch -d 'Make an HTTPS request through libcurl and report it'
complete -c tlsprobe -n __tlsprobe_first_word -a batch -d 'Probe every target in a list, many at once'
complete -c tlsprobe -n __tlsprobe_first_word -a exporter -d 'Answer Prometheus scrapes: /probe, /metrics, a status page'
complete -c tlsprobe -n __tlsprobe_first_word -a scan -d 'What a server accepts: versions, suites, groups, signature schemes'
complete -c tlsprobe -n __tlsprobe_first_word -a cert -d 'Show certificate files; judge their chain with --verify'
complete -c tlsprobe -n __tlsprobe_first_word -a ca -d 'Run a small CA of your own: init, issue, revoke, crl, check'
complete -c tlsprobe -n '__tlsprobe_using connect; or __tlsprobe_using scan' -a '(__fish_print_hostnames)' -d Host
complete -c tlsprobe -n '__tlsprobe_using batch; and test (count (__tlsprobe_operands)) -eq 0' -F
complete -c tlsprobe -n '__tlsprobe_using cert' -F
complete -c tlsprobe -n '__tlsprobe_ca_expects action' -a init -d 'Make a root CA and an intermediate in DIR'
complete -c tlsprobe -n '__tlsprobe_ca_expects action' -a issue -d 'Issue a certificate for these names'
complete -c tlsprobe -n '__tlsprobe_ca_expects action' -a revoke -d 'Revoke a certificate the CA issued (name, file or serial)'
complete -c tlsprobe -n '__tlsprobe_ca_expects action' -a crl -d 'Sign the CRL (DIR/crl.pem, DIR/crl.der) to publish'
complete -c tlsprobe -n '__tlsprobe_ca_expects action' -a check -d 'Lint a setup before deploying it'
complete -c tlsprobe -n '__tlsprobe_ca_expects dir' -a '(__fish_complete_directories)'
complete -c tlsprobe -n '__tlsprobe_ca_expects name' -a '(__fish_print_hostnames)' -d Host
complete -c tlsprobe -n '__tlsprobe_ca_expects revoked' -a '(__tlsprobe_issued)'

# connect, batch, exporter and scan: Connection
set -l c '__tlsprobe_using connect; or __tlsprobe_using batch; or __tlsprobe_using exporter; or __tlsprobe_using scan'
complete -c tlsprobe -n $c -l connect-to -x -a '(__fish_print_hostnames)' -d 'Connect to ADDR[:PORT] instead of where DNS says, keeping the name'
complete -c tlsprobe -n $c -s 4 -l ipv4 -d 'Connect over IPv4 only'
complete -c tlsprobe -n $c -s 6 -l ipv6 -d 'Connect over IPv6 only'
complete -c tlsprobe -n $c -l sni -x -a '(__fish_print_hostnames)' -d 'Send NAME as SNI and verify the certificate against it'
complete -c tlsprobe -n $c -l no-sni -d "Send no SNI (the server's default certificate), still checking the name"
complete -c tlsprobe -n $c -l all-addresses -d 'Probe every address the name resolves to, in parallel'
complete -c tlsprobe -n $c -l starttls -x -a 'smtp lmtp imap pop3 ftp nntp sieve irc xmpp xmpp-server ldap postgres mysql' -d 'Speak PROTO before TLS'
complete -c tlsprobe -n $c -l noproxy -x -a '(__tlsprobe_noproxy_hosts)' -d 'Reach these hosts directly, not through the proxy (* for all)'
complete -c tlsprobe -n $c -l offline -d 'Download nothing: no missing issuer from the URL its certificate names'
complete -c tlsprobe -n $c -l proxy -x -d 'Reach the target through this proxy: http://, socks5:// or socks5h:// URL'
complete -c tlsprobe -n $c -l timeout -x -d 'Bound the whole probe, in seconds (default 10)'

# connect, batch, exporter and scan: Trust and verification
complete -c tlsprobe -n $c -l as -x -a '(__tlsprobe_clients)' -d 'Judge as these clients only (comma separated)'
complete -c tlsprobe -n $c -l at -x -d 'Judge validity as if at TIME (2030-01-31, 2030-01-31T12:00:00Z, @EPOCH)'
complete -c tlsprobe -n $c -l ca-file -r -F -d 'Also trust the CA certificates in FILE (repeatable)'
complete -c tlsprobe -n $c -l cache-dir -x -a '(__fish_complete_directories)' -d 'Keep online answers (OCSP, CRLs, issuers) in DIR'
complete -c tlsprobe -n $c -l crit-days -x -d 'Critical when a certificate expires within N days (14)'
complete -c tlsprobe -n $c -l crl -r -F -d 'Check the chain against the CRLs in FILE (repeatable)'
complete -c tlsprobe -n $c -s k -l insecure -d 'Report verification problems but do not fail on them'
complete -c tlsprobe -n $c -l max-crl-size -x -d 'Download no CRL larger than SIZE bytes (K, M, G suffixes; default 64M)'
complete -c tlsprobe -n $c -l no-system-ca -d "Do not trust the system's CA store"
complete -c tlsprobe -n $c -l ocsp-required -d 'Fail when the server staples no OCSP response'
complete -c tlsprobe -n $c -l warn-days -x -d 'Warn when a certificate expires within N days (30)'

# connect, batch, exporter and scan: TLS
complete -c tlsprobe -n $c -l alpn -x -d 'ALPN protocols to offer, comma separated (h2,http/1.1)'
complete -c tlsprobe -n $c -l client-cert -r -F -d 'Client certificate for mutual TLS (PEM)'
complete -c tlsprobe -n $c -l client-cert-wait -x -d "TLS 1.3: wait up to MS for the server's verdict on the client certificate"
complete -c tlsprobe -n $c -l client-key -r -F -d 'Private key of --client-cert'
complete -c tlsprobe -n $c -l priority -x -d 'GnuTLS priority string (default NORMAL)'
complete -c tlsprobe -n $c -l tls-max -x -a '1.0 1.1 1.2 1.3' -d 'Highest TLS version to offer'
complete -c tlsprobe -n $c -l tls-min -x -a '1.0 1.1 1.2 1.3' -d 'Lowest TLS version to offer (default 1.2)'

# connect, batch and scan: Output (the exporter chooses its own)
set -l o '__tlsprobe_using connect; or __tlsprobe_using batch; or __tlsprobe_using scan'
complete -c tlsprobe -n $o -l color -x -a 'auto always never' -d 'Colour the text output'
complete -c tlsprobe -n $o -l format -x -a 'text json nagios prometheus tsv' -d 'Output format'
complete -c tlsprobe -n $o -l json -d 'One JSON object per target (same as --format json)'
complete -c tlsprobe -n $o -s q -l quiet -d 'Text: print only the verdict line'
complete -c tlsprobe -n $o -s v -l verbose -d 'Text: show more detail'

# connect alone
complete -c tlsprobe -n '__tlsprobe_using connect' -l save-chain -r -F -d 'Write the certificates the server sent to FILE, as PEM'
complete -c tlsprobe -n '__tlsprobe_using connect' -l write-fullchain -r -F -d 'Write the leaf and intermediates the server should send (missing ones downloaded) to FILE'

# batch
set -l b '__tlsprobe_using batch'
complete -c tlsprobe -n $b -s P -l parallel -x -d 'Probe up to N targets at once (default 32)'
complete -c tlsprobe -n $b -l ordered -d 'Write results in input order (default: as they finish)'
complete -c tlsprobe -n $b -l scan -d 'Scan every target, as tlsprobe scan does'

# scan
complete -c tlsprobe -n '__tlsprobe_using scan' -s P -l parallel -x -d 'Make up to N connections at once (default 8)'

# exporter
set -l e '__tlsprobe_using exporter'
complete -c tlsprobe -n $e -l config -r -F -d 'The modules, in YAML (reloaded on SIGHUP and POST /-/reload)'
complete -c tlsprobe -n $e -l listen -x -d 'Listen on ADDR:PORT (default :9856, every address)'
complete -c tlsprobe -n $e -l max-concurrent -x -d 'Run up to N probes at once (default 32)'

# serve
set -l s '__tlsprobe_using serve'
complete -c tlsprobe -n $s -l alpn -x -d 'ALPN protocols to accept, comma separated (default http/1.1)'
complete -c tlsprobe -n $s -l base-port -x -d 'With --scenario all: serve them on PORT, PORT+1, ...'
complete -c tlsprobe -n $s -l cert -r -F -d 'Serve this certificate chain (PEM, leaf first)'
complete -c tlsprobe -n $s -l echo -d 'Echo bytes back instead of answering HTTP'
complete -c tlsprobe -n $s -l handshake-timeout -x -d 'Drop clients that do not finish the handshake in time (10)'
complete -c tlsprobe -n $s -l key -r -F -d 'Private key of --cert'
complete -c tlsprobe -n $s -l list-scenarios -d 'List the scenarios and what a client should report'
complete -c tlsprobe -n $s -l listen -x -d 'Listen on ADDR:PORT (default 127.0.0.1:8443)'
complete -c tlsprobe -n $s -l log-json -d 'Log one JSON object per connection'
complete -c tlsprobe -n $s -l name -x -a '(__fish_print_hostnames)' -d "Add NAME to the made certificates' names"
complete -c tlsprobe -n $s -l request-timeout -x -d 'Drop clients not answered within SECONDS of connecting'
complete -c tlsprobe -n $s -l scenario -x -a '(__tlsprobe_scenarios)' -d 'Serve this setup (default good)'
complete -c tlsprobe -n $s -l workers -x -d 'Worker threads (default: one per CPU)'
complete -c tlsprobe -n $s -l write-ca -r -F -d 'Write the made root CA certificate to FILE'
complete -c tlsprobe -n $s -l write-client-cert -r -F -d 'Write a client certificate the server accepts'
complete -c tlsprobe -n $s -l client-ca -r -F -d 'Verify client certificates with the CAs in FILE'
complete -c tlsprobe -n $s -l ocsp-response -r -F -d 'With --cert: staple this OCSP response (DER) to the certificate'
complete -c tlsprobe -n $s -l request-client-cert -d 'Ask clients for a certificate, accept them without'
complete -c tlsprobe -n $s -l require-client-cert -d 'Refuse clients without a valid certificate'

# demo
set -l d '__tlsprobe_using demo'
complete -c tlsprobe -n $d -l color -x -a 'auto always never' -d 'Colour the text output'
complete -c tlsprobe -n $d -s v -l verbose -d 'Text: show more detail'

# fetch
set -l h '__tlsprobe_using fetch'
complete -c tlsprobe -n $h -l connect-to -x -d 'Connect to H2:P2 for requests to H1:P1, as curl (repeatable)'
complete -c tlsprobe -n $h -l max-time -x -d 'Bound the whole request, in seconds (default 10)'
complete -c tlsprobe -n $h -l proxy -x -d 'Use this proxy (default: https_proxy and no_proxy)'
complete -c tlsprobe -n $h -l resolve -x -d 'Resolve HOST:PORT to ADDR, as curl (repeatable)'
complete -c tlsprobe -n $h -l data -x -d 'Send DATA as the request body'
complete -c tlsprobe -n $h -s H -l header -x -d 'Send this request header, "Name: value" (repeatable)'
complete -c tlsprobe -n $h -l http1.1 -d 'Use HTTP/1.1'
complete -c tlsprobe -n $h -l http2 -d 'Use HTTP/2 (negotiated with ALPN)'
complete -c tlsprobe -n $h -s L -l location -d 'Follow redirects'
complete -c tlsprobe -n $h -l max-redirs -x -d 'With -L: follow at most N redirects (10)'
complete -c tlsprobe -n $h -s X -l method -x -a 'GET HEAD POST PUT PATCH DELETE OPTIONS' -d 'Request method (default GET)'
complete -c tlsprobe -n $h -l expect-body -x -d 'Critical unless the body contains TEXT'
complete -c tlsprobe -n $h -l expect-header -x -d 'Critical unless the response has this header (repeatable)'
complete -c tlsprobe -n $h -l expect-status -x -d 'Critical unless the status is in LIST (200,301-308)'
complete -c tlsprobe -n $h -l max-ms -x -d 'Critical when the request takes more than N ms'
complete -c tlsprobe -n $h -l ca-file -r -F -d 'Also trust the CA certificates in FILE (repeatable)'
complete -c tlsprobe -n $h -s k -l insecure -d 'Report verification problems but do not fail on them'
complete -c tlsprobe -n $h -l no-system-ca -d "Do not trust the system's CA store"
complete -c tlsprobe -n $h -l client-cert -r -F -d 'Client certificate for mutual TLS (PEM)'
complete -c tlsprobe -n $h -l client-key -r -F -d 'Private key of --client-cert'

# fetch, cert and ca check: judging a chain, and output
set -l j '__tlsprobe_using fetch; or __tlsprobe_using cert; or __tlsprobe_using ca'
complete -c tlsprobe -n $j -l as -x -a '(__tlsprobe_clients)' -d 'Judge as these clients only (comma separated)'
complete -c tlsprobe -n $j -l at -x -d 'Judge validity as if at TIME (2030-01-31, 2030-01-31T12:00:00Z, @EPOCH)'
complete -c tlsprobe -n $j -l crit-days -x -d 'Critical when a certificate expires within N days (14)'
complete -c tlsprobe -n $j -l crl -r -F -d 'Check the chain against the CRLs in FILE (repeatable)'
complete -c tlsprobe -n $j -l warn-days -x -d 'Warn when a certificate expires within N days (30)'
complete -c tlsprobe -n '__tlsprobe_using cert; or __tlsprobe_using ca' -l host -x -a '(__fish_print_hostnames)' -d 'The name the certificate must cover'
complete -c tlsprobe -n $j -l color -x -a 'auto always never' -d 'Colour the text output'
complete -c tlsprobe -n $j -l format -x -a 'text json nagios prometheus tsv' -d 'Output format'
complete -c tlsprobe -n $j -l json -d 'One JSON object per target (same as --format json)'
complete -c tlsprobe -n $j -s q -l quiet -d 'Text: print only the verdict line'
complete -c tlsprobe -n $j -s v -l verbose -d 'Text: show more detail'

# cert
set -l f '__tlsprobe_using cert'
complete -c tlsprobe -n $f -l ca-file -r -F -d 'Also trust the CA certificates in FILE (repeatable)'
complete -c tlsprobe -n $f -l no-system-ca -d "Do not trust the system's CA store"
complete -c tlsprobe -n $f -l verify -d 'Verify the chain in each file, as a probe would'

# ca
set -l a '__tlsprobe_using ca'
complete -c tlsprobe -n $a -l ca -r -F -d 'check: the root CA certificate the chain must lead to'
complete -c tlsprobe -n $a -l cert -r -F -d 'check: the certificate or chain file to check (leaf first)'
complete -c tlsprobe -n $a -l client -d 'issue/check: a client certificate (clientAuth) for mutual TLS'
complete -c tlsprobe -n $a -l crl-url -x -d 'init: the CRL distribution point written into every certificate issued'
complete -c tlsprobe -n $a -l csr -r -F -d 'issue: sign this certificate request instead of making a key'
complete -c tlsprobe -n $a -l days -x -d "init: the root's lifetime (3650); issue: the leaf's (397); crl: until its next update (7)"
complete -c tlsprobe -n $a -l force -d 'init/issue: replace existing files'
complete -c tlsprobe -n $a -l key -r -F -d 'check: the private key that must belong to the certificate'
complete -c tlsprobe -n $a -l key-type -x -a 'ecdsa rsa ed25519' -d 'init/issue: the key to make'
complete -c tlsprobe -n $a -l name -x -d "init: the CA's name (NAME Root CA, NAME Intermediate CA)"
complete -c tlsprobe -n $a -l no-intermediate -d 'init: a root only; issue signs with it'
complete -c tlsprobe -n $a -l ocsp-url -x -d 'init: the OCSP responder written into every certificate issued'
complete -c tlsprobe -n $a -l out -r -F -d 'issue: write PREFIX.pem, PREFIX.key, PREFIX.fullchain.pem'
complete -c tlsprobe -n $a -l reason -x -a 'keyCompromise cACompromise affiliationChanged superseded cessationOfOperation certificateHold privilegeWithdrawn unspecified' -d 'revoke: why (default unspecified)'

# every command
complete -c tlsprobe -s h -l help -d 'Show this help'
complete -c tlsprobe -s V -l version -d 'Show versions of tlsprobe and its libraries'
