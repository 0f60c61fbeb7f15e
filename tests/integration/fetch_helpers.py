"""Helpers for test_fetch.py: `tlsprobe fetch` against real HTTPS servers on loopback.

Python 3 standard library only; loopback addresses only.

* :class:`Pki` makes a small PKI with the openssl CLI (never with tlsprobe):
  root -> intermediate -> leaf for localhost (SAN DNS:localhost, IP:127.0.0.1,
  IP:::1), and a separate client CA with one client certificate.
* :class:`Serve` runs ``tlsprobe serve --scenario NAME --listen ADDR:0`` and
  reads the port from its "listening on ADDR:PORT, NAME" line.
* :class:`Backend` is a plain-HTTP server in a thread: ``/slow`` answers after
  3 s, ``/echo`` answers with the method and the body it received.
* :class:`Nginx` runs nginx from a temporary directory as the current user
  (``daemon off``, its own pid, logs and temp paths), TLS with HTTP/2 on one
  port, plain HTTP on another, and proxies ``/slow`` and ``/echo`` to a
  :class:`Backend`.
* :func:`fetch_json` runs ``tlsprobe fetch ... --json`` and checks the output
  against the tlsprobe/1 schema with the fetch additions (``http``;
  ``timing_ms`` with ``tls`` and ``ttfb`` instead of ``handshake``).
"""

import http.server
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness

SLOW_SECONDS = 3.0
ROOT_BODY = "hello from nginx, tlsprobe fetch test\n"
FINAL_BODY = "the end of the redirect chain\n"
PLAIN_BODY = "plain http, no tls here\n"


# --------------------------------------------------------------------------
# running tlsprobe (the binary may be rebuilt while the tests run)
# --------------------------------------------------------------------------

def wait_for_binary(timeout=60.0):
    """Wait (a rebuild may be in progress) until the binary exists."""
    exe = harness.tlsprobe_path()
    deadline = time.monotonic() + timeout
    while not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        if time.monotonic() > deadline:
            return
        time.sleep(0.25)


def tlsprobe_argv(*args):
    """argv for a tlsprobe started with another working directory."""
    wait_for_binary()
    return [os.path.abspath(harness.tlsprobe_path())] + [str(a) for a in args]


def run(*args, timeout=30):
    """harness.run_tlsprobe after waiting for the binary."""
    wait_for_binary()
    return harness.run_tlsprobe(*args, timeout=timeout)


FETCH_TIMING_KEYS = ("dns", "connect", "tls", "ttfb", "total")
HTTP_KEYS = ("status", "reason", "http_version", "final_url", "content_type", "size", "hops",
             "curl_code", "curl_error")


def check_fetch_schema(o):
    """tlsprobe/1 as harness.check_schema has it, with the fetch differences:
    timing_ms is {dns, connect, tls, ttfb, total} and there is an http object."""
    tm = o.get("timing_ms")
    harness._keys(tm, "$.timing_ms", FETCH_TIMING_KEYS)
    harness._check("handshake" not in tm, "$.timing_ms", sorted(tm),
                   "fetch timings without 'handshake'")
    for k in FETCH_TIMING_KEYS[:-1]:
        harness._check(tm[k] is None or (harness._num(tm[k]) and tm[k] >= 0),
                       "$.timing_ms." + k, tm[k], "a number >= 0 or null")
    # the rest of the contract, exactly as for a probe
    probe_shaped = dict(o)
    probe_shaped["timing_ms"] = {"dns": tm["dns"], "connect": tm["connect"],
                                 "handshake": tm["tls"], "total": tm["total"]}
    harness.check_schema(probe_shaped)
    h = o.get("http")
    harness._keys(h, "$.http", HTTP_KEYS)
    harness._check(h["status"] is None or (harness._int(h["status"]) and
                                           100 <= h["status"] <= 999),
                   "$.http.status", h["status"], "an HTTP status or null")
    for k in ("reason", "http_version", "final_url", "content_type", "curl_error"):
        harness._check(h[k] is None or isinstance(h[k], str), "$.http." + k, h[k],
                       "string|null")
    harness._check(h["http_version"] in (None, "HTTP/1.0", "HTTP/1.1", "HTTP/2", "HTTP/3"),
                   "$.http.http_version", h["http_version"], "HTTP/x or null")
    harness._check(harness._int(h["size"]) and h["size"] >= 0, "$.http.size", h["size"],
                   "an integer >= 0")
    harness._check(harness._int(h["curl_code"]) and h["curl_code"] >= 0, "$.http.curl_code",
                   h["curl_code"], "an integer >= 0")
    harness._check((h["curl_code"] == 0) == (h["curl_error"] is None), "$.http.curl_error",
                   h["curl_error"], "null exactly when curl_code is 0")
    harness._check(isinstance(h["hops"], list), "$.http.hops", h["hops"], "a list")
    for i, hop in enumerate(h["hops"]):
        p = "$.http.hops[%d]" % i
        harness._keys(hop, p, ("status", "url"))
        harness._check(harness._int(hop["status"]), p + ".status", hop["status"], "an integer")
        harness._check(hop["url"] is None or isinstance(hop["url"], str), p + ".url",
                       hop["url"], "string|null")


