"""Helpers for test_ca.py: the self-hosted CA (tlsprobe ca init|issue|check,
tlsprobe cert) checked from the outside (Python 3 standard library only).

* ``tp`` runs the binary under test with a chosen working directory and umask
  (and waits a little when the binary is briefly missing, e.g. being rebuilt).
* ``X509`` reads a certificate with ``openssl x509 -noout -text`` (never with
  tlsprobe): serial, dates, key, extensions.
* ``OpensslPKI`` makes certificates with the openssl CLI only, for setups that
  tlsprobe's own code must not have produced (ca check on broken chains).
* ``TlsprobeServe`` runs ``tlsprobe serve --listen 127.0.0.1:0`` and reads the
  port from its "listening on" line.
* ``https_get`` (Python ssl) and ``curl`` are independent TLS clients.
* ``snapshot`` records a directory tree (names, modes, bytes) so that a test
  can assert that a failed run changed nothing.

Loopback only; nothing here needs the internet.  Temporary directories are
made with ``tempfile`` and removed by the test's cleanup.
"""

import atexit
import datetime
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import tempfile
import time
import unittest

import harness

UTC = datetime.timezone.utc
DAY = datetime.timedelta(days=1)

# The binary under test, made absolute once (TLSPROBE may be relative to the
# directory the tests were started from; tests run tlsprobe in other ones).
EXE = os.path.abspath(harness.tlsprobe_path())


# --------------------------------------------------------------------------
# running tlsprobe
# --------------------------------------------------------------------------

def _wait_exe(timeout=60.0):
    deadline = time.monotonic() + timeout
    while not (os.path.isfile(EXE) and os.access(EXE, os.X_OK)):
        if time.monotonic() > deadline:
            raise AssertionError("tlsprobe binary not found or not executable: %s "
                                 "(build it, or set TLSPROBE)" % EXE)
        time.sleep(0.5)


def tp(*args, cwd=None, umask=None, timeout=120, prefix=()):
    """Run tlsprobe ARGS -> (exit code, stdout str, stderr str).

    prefix: argv to put in front (e.g. setpriv ... or unshare ...)."""
    _wait_exe()
    argv = list(prefix) + [EXE] + [str(a) for a in args]

    def pre():
        if umask is not None:
            os.umask(umask)

    for attempt in range(3):
        try:
            p = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=timeout, preexec_fn=pre)
        except (FileNotFoundError, PermissionError):
            # the binary vanished between the check and the exec (a rebuild)
            if attempt == 2:
                raise
            time.sleep(1)
            _wait_exe()
            continue
        except subprocess.TimeoutExpired as e:
            raise AssertionError("tlsprobe did not finish within %ss: %r\nstdout: %r\nstderr: %r"
                                 % (timeout, argv, e.stdout, e.stderr))
        break
    if p.returncode < 0:
        raise AssertionError("tlsprobe killed by signal %d: %r\nstderr: %s" % (
            -p.returncode, argv, p.stderr.decode(errors="replace")))
    return (p.returncode, p.stdout.decode("utf-8", "surrogateescape"),
            p.stderr.decode("utf-8", "surrogateescape"))


def probe_json(*args, **kw):
    """harness.probe_json, after waiting for the binary (it may be being rebuilt)."""
    _wait_exe()
    return harness.probe_json(*args, **kw)


def run_tlsprobe(*args, **kw):
    """harness.run_tlsprobe, after waiting for the binary."""
    _wait_exe()
    return harness.run_tlsprobe(*args, **kw)


def tp_ok(*args, **kw):
    """Run tlsprobe and require exit 0 -> (stdout, stderr)."""
    rc, out, err = tp(*args, **kw)
    if rc != 0:
        raise AssertionError("tlsprobe %s -> exit %d\nstdout: %s\nstderr: %s"
                             % (" ".join(map(str, args)), rc, out[-3000:], err[-3000:]))
    return out, err


