"""Shared helpers for the tlsprobe integration tests (Python 3 standard library only).

Everything here talks to loopback addresses only and never needs the internet.

* Fixtures are generated at test time with the ``openssl`` command line tool
  (never with tlsprobe), once per process, into a temporary directory that is
  removed at exit.  See :class:`Fixtures` for the list of certificates.
* Server launchers (real peers and hand-written misbehaving ones) bind an
  ephemeral port, wait until the peer is ready and are always stopped: use them
  as context managers, or register ``server.stop`` with ``addCleanup`` /
  ``addClassCleanup``.  A last-resort ``atexit`` hook stops anything left over.
* ``run_tlsprobe`` / ``probe_json`` run the binary named by the environment
  variable TLSPROBE (default: <repo root>/build/tlsprobe, derived from this
  file's location).
"""

import atexit
import datetime
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
from collections import namedtuple

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))

UTC = datetime.timezone.utc
DAY = 86400


# --------------------------------------------------------------------------
# small utilities
# --------------------------------------------------------------------------

def tlsprobe_path():
    """Path of the binary under test: $TLSPROBE or <repo>/build/tlsprobe."""
    return os.environ.get("TLSPROBE") or os.path.join(REPO_ROOT, "build", "tlsprobe")


def have(tool):
    return shutil.which(tool) is not None


def require_tools(*tools):
    """Raise unittest.SkipTest unless every tool is on PATH."""
    missing = [t for t in tools if not have(t)]
    if missing:
        raise unittest.SkipTest("missing tool(s): " + ", ".join(missing))


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def require_ipv6():
    if not have_ipv6_loopback():
        raise unittest.SkipTest("no IPv6 loopback (::1) on this host")


def _family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_port(host="127.0.0.1"):
    """An ephemeral port that was free a moment ago (bind to port 0, release)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def closed_port(host="127.0.0.1"):
    """A port on which nothing listens (connection refused)."""
    return free_port(host)


def port_open(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(host, port, timeout=10.0):
    """Wait until host:port accepts a TCP connection; raise TimeoutError otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        if port_open(host, port):
            return
        if time.monotonic() > deadline:
            raise TimeoutError("nothing listening on %s:%d after %.1fs" % (host, port, timeout))
        time.sleep(0.02)


def hostport(host, port):
    """TARGET string for host/port: [v6]:port or host:port."""
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def iso(dt):
    """datetime -> 'YYYY-MM-DDTHH:MM:SSZ' (the JSON date format and an --at form)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def at_epoch(dt):
    """datetime -> '@EPOCH' (an --at form)."""
    return "@%d" % int(dt.timestamp())


def at_date(dt):
    """datetime -> 'YYYY-MM-DD' (an --at form, midnight UTC)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%d")