def fetch_json(*args, timeout=30):
    """Run `tlsprobe fetch ARGS --json` -> harness.JsonProbe, schema checked."""
    wait_for_binary()
    r = harness.probe_json("fetch", *args, timeout=timeout, validate=False)
    try:
        check_fetch_schema(r.obj)
    except AssertionError as e:
        raise AssertionError("%s\nargs: %r\n%s" % (e, args, harness.dump(r.obj))) from None
    return r


# --------------------------------------------------------------------------
# certificates, made with openssl
# --------------------------------------------------------------------------

def _openssl(*args, cwd):
    p = subprocess.run(["openssl"] + list(args), cwd=cwd, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl %s failed (%d): %s" % (
            " ".join(args), p.returncode, p.stderr.decode(errors="replace")))


_EXT = {
    "ca": "basicConstraints=critical,CA:TRUE\n"
          "keyUsage=critical,keyCertSign,cRLSign\n"
          "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    "inter": "basicConstraints=critical,CA:TRUE,pathlen:0\n"
             "keyUsage=critical,keyCertSign,cRLSign\n"
             "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    "server": "basicConstraints=critical,CA:FALSE\n"
              "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
              "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n"
              "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    "client": "basicConstraints=critical,CA:FALSE\n"
              "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"
              "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
}


class Pki:
    """root -> inter -> leaf (localhost); client_ca -> client.  EC P-256.

    Paths: root, inter, leaf, leaf_key, chain (leaf + inter), client_ca,
    client, client_key."""

    def __init__(self, directory):
        self.dir = directory
        # validity shortens down the chain: no expires-soon, no outlives-issuer
        self.root, self.root_key = self._make("root", "tlsprobe fetch test root", "ca", None,
                                              3650)
        self.inter, self.inter_key = self._make("inter", "tlsprobe fetch test intermediate",
                                                "inter", (self.root, self.root_key), 1825)
        self.leaf, self.leaf_key = self._make("leaf", "localhost", "server",
                                              (self.inter, self.inter_key), 365)
        self.chain = self._cat("chain.pem", self.leaf, self.inter)
        self.client_ca, self.client_ca_key = self._make("client_ca", "tlsprobe fetch client CA",
                                                        "ca", None, 3650)
        self.client, self.client_key = self._make(
            "client", "tlsprobe fetch client", "client", (self.client_ca, self.client_ca_key),
            365)

    def p(self, name):
        return os.path.join(self.dir, name)

    def _make(self, name, cn, ext, issuer, days):
        key, csr, cert, extfile = (self.p(name + s) for s in (".key", ".csr", ".pem", ".ext"))
        with open(extfile, "w") as f:
            f.write(_EXT[ext])
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-out", key, cwd=self.dir)
        _openssl("req", "-new", "-key", key, "-subj", "/O=tlsprobe fetch tests/CN=" + cn,
                 "-out", csr, cwd=self.dir)
        sign = (["-signkey", key] if issuer is None
                else ["-CA", issuer[0], "-CAkey", issuer[1], "-set_serial",
                      str(int.from_bytes(os.urandom(8), "big"))])
        _openssl("x509", "-req", "-in", csr, "-out", cert, "-days", str(days), "-sha256",
                 "-extfile", extfile, *sign, cwd=self.dir)
        return cert, key

    def _cat(self, name, *paths):
        return harness.cat_files(self.p(name), *paths)


_pki = None
_tmp = None


def tmpdir():
    """Per-process temporary directory, removed at exit."""
    global _tmp
    if _tmp is None:
        import atexit
        _tmp = tempfile.mkdtemp(prefix="tlsprobe-fetch-")
        atexit.register(shutil.rmtree, _tmp, True)
    return _tmp


