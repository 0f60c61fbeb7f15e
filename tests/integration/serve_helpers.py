"""Helpers for test_serve.py: run `tlsprobe serve` and real clients against it.

Python 3 standard library only; loopback only.

* ``Serve`` starts ``tlsprobe serve ARGS`` (normally with ``--listen
  127.0.0.1:0``), reads the ports it chose from its stdout ("listening on
  ADDR:PORT, ..." or, with ``--scenario all``, the PORT/SCENARIO table) and
  keeps its stderr (the connection log) in a file.  ``stop()`` sends SIGTERM
  and returns (exit status, seconds it took to exit).
* ``ServeCase`` starts servers whose cleanup stops them and asserts that
  they exit 0 within STOP_GRACE seconds.
* Client runners: ``curl``, ``s_client``, ``gnutls_cli`` (subprocesses with a
  timeout) and ``https_get`` / ``tls_connect`` (Python ssl).
* ``ClientPKI``: a client CA and client certificates made with openssl.
* Misbehaving clients for the robustness test: ``client_hello_bytes``,
  ``rst_close``.
"""

import atexit
import errno
import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time
import unittest
from collections import namedtuple

import harness
from harness import _die_with_parent, require_tools, tlsprobe_path

STOP_GRACE = 5.0          # a server must exit this soon after SIGTERM (its
                          # default handshake timeout is 10 s)
CLIENT_TIMEOUT = 20       # seconds, for one client subprocess

HTTP_GET = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


# --------------------------------------------------------------------------
# tlsprobe serve
# --------------------------------------------------------------------------

_tmp = None


def tmp_dir():
    """Per-process scratch directory, removed at exit."""
    global _tmp
    if _tmp is None:
        _tmp = tempfile.mkdtemp(prefix="tlsprobe-serve-it-")
        atexit.register(shutil.rmtree, _tmp, True)
    return _tmp


def new_dir(prefix):
    return tempfile.mkdtemp(prefix=prefix, dir=tmp_dir())

def exe():
    path = tlsprobe_path()
    # Another engineer may be rebuilding the binary: wait a little for it.
    deadline = time.monotonic() + 30
    while not (os.path.isfile(path) and os.access(path, os.X_OK)):
        if time.monotonic() > deadline:
            raise AssertionError("tlsprobe binary not found: %s (build it, or set TLSPROBE)"
                                 % path)
        time.sleep(0.5)
    return path


def _run_exe(argv, timeout):
    """Run the binary; retry briefly on ETXTBSY (a rebuild in progress)."""
    for attempt in range(20):
        try:
            return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=timeout)
        except OSError as e:
            if attempt == 19 or e.errno not in (errno.ETXTBSY, errno.ENOENT):
                raise
            time.sleep(0.5)
            exe()


def probe_json(*args, **kw):
    """harness.probe_json, waiting out a rebuild of the binary."""
    for attempt in range(5):
        exe()
        try:
            return harness.probe_json(*args, **kw)
        except AssertionError as e:
            if "binary not found" not in str(e) or attempt == 4:
                raise
        except OSError as e:
            if e.errno not in (errno.ETXTBSY, errno.ENOENT) or attempt == 4:
                raise
        time.sleep(1)


_scenarios = None


def scenarios():
    """[(name, expect)] from `tlsprobe serve --list-scenarios`, in its order."""
    global _scenarios
    if _scenarios is None:
        p = _run_exe([exe(), "serve", "--list-scenarios"], 30)
        if p.returncode != 0:
            raise AssertionError("serve --list-scenarios exited %d: %r" % (p.returncode, p.stderr))
        lines = p.stdout.decode().splitlines()
        if not lines or not lines[0].startswith("SCENARIO"):
            raise AssertionError("unexpected --list-scenarios output: %r" % p.stdout)
        _scenarios = [tuple(l.split()[:2]) for l in lines[1:] if l.strip()]
    return _scenarios