def _run(argv, cwd=None, input=None):
    p = subprocess.run([str(a) for a in argv], cwd=cwd, input=input, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("command failed (%d): %s\n%s%s" % (
            p.returncode, " ".join(map(str, argv)),
            p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")))
    return p.stdout


# --------------------------------------------------------------------------
# minimal DER helpers (used to put raw bytes into the hostile certificate)
# --------------------------------------------------------------------------

def cat_files(out, *paths):
    """Write the concatenation of paths to out -> out."""
    with open(out, "wb") as f:
        for path in paths:
            with open(path, "rb") as g:
                f.write(g.read())
    return out


def _der_read(buf, pos):
    """Return (tag, header_len, content_len) of the TLV starting at pos."""
    tag = buf[pos]
    first = buf[pos + 1]
    if first < 0x80:
        return tag, 2, first
    n = first & 0x7F
    return tag, 2 + n, int.from_bytes(buf[pos + 2:pos + 2 + n], "big")


def _der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _der_tlv(tag, content):
    return bytes([tag]) + _der_len(len(content)) + content


def _pem_to_der(pem_bytes):
    lines = pem_bytes.decode("ascii").strip().splitlines()
    import base64
    body = "".join(l for l in lines if not l.startswith("-----"))
    return base64.b64decode(body)


def _der_to_pem(der):
    import base64
    b64 = base64.b64encode(der).decode("ascii")
    return ("-----BEGIN CERTIFICATE-----\n" +
            "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64)) +
            "\n-----END CERTIFICATE-----\n").encode("ascii")


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------

ORG = "tlsprobe tests"
ROOT_CN = "tlsprobe Test Root CA"
INTER_CN = "tlsprobe Test Intermediate CA"
OTHER_ROOT_CN = "tlsprobe Rogue CA"

# Raw bytes patched into the hostile certificate (UTF8String values that are
# deliberately not valid UTF-8 and contain C0 controls / terminal escapes).
HOSTILE_CN = (b'evil"quote\\back\nline\x1b]0;pwned\x07\x1b[31mred'
              b'\xff\xfe\xc3(caf\xc3\xa9')
HOSTILE_O = b'Org "x" \\ y\nz\x1b[2J\x7f\x80end'
HOSTILE_SAN = b'sa"n\\x\ny\x1b[7m.example'     # dNSName (IA5String, ASCII)

_CA_CONF = """\
[ req ]
distinguished_name = req_dn
string_mask = utf8only
prompt = no
[ req_dn ]

[ ca ]
default_ca = CA_default
[ CA_default ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
copy_extensions = none
[ policy_any ]
commonName = optional
organizationName = optional

[ v3_root ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_inter ]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_localhost ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
authorityInfoAccess = caIssuers;URI:{aia}

[ v3_clientonly ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_wronghost ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.example
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_hostile ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,DNS:{san_placeholder}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_client ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""

CertInfo = namedtuple("CertInfo", "name cert key chain subject not_before not_after cn")


class Fixtures:
    """Certificates made with the openssl CLI (EC P-256 unless noted).

    Dates are explicit (``openssl ca -startdate/-enddate``) relative to
    ``self.now`` (generation time, whole seconds), so --at tests are exact:

    root        self-signed CA:TRUE keyCertSign   now-365d .. now+3650d
    inter       CA:TRUE pathlen:0, by root        now-365d .. now+1825d
    leaf        CN=localhost, SAN DNS:localhost IP:127.0.0.1 IP:::1, serverAuth,
                AIA caIssuers http://127.0.0.1:9/..., by inter   now-30d .. now+365d
    rsa         like leaf with an RSA 2048 key
    selfsigned  CN=localhost SAN localhost/127.0.0.1/::1, `openssl req -x509`
                (CA:TRUE, the openssl default)          now .. now+365d
    wronghost   CN=other.example, SAN DNS:other.example only, by inter
                                                        now-30d .. now+365d
    short       CN=localhost SANs as leaf, by inter     now-1d .. now+1d
    sha1        as leaf but signed with ecdsa-with-SHA1 by inter
    clientonly  as leaf but extendedKeyUsage clientAuth only (no serverAuth)
    notca_child SAN localhost, issued by the leaf (CA:FALSE); .chain is
                notca_child + leaf + inter, self.notca_extra is leaf + inter
    badsig      the leaf with one bit of its signature flipped (same key)
    hostile     by inter (loadable by GnuTLS only, not OpenSSL); subject CN=HOSTILE_CN, O=HOSTILE_O as raw UTF8String
                bytes (quote, backslash, newline, ESC/BEL terminal sequences,
                DEL, invalid UTF-8: ff fe, c3 28, lone 80, plus valid "é");
                SAN DNS:localhost and DNS:HOSTILE_SAN.  Made by signing a
                certificate with same-length ASCII placeholders, patching the
                DER and re-signing the TBS with `openssl dgst -sign`.
    client      clientAuth cert by root (for --client-cert)
    rogue_client  clientAuth cert by an unrelated self-signed CA (rejected)

    Each CertInfo has .cert (leaf PEM), .key, .chain (leaf+inter PEM, or the
    cert alone for self-signed), .subject (RFC 4514 string as GnuTLS prints
    it), .not_before/.not_after (aware datetimes).  Also: self.fullchain
    (leaf+inter+root), self.inter_root (inter+root, for -cert_chain).
    """

    def __init__(self, directory):
        self.dir = directory
        self.now = datetime.datetime.now(UTC).replace(microsecond=0)
        self._conf = os.path.join(directory, "ca.cnf")
        os.makedirs(os.path.join(directory, "newcerts"))
        open(os.path.join(directory, "index.txt"), "w").close()
        with open(os.path.join(directory, "serial"), "w") as f:
            f.write("%016X\n" % (int.from_bytes(os.urandom(7), "big") + (1 << 60)))
        self._san_placeholder = "c" * (len(HOSTILE_SAN) - len(".example")) + ".example"
        with open(self._conf, "w") as f:
            f.write(_CA_CONF.format(dir=directory, aia="http://127.0.0.1:9/inter.crt",
                                    san_placeholder=self._san_placeholder))
        self._make_all()

    # -- low level --------------------------------------------------------
    def p(self, name):
        return os.path.join(self.dir, name)

    def _key(self, name, rsa=False):
        path = self.p(name + ".key")
        if rsa:
            _run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                  "rsa_keygen_bits:2048", "-out", path])
        else:
            _run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                  "ec_paramgen_curve:P-256", "-out", path])
        return path

    @staticmethod
    def _ca_date(dt):
        return dt.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")

    def _issue(self, name, subj, ext, issuer, start, end, rsa=False, md="sha256",
               selfsign=False, key=None):
        key = key or self._key(name, rsa=rsa)
        csr = self.p(name + ".csr")
        out = self.p(name + ".pem")
        _run(["openssl", "req", "-new", "-config", self._conf, "-utf8", "-key", key,
              "-subj", subj, "-out", csr])
        argv = ["openssl", "ca", "-batch", "-config", self._conf, "-in", csr,
                "-out", out, "-notext", "-preserveDN", "-md", md,
                "-startdate", self._ca_date(start), "-enddate", self._ca_date(end),
                "-extensions", ext]
        if selfsign:
            argv += ["-selfsign", "-keyfile", key]
        else:
            argv += ["-cert", issuer.cert, "-keyfile", issuer.key]
        _run(argv)
        return out, key

    def _cat(self, name, *paths):
        return cat_files(self.p(name), *paths)

    @staticmethod
    def _rfc4514(subj):
        # "/O=a/CN=b" -> "CN=b,O=a" (RFC 4514 lists the last RDN first)
        parts = [x for x in subj.split("/") if x]
        return ",".join(reversed(parts))

    def _info(self, name, subj, cert, key, chain, start, end):
        cn = [x[3:] for x in subj.split("/") if x.startswith("CN=")]
        info = CertInfo(name, cert, key, chain, self._rfc4514(subj), start, end,
                        cn[0] if cn else None)
        setattr(self, name, info)
        return info

    def _leaf(self, name, cn, ext, start, end, rsa=False, md="sha256"):
        subj = "/O=%s/CN=%s" % (ORG, cn)
        cert, key = self._issue(name, subj, ext, self.inter, start, end, rsa=rsa, md=md)
        chain = self._cat(name + "-chain.pem", cert, self.inter.cert)
        return self._info(name, subj, cert, key, chain, start, end)

    # -- the set ------------------------------------------------------------
    def _make_all(self):
        now, d = self.now, datetime.timedelta(days=1)
        subj = "/O=%s/CN=%s" % (ORG, ROOT_CN)
        cert, key = self._issue("root", subj, "v3_root", None, now - 365 * d,
                                now + 3650 * d, selfsign=True)
        self._info("root", subj, cert, key, cert, now - 365 * d, now + 3650 * d)
        subj = "/O=%s/CN=%s" % (ORG, INTER_CN)
        cert, key = self._issue("inter", subj, "v3_inter", self.root, now - 365 * d,
                                now + 1825 * d)
        self._info("inter", subj, cert, key, self._cat("inter-chain.pem", cert),
                   now - 365 * d, now + 1825 * d)

        self._leaf("leaf", "localhost", "v3_localhost", now - 30 * d, now + 365 * d)
        self.fullchain = self._cat("leaf-fullchain.pem", self.leaf.cert, self.inter.cert,
                                   self.root.cert)
        self.inter_root = self._cat("inter-root.pem", self.inter.cert, self.root.cert)
        self._leaf("rsa", "localhost", "v3_localhost", now - 30 * d, now + 365 * d, rsa=True)
        self._leaf("wronghost", "other.example", "v3_wronghost", now - 30 * d, now + 365 * d)
        self._leaf("short", "localhost", "v3_localhost", now - d, now + d)
        self._leaf("sha1", "localhost", "v3_localhost", now - 30 * d, now + 365 * d, md="sha1")
        self._leaf("clientonly", "localhost", "v3_clientonly", now - 30 * d, now + 365 * d)
        self._make_notca_child()
        self._make_badsig()
        self._make_selfsigned()
        self._make_hostile()
        self._make_clients()

    def _make_notca_child(self):
        # issued by the *leaf* (CA:FALSE, no keyCertSign): chain child, leaf, inter
        # (own CN so that it does not look self-issued; SAN localhost)
        now, d = self.now, datetime.timedelta(days=1)
        subj = "/O=%s/CN=tlsprobe issued by a leaf" % ORG
        cert, key = self._issue("notca_child", subj, "v3_localhost", self.leaf,
                                now - d, now + 300 * d)
        chain = self._cat("notca_child-chain.pem", cert, self.leaf.cert, self.inter.cert)
        self._info("notca_child", subj, cert, key, chain, now - d, now + 300 * d)
        self.notca_extra = self._cat("notca_child-extra.pem", self.leaf.cert, self.inter.cert)

    def _make_badsig(self):
        # a copy of the leaf with the last byte of its signature flipped
        with open(self.leaf.cert, "rb") as f:
            der = bytearray(_pem_to_der(f.read()))
        der[-1] ^= 0x01
        cert = self.p("badsig.pem")
        with open(cert, "wb") as f:
            f.write(_der_to_pem(bytes(der)))
        chain = self._cat("badsig-chain.pem", cert, self.inter.cert)
        self.badsig = self.leaf._replace(name="badsig", cert=cert, chain=chain)

    def _make_selfsigned(self):
        key = self._key("selfsigned")
        cert = self.p("selfsigned.pem")
        subj = "/O=%s/CN=localhost" % ORG
        _run(["openssl", "req", "-x509", "-new", "-key", key, "-subj", subj, "-days", "365",
              "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
              "-addext", "extendedKeyUsage=serverAuth", "-out", cert])
        nb = self._read_date(cert, "startdate")
        na = self._read_date(cert, "enddate")
        self._info("selfsigned", subj, cert, key, cert, nb, na)

    @staticmethod
    def _read_date(cert, which):
        out = _run(["openssl", "x509", "-in", cert, "-noout", "-" + which]).decode()
        val = out.strip().split("=", 1)[1]
        return datetime.datetime.strptime(val, "%b %d %H:%M:%S %Y GMT").replace(tzinfo=UTC)

    def _make_hostile(self):
        now, d = self.now, datetime.timedelta(days=1)
        ph_cn = "A" * len(HOSTILE_CN)
        ph_o = "B" * len(HOSTILE_O)
        subj = "/O=%s/CN=%s" % (ph_o, ph_cn)
        cert, key = self._issue("hostile", subj, "v3_hostile", self.inter,
                                now - 30 * d, now + 365 * d)
        with open(cert, "rb") as f:
            der = bytearray(_pem_to_der(f.read()))
        for ph, raw in ((ph_cn.encode(), HOSTILE_CN), (ph_o.encode(), HOSTILE_O),
                        (self._san_placeholder.encode(), HOSTILE_SAN)):
            assert len(ph) == len(raw)
            i = der.find(ph)
            if i < 0 or der.find(ph, i + 1) >= 0:
                raise RuntimeError("placeholder not found exactly once in hostile cert")
            der[i:i + len(ph)] = raw
        # Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
        _, hl, _ = _der_read(der, 0)
        pos = hl
        _, thl, tl = _der_read(der, pos)
        tbs = bytes(der[pos:pos + thl + tl])
        pos += thl + tl
        _, shl, sl = _der_read(der, pos)
        sigalg = bytes(der[pos:pos + shl + sl])
        sig = _run(["openssl", "dgst", "-sha256", "-sign", self.inter.key], input=tbs)
        new = _der_tlv(0x30, tbs + sigalg + _der_tlv(0x03, b"\x00" + sig))
        with open(cert, "wb") as f:
            f.write(_der_to_pem(new))
        # OpenSSL refuses to load a UTF8String that is not UTF-8, so this
        # certificate can only be served by gnutls-serv.  Sanity-check the new
        # signature with GnuTLS's certtool when it is installed.
        if have("certtool"):
            chain = self._cat("hostile-chain.pem", cert, self.inter.cert)
            out = _run(["certtool", "--verify", "--load-ca-certificate", self.root.cert,
                        "--infile", chain])
            if b"Chain verification output: Verified" not in out:
                raise RuntimeError("hostile certificate does not verify:\n%r" % out)
        chain = self._cat("hostile-chain.pem", cert, self.inter.cert)
        info = CertInfo("hostile", cert, key, chain, None, now - 30 * d, now + 365 * d, None)
        self.hostile = info

    def _make_clients(self):
        now, d = self.now, datetime.timedelta(days=1)
        subj = "/O=%s/CN=tlsprobe test client" % ORG
        cert, key = self._issue("client", subj, "v3_client", self.root, now - d, now + 365 * d)
        self._info("client", subj, cert, key, cert, now - d, now + 365 * d)
        # an unrelated CA and a client certificate issued by it
        subj = "/O=%s/CN=%s" % (ORG, OTHER_ROOT_CN)
        cert, key = self._issue("rogue_ca", subj, "v3_root", None, now - d, now + 365 * d,
                                selfsign=True)
        rogue_ca = self._info("rogue_ca", subj, cert, key, cert, now - d, now + 365 * d)
        subj = "/O=%s/CN=rogue client" % ORG
        cert, key = self._issue("rogue_client", subj, "v3_client", rogue_ca,
                                now - d, now + 365 * d)
        self._info("rogue_client", subj, cert, key, cert, now - d, now + 365 * d)

    # -- facts computed with openssl, for comparing with tlsprobe's output --
    def sha256(self, cert):
        out = _run(["openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha256"])
        return out.decode().strip().split("=", 1)[1].replace(":", "").lower()

    def serial(self, cert):
        out = _run(["openssl", "x509", "-in", cert, "-noout", "-serial"])
        return int(out.decode().strip().split("=", 1)[1], 16)


_fixtures = None
_fixtures_dir = None


def fixtures():
    """The per-process Fixtures (generated on first use; needs openssl)."""
    global _fixtures, _fixtures_dir
    if _fixtures is None:
        require_tools("openssl")
        _fixtures_dir = tempfile.mkdtemp(prefix="tlsprobe-it-")
        atexit.register(shutil.rmtree, _fixtures_dir, True)
        _fixtures = Fixtures(_fixtures_dir)
    return _fixtures


def scratch_dir():
    """Per-process scratch directory (logs, server files)."""
    d = os.path.join(fixtures().dir, "scratch")
    os.makedirs(d, exist_ok=True)
    return d


# --------------------------------------------------------------------------
# servers
# --------------------------------------------------------------------------

_live_servers = set()


@atexit.register
def _stop_all_servers():
    for s in list(_live_servers):
        s.stop()


class _Server:
    host = "127.0.0.1"
    port = None

    @property
    def target(self):
        return hostport(self.host, self.port)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        raise NotImplementedError


def _die_with_parent():
    """preexec_fn: on Linux, have the kernel send SIGTERM to the peer if the
    test process dies without cleaning up (e.g. killed by a test timeout)."""
    try:
        import ctypes
        import signal
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)     # PR_SET_PDEATHSIG
    except Exception:
        pass


class ProcessServer(_Server):
    """A peer program listening on an ephemeral port.

    argv_for(port) builds the command line.  Readiness: `ready` (bytes) appears
    in its combined output log, or (if ready is None) a TCP connect succeeds.
    Retries on a new port if the program exits early (e.g. port taken).
    """

    def __init__(self, name, argv_for, host="127.0.0.1", ready=None, timeout=10.0,
                 attempts=3):
        self.name = name
        self.host = host
        self.proc = None
        last = ""
        for _ in range(attempts):
            self.port = free_port(host)
            self.log = os.path.join(scratch_dir(), "%s-%d.log" % (name, self.port))
            logf = open(self.log, "wb")
            try:
                self.proc = subprocess.Popen(argv_for(self.port), stdin=subprocess.PIPE,
                                             stdout=logf, stderr=subprocess.STDOUT,
                                             cwd=scratch_dir(),
                                             preexec_fn=_die_with_parent)
            finally:
                logf.close()
            _live_servers.add(self)
            if self._wait_ready(ready, timeout):
                return
            last = self.read_log()
            self.stop()
        raise RuntimeError("%s did not start: %s" % (name, last[-2000:]))

    def _wait_ready(self, ready, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if ready is None:
                if port_open(self.host, self.port):
                    return True
            elif ready.encode() in self.read_log(raw=True):
                return True
            time.sleep(0.02)
        return False

    def read_log(self, raw=False):
        try:
            with open(self.log, "rb") as f:
                data = f.read()
        except OSError:
            data = b""
        return data if raw else data.decode(errors="replace")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        p = self.proc
        stop_process(p, 3)
        if p is not None:
            if p.stdin:
                try:
                    p.stdin.close()
                except OSError:
                    pass
        _live_servers.discard(self)


def stop_process(p, grace=5):
    """SIGTERM, give it `grace` seconds, then SIGKILL; None is fine."""
    if p is None or p.poll() is not None:
        return
    p.terminate()
    try:
        p.wait(grace)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(5)


def s_server(cert, key, chain=None, host="127.0.0.1", extra=(), www=True):
    """`openssl s_server` on host:ephemeral (a long-lived server: handles any
    number of sequential connections).  chain: PEM of extra certs to send
    (-cert_chain).  extra: further s_server options (e.g. -tls1_2, -Verify 1)."""
    require_tools("openssl")

    def argv(port):
        a = ["openssl", "s_server", "-accept", hostport(host, port), "-cert", cert,
             "-key", key]
        if chain:
            a += ["-cert_chain", chain]
        if www:
            a += ["-www"]
        return a + list(extra)

    return ProcessServer("s_server", argv, host=host, ready="ACCEPT")


def gnutls_serv(certfile, keyfile, extra=("--disable-client-cert",)):
    """`gnutls-serv --echo` (binds all addresses; tests connect via loopback).
    certfile may hold leaf + chain."""
    require_tools("gnutls-serv")

    def argv(port):
        return (["gnutls-serv", "--echo", "-p", str(port), "--x509certfile", certfile,
                 "--x509keyfile", keyfile] + list(extra))

    return ProcessServer("gnutls-serv", argv, host="127.0.0.1", ready=None)


class ThreadServer(_Server):
    """A hand-written TCP server in a thread; handler(conn) runs per connection
    in its own thread.  All sockets are closed by stop()."""

    def __init__(self, handler, host="127.0.0.1"):
        self.host = host
        self._handler = handler
        self._stopping = threading.Event()
        self._conns = set()
        self._lock = threading.Lock()
        self.sock = socket.socket(_family(host), socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.connections = 0
        self._thread = threading.Thread(target=self._loop, daemon=True)
        _live_servers.add(self)
        self._thread.start()

    def _loop(self):
        while not self._stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            conn.settimeout(10)
            self._handler(conn)
        except OSError:
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def stop(self):
        self._stopping.set()
        try:
            self.sock.close()
        except OSError:
            pass
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass
        self._thread.join(2)
        _live_servers.discard(self)


def _recv_some(conn, timeout=5.0):
    conn.settimeout(timeout)
    try:
        return conn.recv(65536)
    except OSError:
        return b""


def silent_server(host="127.0.0.1"):
    """Accepts connections and never writes; holds them open until stopped."""
    def handler(conn):
        conn.settimeout(0.2)
        while True:
            try:
                if not conn.recv(65536):
                    return
            except socket.timeout:
                continue
    return ThreadServer(handler, host)


GARBAGE = bytes(range(0x80, 0x100)) * 2 + b"\x00\x01\x02\x03 this is not TLS \xde\xad\xbe\xef"


def garbage_server(host="127.0.0.1"):
    """Reads the ClientHello, answers with non-TLS, non-HTTP bytes, closes."""
    def handler(conn):
        _recv_some(conn)
        conn.sendall(GARBAGE)
    return ThreadServer(handler, host)


def reset_server(host="127.0.0.1"):
    """Reads the ClientHello, then closes with SO_LINGER 0 (TCP RST)."""
    import struct

    def handler(conn):
        _recv_some(conn)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return ThreadServer(handler, host)


HTTP_400 = (b"HTTP/1.1 400 Bad Request\r\nServer: tlsprobe-test-http\r\n"
            b"Content-Type: text/html\r\nContent-Length: 50\r\nConnection: close\r\n\r\n"
            b"<html><body><h1>400 Bad Request</h1></body></html>")
HTTP_200 = (b"HTTP/1.1 200 OK\r\nServer: tlsprobe-test-http\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 3\r\nConnection: close\r\n\r\nok\n")


def http_server(host="127.0.0.1"):
    """A plain-HTTP server.  Like nginx (and unlike http.server, whose readline
    would wait for a newline that a binary ClientHello may never contain) it
    answers 400 as soon as the first bytes are not a request line."""
    def handler(conn):
        data = _recv_some(conn)
        if data[:4] in (b"GET ", b"HEAD") and b"\r\n\r\n" in data:
            conn.sendall(HTTP_200)
        elif data:
            conn.sendall(HTTP_400)
    return ThreadServer(handler, host)


# --------------------------------------------------------------------------
# running tlsprobe
# --------------------------------------------------------------------------

def _exe():
    exe = tlsprobe_path()
    if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        raise AssertionError("tlsprobe binary not found or not executable: %s "
                             "(build it, or set TLSPROBE)" % exe)
    return exe


def run_tlsprobe_raw(*args, timeout=30):
    """Run tlsprobe -> (exit code, stdout bytes, stderr bytes, elapsed seconds)."""
    argv = [_exe()] + [a if isinstance(a, bytes) else str(a) for a in args]
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("tlsprobe did not finish within %ss: %r\nstdout: %r\nstderr: %r"
                             % (timeout, argv[1:], e.stdout, e.stderr))
    elapsed = time.monotonic() - t0
    if p.returncode < 0:
        raise AssertionError("tlsprobe killed by signal %d: %r\nstderr: %s" % (
            -p.returncode, argv[1:], p.stderr.decode(errors="replace")))
    return p.returncode, p.stdout, p.stderr, elapsed


def run_tlsprobe(*args, timeout=30):
    """Run tlsprobe -> (exit code, stdout str, stderr str, elapsed seconds).
    Output is decoded as UTF-8 with surrogateescape (lossless)."""
    rc, out, err, el = run_tlsprobe_raw(*args, timeout=timeout)
    return (rc, out.decode("utf-8", "surrogateescape"),
            err.decode("utf-8", "surrogateescape"), el)


def run_tlsprobe_tty(*args, timeout=30):
    """Run tlsprobe with stdout on a pseudo-terminal -> (exit code, stdout
    bytes with the tty's CRLF turned back into LF, stderr bytes)."""
    import pty
    import select
    argv = [_exe()] + [str(a) for a in args]
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave,
                             stderr=subprocess.PIPE)
    finally:
        os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:     # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif p.poll() is not None:
                break
        else:
            p.kill()
            p.wait()
            raise AssertionError("tlsprobe (on a tty) did not finish within %ss: %r"
                                 % (timeout, argv[1:]))
        p.wait(timeout)
        err = p.stderr.read()
    finally:
        os.close(master)
        p.stderr.close()
    return p.returncode, b"".join(chunks).replace(b"\r\n", b"\n"), err


JsonProbe = namedtuple("JsonProbe", "rc obj stdout stderr elapsed")
JsonProbes = namedtuple("JsonProbes", "rc objs stdout stderr elapsed")


def _no_dupes(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate keys in JSON object: %r" % keys)
    return dict(pairs)


def _bad_constant(name):
    raise ValueError("non-standard JSON constant %s" % name)


def parse_json_line(line):
    """Strict JSON parse (no raw control chars in strings, no NaN, no dup keys)."""
    return json.loads(line, strict=True, object_pairs_hook=_no_dupes,
                      parse_constant=_bad_constant)


def probe_json_lines(*args, timeout=30, validate=True):
    """Run tlsprobe ARGS --json; stdout must be valid UTF-8, one JSON object per
    line.  Returns JsonProbes(rc, [objs], stdout, stderr, elapsed)."""
    args = tuple(args) + ("--json",)
    rc, out, err, el = run_tlsprobe_raw(*args, timeout=timeout)
    ctx = "tlsprobe %s -> exit %d\nstdout: %r\nstderr: %r" % (
        " ".join(map(repr, args)), rc, out[:3000], err[:3000])
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError as e:
        raise AssertionError("stdout is not valid UTF-8 (%s)\n%s" % (e, ctx)) from None
    lines = text.split("\n")
    if not text.endswith("\n"):
        raise AssertionError("JSON output does not end with a newline\n" + ctx)
    objs = []
    for line in lines[:-1]:
        try:
            obj = parse_json_line(line)
        except ValueError as e:
            raise AssertionError("stdout line is not a JSON object (%s): %r\n%s"
                                 % (e, line[:500], ctx)) from None
        if not isinstance(obj, dict):
            raise AssertionError("JSON line is not an object\n" + ctx)
        if validate:
            try:
                check_schema(obj)
            except AssertionError as e:
                raise AssertionError("%s\n%s" % (e, ctx)) from None
        objs.append(obj)
    return JsonProbes(rc, objs, text, err.decode("utf-8", "replace"), el)


def probe_json(*args, timeout=30, validate=True):
    """Run tlsprobe ARGS --json for one target; exactly one JSON object line.
    Returns JsonProbe(rc, obj, stdout, stderr, elapsed)."""
    r = probe_json_lines(*args, timeout=timeout, validate=validate)
    if len(r.objs) != 1:
        raise AssertionError("expected exactly one JSON line, got %d\nstdout: %r\nstderr: %r"
                             % (len(r.objs), r.stdout[:3000], r.stderr[:3000]))
    return JsonProbe(r.rc, r.objs[0], r.stdout, r.stderr, r.elapsed)


# --------------------------------------------------------------------------
# schema check (the "tlsprobe/1" JSON contract)
# --------------------------------------------------------------------------

STATUSES = ("ok", "warning", "critical", "unknown")
# Every code tlsprobe-json(7) documents; the unit tests pin the table itself.
PROBLEM_CODES = ("missing-intermediate", "untrusted-root", "self-signed", "hostname-mismatch",
                 "expired", "not-yet-valid", "expires-soon", "insecure-algorithm",
                 "issuer-not-ca", "signature-failure", "purpose-mismatch", "revoked",
                 "unknown-issuer", "verify-failed", "chain-order", "weak-key", "ocsp-missing",
                 "ocsp-invalid", "pathlen-exceeded", "name-constraints", "key-mismatch", "key-id-mismatch",
                 "outlives-issuer", "crl-invalid", "crl-stale", "http-status",
                 "body-mismatch", "header-mismatch", "too-slow", "insecure-redirect")
ERROR_CODES = ("dns-failure", "connection-refused", "connection-failed", "timeout", "not-tls",
               "handshake-failure", "protocol-version", "no-shared-cipher", "client-cert-required",
               "starttls-refused", "fetch-failed", "internal-error", "purpose-mismatch")


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _hex(v):
    return isinstance(v, str) and v != "" and all(c in "0123456789abcdef" for c in v)


def _date(v):
    if not isinstance(v, str):
        return False
    try:
        datetime.datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ")
        return True
    except ValueError:
        return False


def _check(cond, path, value, what):
    if not cond:
        raise AssertionError("JSON schema: %s should be %s, got %r" % (path, what, value))


def _keys(obj, path, keys):
    _check(isinstance(obj, dict), path, obj, "an object")
    missing = [k for k in keys if k not in obj]
    _check(not missing, path, sorted(obj), "an object with keys %s (missing %s)"
           % (list(keys), missing))


def check_schema(o):
    """Assert that o follows the tlsprobe/1 JSON shape of the spec."""
    _keys(o, "$", ("schema", "target", "status", "reason", "timing_ms", "tls", "chain",
                   "verify", "error"))
    _check(o["schema"] == "tlsprobe/1", "$.schema", o["schema"], '"tlsprobe/1"')
    t = o["target"]
    _keys(t, "$.target", ("input", "host", "port", "sni", "address"))
    _check(isinstance(t["input"], str), "$.target.input", t["input"], "a string")
    _check(isinstance(t["host"], str), "$.target.host", t["host"], "a string")
    _check(_int(t["port"]) and 0 < t["port"] < 65536, "$.target.port", t["port"], "a port")
    _check(t["sni"] is None or isinstance(t["sni"], str), "$.target.sni", t["sni"],
           "string|null")
    _check(t["address"] is None or isinstance(t["address"], str), "$.target.address",
           t["address"], "string|null")
    _check(o["status"] in STATUSES, "$.status", o["status"], "one of %s" % (STATUSES,))
    _check(o["reason"] is None or isinstance(o["reason"], str), "$.reason", o["reason"],
           "string|null")
    if o["status"] == "ok":
        _check(o["reason"] is None, "$.reason", o["reason"], "null when status is ok")
    tm = o["timing_ms"]
    _keys(tm, "$.timing_ms", ("dns", "connect", "handshake", "total"))
    for k in ("dns", "connect", "handshake"):
        _check(tm[k] is None or (_num(tm[k]) and tm[k] >= 0), "$.timing_ms." + k, tm[k],
               "a number >= 0 or null")
    _check(_num(tm["total"]) and tm["total"] >= 0, "$.timing_ms.total", tm["total"],
           "a number >= 0")
    tls = o["tls"]
    if tls is not None:
        _keys(tls, "$.tls", ("version", "cipher", "kx_group", "sig_alg", "alpn", "resumed",
                             "client_cert_requested"))
        _check(tls["version"] in ("TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"),
               "$.tls.version", tls["version"], "TLSv1.x")
        _check(isinstance(tls["cipher"], str), "$.tls.cipher", tls["cipher"], "a string")
        for k in ("kx_group", "sig_alg", "alpn"):
            _check(tls[k] is None or isinstance(tls[k], str), "$.tls." + k, tls[k],
                   "string|null")
        for k in ("resumed", "client_cert_requested"):
            _check(isinstance(tls[k], bool), "$.tls." + k, tls[k], "a boolean")
    _check(isinstance(o["chain"], list), "$.chain", o["chain"], "a list")
    for i, c in enumerate(o["chain"]):
        p = "$.chain[%d]" % i
        _keys(c, p, ("index", "subject", "issuer", "serial", "not_before", "not_after",
                     "days_remaining", "sans", "key", "sig_alg", "sha256", "is_ca",
                     "self_signed", "ca_issuers"))
        _check(c["index"] == i, p + ".index", c["index"], str(i))
        for k in ("subject", "issuer", "sig_alg"):
            _check(isinstance(c[k], str), p + "." + k, c[k], "a string")
        _check(_hex(c["serial"]), p + ".serial", c["serial"], "lowercase hex")
        _check(_hex(c["sha256"]) and len(c["sha256"]) == 64, p + ".sha256", c["sha256"],
               "64 lowercase hex digits")
        for k in ("not_before", "not_after"):
            _check(_date(c[k]), p + "." + k, c[k], "YYYY-MM-DDTHH:MM:SSZ")
        _check(_int(c["days_remaining"]), p + ".days_remaining", c["days_remaining"],
               "an integer")
        _check(isinstance(c["sans"], list) and all(isinstance(s, str) for s in c["sans"]),
               p + ".sans", c["sans"], "a list of strings")
        _keys(c["key"], p + ".key", ("type", "bits", "curve"))
        _check(isinstance(c["key"]["type"], str), p + ".key.type", c["key"]["type"],
               "a string")
        _check(_int(c["key"]["bits"]), p + ".key.bits", c["key"]["bits"], "an integer")
        _check(c["key"]["curve"] is None or isinstance(c["key"]["curve"], str),
               p + ".key.curve", c["key"]["curve"], "string|null")
        for k in ("is_ca", "self_signed"):
            _check(isinstance(c[k], bool), p + "." + k, c[k], "a boolean")
        _check(isinstance(c["ca_issuers"], list) and
               all(isinstance(s, str) for s in c["ca_issuers"]),
               p + ".ca_issuers", c["ca_issuers"], "a list of strings")
    v = o["verify"]
    if v is not None:
        _keys(v, "$.verify", ("trusted", "hostname_ok", "name", "problems"))
        for k in ("trusted", "hostname_ok"):
            _check(isinstance(v[k], bool), "$.verify." + k, v[k], "a boolean")
        _check(isinstance(v["name"], str), "$.verify.name", v["name"], "a string")
        _check(isinstance(v["problems"], list), "$.verify.problems", v["problems"], "a list")
        sev_rank = {"critical": 0, "warning": 1}
        last = -1
        for i, pr in enumerate(v["problems"]):
            p = "$.verify.problems[%d]" % i
            _keys(pr, p, ("code", "severity", "cert_index", "subject", "message", "fix"))
            _check(pr["code"] in PROBLEM_CODES, p + ".code", pr["code"],
                   "one of the documented problem codes")
            _check(pr["severity"] in sev_rank, p + ".severity", pr["severity"],
                   "critical|warning")
            _check(pr["cert_index"] is None or _int(pr["cert_index"]), p + ".cert_index",
                   pr["cert_index"], "int|null")
            _check(pr["subject"] is None or isinstance(pr["subject"], str), p + ".subject",
                   pr["subject"], "string|null")
            for k in ("message", "fix"):
                _check(isinstance(pr[k], str) and pr[k] != "", p + "." + k, pr[k],
                       "a non-empty string")
            _check(sev_rank[pr["severity"]] >= last, "$.verify.problems", v["problems"],
                   "sorted most severe first")
            last = sev_rank[pr["severity"]]
    e = o["error"]
    if e is not None:
        _keys(e, "$.error", ("code", "message", "fix"))
        _check(e["code"] in ERROR_CODES, "$.error.code", e["code"],
               "one of the documented error codes")
        for k in ("message", "fix"):
            _check(isinstance(e[k], str) and e[k] != "", "$.error." + k, e[k],
                   "a non-empty string")


# --------------------------------------------------------------------------
# assertion helpers shared by the test modules
# --------------------------------------------------------------------------

def problem_codes(obj):
    v = obj.get("verify") or {}
    return [p["code"] for p in v.get("problems", [])]


def problem(obj, code):
    """The (first) problem with this code, or None."""
    for p in (obj.get("verify") or {}).get("problems", []):
        if p["code"] == code:
            return p
    return None


def dump(obj):
    return json.dumps(obj, indent=1, ensure_ascii=False)[:4000]


class ProbeCase(unittest.TestCase):
    """Base class: server helpers and assertions with the JSON in the message."""

    maxDiff = None

    @classmethod
    def class_server(cls, server):
        """Keep a server for the whole class; stopped after the class."""
        cls.addClassCleanup(server.stop)
        return server

    def server(self, server):
        """Keep a server for this test only."""
        self.addCleanup(server.stop)
        return server

    def assertOutcome(self, r, rc, status, reason):
        """Exit code, status and reason of a JsonProbe, all at once."""
        got = (r.rc, r.obj.get("status"), r.obj.get("reason"))
        self.assertEqual(got, (rc, status, reason),
                         "(exit, status, reason) mismatch\nstderr: %s\n%s" % (
                             r.stderr[:1000], dump(r.obj)))

    def assertProblems(self, r, codes):
        """verify.problems holds exactly these codes (any order)."""
        self.assertIsNotNone(r.obj["verify"], "verify is null\n" + dump(r.obj))
        self.assertEqual(sorted(problem_codes(r.obj)), sorted(codes),
                         "problem codes\n" + dump(r.obj))

    def assertProblem(self, r, code, severity=None, cert_index=Ellipsis):
        """A problem with this code exists (with this severity / cert_index)."""
        p = problem(r.obj, code)
        self.assertIsNotNone(p, "no %r problem\n%s" % (code, dump(r.obj)))
        if severity is not None:
            self.assertEqual(p["severity"], severity, dump(r.obj))
        if cert_index is not Ellipsis:
            self.assertEqual(p["cert_index"], cert_index, dump(r.obj))
        return p

    def assertError(self, r, code, rc=2):
        """Connection/handshake-level failure: exit, status, reason and error.code."""
        self.assertOutcome(r, rc, "critical", code)
        self.assertIsNotNone(r.obj["error"], "error is null\n" + dump(r.obj))
        self.assertEqual(r.obj["error"]["code"], code, dump(r.obj))

    def leaf(self, r):
        """chain[0] of a JsonProbe (asserting that the chain is not empty)."""
        self.assertTrue(r.obj["chain"], "chain is empty\n" + dump(r.obj))
        return r.obj["chain"][0]