def pki():
    """The per-process Pki (needs openssl)."""
    global _pki
    if _pki is None:
        harness.require_tools("openssl")
        d = os.path.join(tmpdir(), "pki")
        os.makedirs(d)
        _pki = Pki(d)
    return _pki


# --------------------------------------------------------------------------
# tlsprobe serve
# --------------------------------------------------------------------------

class Serve(harness._Server):
    """`tlsprobe serve --scenario NAME --listen HOST:PORT --write-ca FILE` (+ extra).

    port=0 lets serve pick the port; it is read from "listening on HOST:PORT,
    NAME" on stdout.  .ca is the root written by --write-ca.  With --log-json,
    .connections() are the JSON objects it logs on stderr, one per connection."""

    _n = 0

    def __init__(self, scenario, extra=(), host="127.0.0.1", port=0, timeout=10.0):
        Serve._n += 1
        d = os.path.join(tmpdir(), "serve-%d-%s" % (Serve._n, scenario))
        os.makedirs(d)
        self.host = host
        self.scenario = scenario
        self.ca = os.path.join(d, "ca.pem")
        self.out = os.path.join(d, "stdout")
        self.err = os.path.join(d, "stderr")
        listen = harness.hostport(host, port)
        argv = tlsprobe_argv("serve", "--scenario", scenario, "--listen", listen,
                             "--write-ca", self.ca, *extra)
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, cwd=d,
                                         preexec_fn=harness._die_with_parent)
        harness._live_servers.add(self)
        want = "listening on %s:" % (("[%s]" % host) if ":" in host else host)
        deadline = time.monotonic() + timeout
        while True:
            for line in self._read(self.out).splitlines():
                if line.startswith(want):
                    self.port = int(line[len(want):].split(",")[0])
                    break
            if self.port:
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("tlsprobe serve %s did not start: %s %s" % (
                    scenario, self._read(self.out), self._read(self.err)))
            time.sleep(0.02)
        harness.wait_port(host, self.port)

    @staticmethod
    def _read(path):
        try:
            with open(path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def connections(self):
        """The --log-json objects logged so far."""
        return [harness.parse_json_line(line) for line in self._read(self.err).splitlines()
                if line.startswith("{")]

    def wait_connections(self, n, timeout=5.0):
        """Wait until at least n connections are logged (the log line may come
        just after the client is done); returns them."""
        deadline = time.monotonic() + timeout
        while True:
            logged = self.connections()
            if len(logged) >= n or time.monotonic() > deadline:
                return logged
            time.sleep(0.02)

    def url(self, path="/", name="localhost"):
        return "https://%s:%d%s" % (name, self.port, path)

    def stop(self):
        p = self.proc
        harness.stop_process(p)
        harness._live_servers.discard(self)


# --------------------------------------------------------------------------
# a plain-HTTP backend
# --------------------------------------------------------------------------

class _BackendHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        srv = self.server.owner
        with srv.lock:
            srv.requests.append((self.command, self.path, body, dict(self.headers)))
        if self.path.startswith("/slow"):
            srv.stopping.wait(SLOW_SECONDS)
            out = b"slow answer\n"
        elif self.path.startswith("/echo"):
            out = b"method=" + self.command.encode() + b" body=" + body + b"\n"
        else:
            out = b"backend\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _answer


class _BackendServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass    # e.g. /slow answering a client that gave up: not a test failure


class Backend(harness._Server):
    """http.server on 127.0.0.1:ephemeral, in a thread.  .requests lists
    (method, path, body, headers) in arrival order."""

    def __init__(self):
        self.host = "127.0.0.1"
        self.requests = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.httpd = _BackendServer((self.host, 0), _BackendHandler)
        self.httpd.owner = self
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        harness._live_servers.add(self)
        self._thread.start()

    def stop(self):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(2)
        harness._live_servers.discard(self)


# --------------------------------------------------------------------------
# nginx
# --------------------------------------------------------------------------

def nginx_path():
    """nginx on PATH or in the usual sbin directories (not on a user's PATH)."""
    extra = os.pathsep.join(("/usr/sbin", "/usr/local/sbin", "/sbin"))
    return shutil.which("nginx", path=os.environ.get("PATH", "") + os.pathsep + extra)


def require_nginx():
    if not nginx_path():
        raise unittest.SkipTest("nginx not installed (Debian: apt-get install -y nginx-light)")
    p = subprocess.run([nginx_path(), "-V"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.stdout.decode(errors="replace")
    for module in ("http_ssl_module", "http_v2_module"):
        if module not in out:
            raise unittest.SkipTest("nginx lacks %s" % module)


_NGINX_CONF = """\
{user}worker_processes 1;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 128; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    default_type text/plain;
    server {{
        listen 127.0.0.1:{tls_port} ssl http2;
{listen_v6}        server_name localhost;
        ssl_certificate {chain};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location = / {{ return 200 "{root_body}"; }}
        location = /redirect1 {{ return 301 /redirect2; }}
        location = /redirect2 {{ return 302 /final; }}
        location = /final {{ return 200 "{final_body}"; }}
        location = /missing {{ return 404 "not here\\n"; }}
        location = /hdr {{ add_header X-Test tlsprobe; return 200 "headers\\n"; }}
        location /slow {{ proxy_pass http://127.0.0.1:{backend}; proxy_read_timeout 30s; }}
        location /echo {{ proxy_pass http://127.0.0.1:{backend}; }}
    }}
    server {{
        listen 127.0.0.1:{plain_port};
        location / {{ return 200 "{plain_body}"; }}
    }}
}}
"""


def _nginx_str(s):
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Nginx(harness._Server):
    """nginx as the current user from its own directory, on loopback.

    .port: TLS (ssl http2, leaf + intermediate of pki); .v6: also on [::1]:port
    when IPv6 loopback works; .plain_port: plain HTTP; .backend: the Backend
    behind /slow and /echo."""

    def __init__(self, pki, backend, attempts=3, timeout=10.0):
        self.host = "127.0.0.1"
        self.proc = None
        self.backend = backend
        self.v6 = harness.have_ipv6_loopback()
        self.dir = tempfile.mkdtemp(prefix="nginx-", dir=tmpdir())
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(self.dir, sub))
        last = ""
        for _ in range(attempts):
            self.port = self._free_port()
            self.plain_port = harness.free_port()
            user = ""
            if os.geteuid() == 0:   # as root, keep the workers as root (the current user)
                import grp
                import pwd
                user = "user %s %s;\n" % (pwd.getpwuid(os.geteuid()).pw_name,
                                          grp.getgrgid(os.getegid()).gr_name)
            conf = os.path.join(self.dir, "nginx.conf")
            with open(conf, "w") as f:
                f.write(_NGINX_CONF.format(
                    user=user, dir=self.dir, tls_port=self.port, plain_port=self.plain_port,
                    listen_v6=("        listen [::1]:%d ssl http2;\n" % self.port
                               if self.v6 else ""),
                    chain=pki.chain, key=pki.leaf_key, backend=backend.port,
                    root_body=_nginx_str(ROOT_BODY), final_body=_nginx_str(FINAL_BODY),
                    plain_body=_nginx_str(PLAIN_BODY)))
            with open(os.path.join(self.dir, "stderr"), "wb") as err:
                self.proc = subprocess.Popen(
                    [nginx_path(), "-p", self.dir + "/", "-c", conf, "-e",
                     os.path.join(self.dir, "error.log")],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                    preexec_fn=harness._die_with_parent)
            harness._live_servers.add(self)
            if self._wait(timeout):
                return
            last = self.log()
            self.stop()
        raise RuntimeError("nginx did not start: %s" % last[-3000:])

    def _free_port(self):
        """A port free on 127.0.0.1 (and on ::1 when listening there too)."""
        for _ in range(20):
            port = harness.free_port()
            if not self.v6:
                return port
            try:
                with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
                    s.bind(("::1", port))
                return port
            except OSError:
                continue
        return port

    def _wait(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if (harness.port_open("127.0.0.1", self.port) and
                    harness.port_open("127.0.0.1", self.plain_port) and
                    (not self.v6 or harness.port_open("::1", self.port))):
                return True
            time.sleep(0.05)
        return False

    def log(self):
        text = ""
        for name in ("stderr", "error.log"):
            try:
                with open(os.path.join(self.dir, name), "rb") as f:
                    text += f.read().decode(errors="replace")
            except OSError:
                pass
        return text

    def url(self, path="/", name="localhost", port=None):
        return "https://%s:%d%s" % (name, port or self.port, path)

    def stop(self):
        p = self.proc
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)     # nginx: fast shutdown
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        harness._live_servers.discard(self)