def serve_fails(*args, timeout=15):
    """Run `tlsprobe serve ARGS` expecting it to refuse to start:
    -> (exit status, stdout str, stderr str, seconds)."""
    t0 = time.monotonic()
    p = _run_exe([exe(), "serve"] + [str(a) for a in args], timeout)
    return (p.returncode, p.stdout.decode(errors="replace"),
            p.stderr.decode(errors="replace"), time.monotonic() - t0)


_LISTEN_RE = re.compile(r"^listening on (\[[^\]]+\]|[^\s:]+):(\d+), (.+)$")
_TABLE_RE = re.compile(r"^(\d+)\s+(\S+)\s+(\S+)\s+(.+)$")


class Serve:
    """A running `tlsprobe serve ARGS`.

    .ports     {scenario (or "your certificate"): port} in the order printed
    .port      the first port
    .table     with --scenario all: [(port, scenario, expect, setup)]
    .stdout    what it printed on stdout before serving
    """

    def __init__(self, *args, cwd=None, ready_timeout=15.0, preexec_fn=_die_with_parent):
        args = [str(a) for a in args]
        self.args = args
        self.dir = cwd or new_dir("serve-")
        self.out_path = os.path.join(self.dir, "serve-%d.out" % id(self))
        self.err_path = os.path.join(self.dir, "serve-%d.err" % id(self))
        n_listen = max(1, args.count("--listen"))
        all_mode = "--scenario" in args and args[args.index("--scenario") + 1] == "all"
        want = n_listen * (len(scenarios()) if all_mode else 1)
        self.proc = None
        self.exit = None
        for attempt in range(20):
            with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
                try:
                    self.proc = subprocess.Popen([exe(), "serve"] + args, stdin=subprocess.DEVNULL,
                                                 stdout=out, stderr=err, cwd=self.dir,
                                                 preexec_fn=preexec_fn)
                    break
                except OSError as e:
                    # ETXTBSY, ENOENT: a rebuild in progress
                    if e.errno not in (errno.ETXTBSY, errno.ENOENT) or attempt == 19:
                        raise
                    time.sleep(0.5)
                    exe()
        harness._live_servers.add(self)
        deadline = time.monotonic() + ready_timeout
        while True:
            self.stdout = self._read(self.out_path)
            self.table, self.listening = [], []
            for line in self.stdout.splitlines():
                m = _LISTEN_RE.match(line)
                if m:
                    self.listening.append((m.group(1).strip("[]"), int(m.group(2)), m.group(3)))
                m = _TABLE_RE.match(line)
                if m and not line.startswith("PORT"):
                    self.table.append((int(m.group(1)), m.group(2), m.group(3), m.group(4)))
            got = len(self.table) if all_mode else len(self.listening)
            if got >= want and self.stdout.endswith("\n"):
                break
            if self.proc.poll() is not None:
                raise RuntimeError("tlsprobe serve %s exited %d before listening\nstdout: %s\n"
                                   "stderr: %s" % (" ".join(args), self.proc.returncode,
                                                   self.stdout, self.stderr()))
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("tlsprobe serve %s printed no ports in %.0fs\nstdout: %r"
                                   % (" ".join(args), ready_timeout, self.stdout))
            time.sleep(0.02)
        if all_mode:
            self.ports = {sc: port for port, sc, _, _ in self.table}
        else:
            self.ports = {what: port for _, port, what in self.listening}
        self.port = (self.table[0][0] if all_mode else self.listening[0][1])

    @staticmethod
    def _read(path):
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    @property
    def pid(self):
        return self.proc.pid

    def stderr(self):
        return self._read(self.err_path)

    def log_lines(self):
        return [l for l in self.stderr().splitlines() if l.strip()]

    def json_log(self):
        """Every stderr line parsed as a JSON object (with --log-json)."""
        out = []
        for line in self.log_lines():
            try:
                obj = harness.parse_json_line(line)
            except ValueError as e:
                raise AssertionError("stderr line is not JSON (%s): %r" % (e, line))
            if not isinstance(obj, dict):
                raise AssertionError("stderr line is not a JSON object: %r" % line)
            out.append(obj)
        return out

    def wait_log(self, pred, timeout=5.0):
        """Wait until some log line satisfies pred(line); return it (or None)."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_lines():
                if pred(line):
                    return line
            if time.monotonic() > deadline:
                return None
            time.sleep(0.02)

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS for pid %d" % self.proc.pid)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace=STOP_GRACE):
        """SIGTERM; -> (exit status, seconds to exit).  Kills it after `grace`
        seconds (status then is the negative signal number)."""
        if self.exit is not None:
            return self.exit
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.exit = (self.proc.returncode, time.monotonic() - t0)
        harness._live_servers.discard(self)
        return self.exit

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        harness._live_servers.discard(self)


class ServeCase(unittest.TestCase):
    """Base class: servers stopped with SIGTERM at cleanup, which must exit 0
    promptly (a failure there is reported against the test or class)."""

    maxDiff = None

    @staticmethod
    def _stop_and_check(srv):
        rc, took = srv.stop()
        if rc != 0 or took > STOP_GRACE:
            raise AssertionError("tlsprobe serve %s: after SIGTERM exit %r in %.2fs (want 0 "
                                 "within %.1fs)\nstderr tail: %s" % (
                                     " ".join(srv.args), rc, took, STOP_GRACE,
                                     srv.stderr()[-1500:]))

    def serve(self, *args, **kw):
        srv = Serve(*args, **kw)
        self.addCleanup(self._stop_and_check, srv)
        return srv

    @classmethod
    def class_serve(cls, *args, **kw):
        srv = Serve(*args, **kw)
        cls.addClassCleanup(cls._stop_and_check, srv)
        return srv


# --------------------------------------------------------------------------
# clients
# --------------------------------------------------------------------------

Run = namedtuple("Run", "rc out err")


def run(argv, input=None, timeout=CLIENT_TIMEOUT):
    """Run a client -> Run(rc, stdout str, stderr str); stdin is `input` or empty."""
    p = subprocess.run([str(a) for a in argv], input=input or b"", stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return Run(p.returncode, p.stdout.decode("utf-8", "replace"),
               p.stderr.decode("utf-8", "replace"))


def curl_is_openssl():
    p = subprocess.run(["curl", "--version"], stdout=subprocess.PIPE)
    return "OpenSSL" in p.stdout.decode().splitlines()[0]


def curl(port, ca, *extra, path="/", host="localhost"):
    """curl -sS https://HOST:PORT/ with the root CA trusted (HOST resolved to 127.0.0.1)."""
    return run(["curl", "-sS", "--max-time", "10", "--cacert", ca,
                "--resolve", "%s:%d:127.0.0.1" % (host, port)] + list(extra) +
               ["https://%s:%d%s" % (host, port, path)])