def tp_json(*args, **kw):
    """Run tlsprobe ARGS --json on files (cert / ca check): exactly one JSON
    object, strictly parsed and checked against the tlsprobe/1 shape for a
    file report -> (rc, obj, stdout, stderr)."""
    rc, out, err = tp(*(tuple(args) + ("--json",)), **kw)
    ctx = "tlsprobe %s --json -> exit %d\nstdout: %r\nstderr: %r" % (
        " ".join(map(str, args)), rc, out[:3000], err[:3000])
    lines = out.split("\n")
    if not out.endswith("\n") or len(lines) != 2:
        raise AssertionError("expected exactly one JSON line\n" + ctx)
    try:
        obj = harness.parse_json_line(lines[0])
    except ValueError as e:
        raise AssertionError("not JSON (%s)\n%s" % (e, ctx)) from None
    check_file_schema(obj, ctx)
    return rc, obj, out, err


def check_file_schema(obj, ctx=""):
    """tlsprobe/1 for a report about files (tlsprobe-json(7)): target names
    the file, host/port/sni/address null, tls null, only timing_ms.total."""
    t = obj.get("target") or {}
    for k in ("host", "port", "sni", "address"):
        if t.get(k, "missing") is not None:
            raise AssertionError("target.%s should be null for a file, got %r\n%s"
                                 % (k, t.get(k, "missing"), ctx))
    if obj.get("tls", "missing") is not None:
        raise AssertionError("tls should be null for a file\n" + ctx)
    for k in ("dns", "connect", "handshake"):
        if (obj.get("timing_ms") or {}).get(k, "missing") is not None:
            raise AssertionError("timing_ms.%s should be null for a file\n%s" % (k, ctx))
    # the rest is the probe's shape: reuse the harness's checker on a copy
    # whose target looks like a connection's
    copy = dict(obj)
    copy["target"] = dict(t, host="", port=1)
    v = obj.get("verify")
    if isinstance(v, dict) and "name" in v and v["name"] is None:
        # tlsprobe-json(7): for a file, --host, or null when none was given
        copy["verify"] = dict(v, name="")
    try:
        harness.check_schema(copy)
    except AssertionError as e:
        raise AssertionError("%s\n%s" % (e, ctx)) from None


def codes(obj):
    return [p["code"] for p in ((obj.get("verify") or {}).get("problems") or [])]


def problem(obj, code):
    return harness.problem(obj, code)


# --------------------------------------------------------------------------
# files and directories
# --------------------------------------------------------------------------

def tempdir(test, mode=0o755):
    """A fresh temporary directory for one test (or, given the class, for the
    class), removed after it.
    Mode 0755 so that another user (see unprivileged()) can enter it."""
    d = tempfile.mkdtemp(prefix="tlsprobe-ca-")
    os.chmod(d, mode)
    if isinstance(test, type):
        test.addClassCleanup(shutil.rmtree, d, True)
    else:
        test.addCleanup(shutil.rmtree, d, True)
    return d


def snapshot(root):
    """{relative path: (kind, mode, bytes|None)} for everything under root
    (for a file this user cannot read: its size, mtime and inode instead)."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if stat.S_ISDIR(st.st_mode):
                snap[rel] = ("dir", stat.S_IMODE(st.st_mode), None)
            else:
                try:
                    with open(p, "rb") as f:
                        data = f.read()
                except PermissionError:     # made unreadable on purpose: compare stat only
                    data = ("unreadable", st.st_size, st.st_mtime_ns, st.st_ino)
                snap[rel] = ("file", stat.S_IMODE(st.st_mode), data)
    return snap


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return path


def cat(out, *paths):
    return write(out, b"".join(read(p) for p in paths))


def pem_blocks(path, kind="CERTIFICATE"):
    text = read(path).decode("ascii")
    return re.findall(r"-----BEGIN %s-----\n.*?-----END %s-----\n" % (kind, kind), text, re.S)


def run(argv, cwd=None, input=None, timeout=60, check=True):
    """Run a helper tool -> CompletedProcess (text); raise when check and it fails."""
    p = subprocess.run([str(a) for a in argv], cwd=cwd, input=input, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout, text=True)
    if check and p.returncode != 0:
        raise AssertionError("command failed (%d): %s\n%s%s" % (
            p.returncode, " ".join(map(str, argv)), p.stdout[-2000:], p.stderr[-2000:]))
    return p


# --------------------------------------------------------------------------
# running as someone else / in a read-only directory (for the failure cases)
# --------------------------------------------------------------------------

NOBODY = 65534


def unprivileged_prefix():
    """argv prefix that runs a command as uid/gid 65534 (root only, with
    setpriv), or () when the tests do not run as root.  Raises SkipTest when
    neither works."""
    if os.geteuid() != 0:
        return ()
    if not harness.have("setpriv"):
        raise unittest.SkipTest("running as root without setpriv: cannot drop privileges")
    prefix = ("setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups")
    p = subprocess.run(list(prefix) + [EXE, "--version"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    if p.returncode != 0:
        raise unittest.SkipTest("the binary cannot be run as uid %d (directory permissions)"
                                % NOBODY)
    return prefix


def give_to_unprivileged(root):
    """chown -R root to 65534 when running as root (so that only what a test
    takes away again is unreadable)."""
    if os.geteuid() != 0:
        return
    for dirpath, dirnames, filenames in os.walk(root):
        os.chown(dirpath, NOBODY, NOBODY)
        for n in filenames:
            os.chown(os.path.join(dirpath, n), NOBODY, NOBODY)


def make_unreadable(path):
    """Make path unreadable for the user unprivileged_prefix() runs as."""
    if os.geteuid() == 0:
        os.chown(path, 0, 0)
        os.chmod(path, 0o600)
    else:
        os.chmod(path, 0)


def readonly_prefix(directory):
    """argv prefix under which `directory` is read-only even for root: a
    private mount namespace with a read-only bind mount (root), or nothing
    after chmod 0555 (other users).  Raises SkipTest when neither works."""
    if os.geteuid() != 0:
        os.chmod(directory, 0o555)
        return ()
    if not harness.have("unshare"):
        raise unittest.SkipTest("running as root without unshare: no read-only directory")
    prefix = ("unshare", "-m", "--propagation", "private", "sh", "-c",
              'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && shift && exec "$@"',
              "sh", directory)
    probe = os.path.join(directory, ".probe")
    p = subprocess.run(list(prefix) + ["touch", probe], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    if os.path.exists(probe) or p.returncode == 0:
        try:
            os.unlink(probe)
        except OSError:
            pass
        raise unittest.SkipTest("cannot make a read-only bind mount here")
    ok = subprocess.run(list(prefix) + ["true"], stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
    if ok.returncode != 0:
        raise unittest.SkipTest("cannot make a read-only bind mount here (no mount namespace)")
    return prefix


# --------------------------------------------------------------------------
# reading certificates with openssl
# --------------------------------------------------------------------------

def _openssl_date(s):
    return datetime.datetime.strptime(s.strip(), "%b %d %H:%M:%S %Y GMT").replace(tzinfo=UTC)


class X509:
    """One certificate as `openssl x509 -noout -text` shows it.

    .text, .serial (bytes), .subject, .issuer (openssl's one-line form),
    .not_before/.not_after (aware datetimes), .key_alg, .key_bits, .curve,
    .sig_alg, .ext {name: (critical, [value lines])}, and helpers."""

    def __init__(self, path):
        self.path = path
        self.text = run(["openssl", "x509", "-in", path, "-noout", "-text"]).stdout
        self.pem = run(["openssl", "x509", "-in", path]).stdout
        lines = self.text.splitlines()
        self.serial = self._serial(lines)
        self.subject = self._field(r"^\s+Subject: ?(.*)$")
        self.issuer = self._field(r"^\s+Issuer: ?(.*)$")
        self.not_before = _openssl_date(self._field(r"Not Before\s*: (.*)$"))
        self.not_after = _openssl_date(self._field(r"Not After\s*: (.*)$"))
        self.key_alg = self._field(r"Public Key Algorithm: (.*)$")
        m = re.search(r"Public-Key: \((\d+) bit\)", self.text)
        self.key_bits = int(m.group(1)) if m else None
        m = re.search(r"NIST CURVE: (\S+)", self.text)
        self.curve = m.group(1) if m else None
        self.sig_alg = self._field(r"^\s+Signature Algorithm: (.*)$")
        self.ext = self._extensions(lines)

    def _field(self, rx):
        m = re.search(rx, self.text, re.M)
        return m.group(1).strip() if m else None

    @staticmethod
    def _serial(lines):
        for i, l in enumerate(lines):
            s = l.strip()
            if s.startswith("Serial Number:"):
                rest = s[len("Serial Number:"):].strip()
                if rest:        # "Serial Number: 4097 (0x1001)"
                    n = int(rest.split()[0])
                    return n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big")
                return bytes.fromhex(lines[i + 1].strip().replace(":", ""))
        raise AssertionError("no serial number in openssl's output")

    @staticmethod
    def _extensions(lines):
        ext, cur, inside = {}, None, False
        for l in lines:
            if l.strip() == "X509v3 extensions:":
                inside = True
                continue
            if not inside:
                continue
            indent = len(l) - len(l.lstrip())
            if indent <= 4:         # "    Signature Algorithm: ..." ends them
                break
            if indent == 12:
                name, _, crit = l.strip().partition(":")
                cur = name.strip()
                ext[cur] = (crit.strip() == "critical", [])
            elif cur is not None:
                ext[cur][1].append(l.strip())
        return ext

    def value(self, name):
        """The extension's value lines joined with ' ', or None when absent."""
        e = self.ext.get(name)
        return None if e is None else " ".join(e[1])

    def critical(self, name):
        return self.ext[name][0]

    @property
    def basic_constraints(self):
        return self.value("X509v3 Basic Constraints")

    @property
    def key_usage(self):
        v = self.value("X509v3 Key Usage")
        return None if v is None else [x.strip() for x in v.split(",")]

    @property
    def eku(self):
        v = self.value("X509v3 Extended Key Usage")
        return None if v is None else [x.strip() for x in v.split(",")]

    @property
    def sans(self):
        v = self.value("X509v3 Subject Alternative Name")
        return [] if v is None else [x.strip() for x in v.split(",")]

    @property
    def ski(self):
        return self.value("X509v3 Subject Key Identifier")

    @property
    def aki(self):
        v = self.value("X509v3 Authority Key Identifier")
        if v is None:
            return None
        # OpenSSL 3.0 prints the bare id; older versions "keyid:AB:CD..."
        m = re.search(r"(?:keyid:)?([0-9A-F]{2}(?::[0-9A-F]{2})+)", v)
        return m.group(1) if m else v

    def cn(self):
        m = re.search(r"CN ?= ?([^,]+)", self.subject or "")
        return m.group(1).strip() if m else None

    def sha256(self):
        out = run(["openssl", "x509", "-in", self.path, "-noout", "-fingerprint",
                   "-sha256"]).stdout
        return out.strip().split("=", 1)[1].replace(":", "").lower()


def openssl_sha256_of_pem(pem_text):
    p = run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"], input=pem_text)
    return p.stdout.strip().split("=", 1)[1].replace(":", "").lower()


# --------------------------------------------------------------------------
# certificates made with openssl only
# --------------------------------------------------------------------------

_OPENSSL_CONF = """\
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
[ root ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ inter ]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ server ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ client ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ nosan ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


class OpensslPKI:
    """A root -> intermediate -> leaves made with the openssl CLI in `directory`.

    Lifetimes are chosen so that nothing is within the default 30 warning
    days unless a test asks for it.  Every cert is P-256 / SHA-256."""

    def __init__(self, directory):
        self.dir = directory
        self.conf = write(self.p("openssl.cnf"), _OPENSSL_CONF)
        self._serial = int.from_bytes(os.urandom(8), "big") | (1 << 62)
        self.root = self.selfsigned("root", "/CN=openssl Test Root", "root", days=3650)
        self.inter = self.issue("inter", "/CN=openssl Test Intermediate", "inter", self.root,
                                days=1825)
        self.leaf = self.issue("leaf", "/CN=localhost", "server", self.inter, days=365)
        self.chain = cat(self.p("leaf-chain.pem"), self.leaf.cert, self.inter.cert)

    def p(self, name):
        return os.path.join(self.dir, name)

    def key(self, name):
        path = self.p(name + ".key")
        run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", path])
        return path

    def selfsigned(self, name, subj, ext, days):
        key = self.key(name)
        cert = self.p(name + ".pem")
        run(["openssl", "req", "-x509", "-new", "-key", key, "-subj", subj, "-days", days,
             "-sha256", "-config", self.conf, "-extensions", ext, "-out", cert])
        return _Pair(cert, key)

    def issue(self, name, subj, ext, issuer, days):
        key = self.key(name)
        csr = self.p(name + ".csr")
        cert = self.p(name + ".pem")
        run(["openssl", "req", "-new", "-key", key, "-subj", subj, "-config", self.conf,
             "-out", csr])
        self._serial += 1
        run(["openssl", "x509", "-req", "-in", csr, "-CA", issuer.cert, "-CAkey", issuer.key,
             "-set_serial", "0x%x" % self._serial, "-days", days, "-sha256",
             "-extfile", self.conf, "-extensions", ext, "-out", cert])
        return _Pair(cert, key)


class _Pair:
    def __init__(self, cert, key):
        self.cert = cert
        self.key = key


# --------------------------------------------------------------------------
# servers and clients
# --------------------------------------------------------------------------

_live = set()


@atexit.register
def _stop_all():
    for s in list(_live):
        s.stop()


class TlsprobeServe:
    """`tlsprobe serve ARGS --listen 127.0.0.1:0`; .port from its
    "listening on 127.0.0.1:PORT" line.  Use as a context manager or call
    stop() (registered with addCleanup by the tests)."""

    LISTEN = re.compile(rb"listening on 127\.0\.0\.1:(\d+)")

    def __init__(self, *args, cwd=None, timeout=15.0):
        _wait_exe()
        self.logdir = tempfile.mkdtemp(prefix="tlsprobe-serve-")
        self.log = os.path.join(self.logdir, "serve.log")
        self.argv = [EXE, "serve"] + [str(a) for a in args] + ["--listen", "127.0.0.1:0"]
        with open(self.log, "wb") as logf:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT, cwd=cwd,
                                         preexec_fn=harness._die_with_parent)
        _live.add(self)
        self.port = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.LISTEN.search(self.read_log(raw=True))
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if self.port is None:
            log = self.read_log()
            self.stop()
            raise AssertionError("tlsprobe serve did not print 'listening on 127.0.0.1:PORT': "
                                 "%r\n%s" % (self.argv[1:], log[-2000:]))
        harness.wait_port("127.0.0.1", self.port)

    @property
    def target(self):
        return "127.0.0.1:%d" % self.port

    def read_log(self, raw=False):
        try:
            with open(self.log, "rb") as f:
                data = f.read()
        except OSError:
            data = b""
        return data if raw else data.decode(errors="replace")

    def stop(self):
        p = self.proc
        harness.stop_process(p)
        _live.discard(self)
        shutil.rmtree(self.logdir, True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def https_get(port, cafile, server_hostname, certfile=None, keyfile=None, timeout=10):
    """GET / over TLS with Python's ssl module (verification on, hostname
    checked) -> (status line, whole response bytes, peer certificate dict)."""
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    if certfile:
        ctx.load_cert_chain(certfile, keyfile)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_hostname) as s:
            peer = s.getpeercert()
            s.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                      % server_hostname.encode())
            chunks = []
            while True:
                try:
                    d = s.recv(65536)
                except (ssl.SSLZeroReturnError, ConnectionResetError):
                    break
                if not d:
                    break
                chunks.append(d)
    data = b"".join(chunks)
    return data.split(b"\r\n", 1)[0].decode(errors="replace"), data, peer


def curl(port, *args, host="localhost", path="/"):
    """curl https://HOST:PORT/ (HOST pinned to 127.0.0.1) -> CompletedProcess;
    stdout ends with a line holding the HTTP status code."""
    harness.require_tools("curl")
    url = "https://%s:%d%s" % (host, port, path)
    argv = ["curl", "-sS", "--noproxy", "*", "--max-time", "15", "-w", "\n%{http_code}\n"]
    if host != "127.0.0.1":
        argv += ["--resolve", "%s:%d:127.0.0.1" % (host, port)]
    return run(argv + list(args) + [url], check=False)