def s_client(port, ca, *extra, request=True):
    """openssl s_client verifying chain and name 'localhost' (-verify_return_error);
    sends an HTTP request and reads until the server closes (-ign_eof)."""
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", "localhost",
            "-CAfile", ca, "-verify_return_error", "-verify_hostname", "localhost",
            "-ign_eof"] + list(extra)
    return run(argv, input=HTTP_GET if request else None)


def gnutls_cli(port, ca, *extra, request=True):
    """gnutls-cli trusting only the root (it verifies chain and name by default)."""
    argv = ["gnutls-cli", "--x509cafile", ca, "localhost", "-p", str(port)] + list(extra)
    return run(argv, input=HTTP_GET if request else None)


def client_context(ca=None, cert=None, key=None, alpn=None, minv=None, maxv=None):
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if minv:
        ctx.minimum_version = minv
    if maxv:
        ctx.maximum_version = maxv
    return ctx


Response = namedtuple("Response", "status headers body version cipher alpn local")


def https_get(port, ctx, host="localhost", headers=None, timeout=10):
    """GET / through http.client.HTTPSConnection -> Response (raises ssl errors)."""
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=timeout)
    try:
        conn.connect()
        s = conn.sock
        facts = (s.version(), s.cipher()[0], s.selected_alpn_protocol(),
                 "%s:%d" % s.getsockname()[:2])
        conn.request("GET", "/", headers=headers or {})
        r = conn.getresponse()
        body = r.read().decode("utf-8")
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, body, *facts)
    finally:
        conn.close()


def body_fields(body):
    """The text body 'key:   value' lines -> dict."""
    out = {}
    for line in body.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def tls_connect(port, ctx, host="127.0.0.1", server_hostname="localhost", timeout=10):
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        return ctx.wrap_socket(sock, server_hostname=server_hostname)
    except BaseException:
        sock.close()
        raise


def recv_all(sock, limit=1 << 20):
    chunks = []
    while sum(map(len, chunks)) < limit:
        try:
            b = sock.recv(65536)
        except ssl.SSLZeroReturnError:
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


def client_hello_bytes():
    """A real TLS ClientHello (made by Python's ssl through a memory BIO)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def rst_close(sock):
    """Close with SO_LINGER 0: the peer gets a TCP RST."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# --------------------------------------------------------------------------
# certificates made with openssl (independent of the code under test)
# --------------------------------------------------------------------------

def openssl(*args, input=None):
    require_tools("openssl")
    return harness._run(["openssl"] + [str(a) for a in args], input=input)


def subject_rfc4514(cert):
    """Subject as GnuTLS prints it (RFC 4514: last RDN first), via openssl."""
    out = openssl("x509", "-in", cert, "-noout", "-subject", "-nameopt", "RFC2253").decode()
    return out.strip().split("=", 1)[1] if out.startswith("subject=") else out.strip()


def _ec_key(path):
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
    return path


def _ext_file(d, name, lines):
    path = os.path.join(d, name + ".ext")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


class ClientPKI:
    """A client CA and certificates issued by it, made with openssl in `d`:

    ca           self-signed CA (CA:TRUE, keyCertSign)
    alice        CN=alice client, extendedKeyUsage clientAuth, by ca
    serveronly   CN=server only, extendedKeyUsage serverAuth only, by ca
    rogue        CN=rogue client, clientAuth, by an unrelated self-signed CA
    (each a (cert, key) pair; .ca is the CA certificate file)
    """

    def __init__(self, d):
        self.dir = d
        self.ca, self.ca_key = self._ca("clientca", "/O=tlsprobe tests/CN=tlsprobe Test Client CA")
        rogue_ca, rogue_key = self._ca("rogueca", "/O=tlsprobe tests/CN=tlsprobe Rogue Client CA")
        client = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature",
                  "extendedKeyUsage=clientAuth"]
        server = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature",
                  "extendedKeyUsage=serverAuth", "subjectAltName=DNS:localhost"]
        self.alice = self._leaf("alice", "/O=tlsprobe tests/CN=alice client", client,
                                self.ca, self.ca_key)
        self.serveronly = self._leaf("serveronly", "/O=tlsprobe tests/CN=server only", server,
                                     self.ca, self.ca_key)
        self.rogue = self._leaf("rogue", "/O=tlsprobe tests/CN=rogue client", client,
                                rogue_ca, rogue_key)

    def p(self, name):
        return os.path.join(self.dir, name)

    def _ca(self, name, subj):
        key = _ec_key(self.p(name + ".key"))
        cert = self.p(name + ".pem")
        openssl("req", "-x509", "-new", "-key", key, "-subj", subj, "-days", "30",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", cert)
        return cert, key

    def _leaf(self, name, subj, ext, ca, ca_key):
        key = _ec_key(self.p(name + ".key"))
        csr = self.p(name + ".csr")
        cert = self.p(name + ".pem")
        openssl("req", "-new", "-key", key, "-subj", subj, "-out", csr)
        openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-set_serial",
                str(int.from_bytes(os.urandom(8), "big")), "-days", "10",
                "-extfile", _ext_file(self.dir, name, ext), "-out", cert)
        return cert, key


def self_signed(d, name, cn="localhost"):
    """A self-signed EC certificate for localhost -> (cert, key)."""
    key = _ec_key(os.path.join(d, name + ".key"))
    cert = os.path.join(d, name + ".pem")
    openssl("req", "-x509", "-new", "-key", key, "-subj", "/CN=" + cn, "-days", "2",
            "-addext", "subjectAltName=DNS:localhost", "-out", cert)
    return cert, key
