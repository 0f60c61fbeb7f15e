"""Certificates made with the openssl command line tool, never with tlsprobe.

:class:`Pki` is one `openssl ca` database in a directory: keys (EC P-256 or
RSA), self-signed roots, intermediates, leaves and client certificates with
explicit validity dates and any extensions (a section of the standard set
below, or lines given by the caller), CRLs, and facts read back with openssl.
:class:`Fixtures` is the shared set most modules probe against, built on it;
:class:`X509` reads a certificate as ``openssl x509 -text`` shows it."""

import atexit
import base64
import datetime
import os
import re
import shutil
import tempfile
from collections import namedtuple

from .env import UTC, cat_files, have, require_tools, write
from .runner import openssl, tool

DAYS = datetime.timedelta(days=1)

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
crlnumber = $dir/crlnumber
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
copy_extensions = none
[ policy_any ]
commonName = optional
organizationName = optional
"""

_KIDS = ["subjectKeyIdentifier = hash", "authorityKeyIdentifier = keyid:always"]
_LOCALHOST = "DNS:localhost,IP:127.0.0.1,IP:::1"


def leaf_ext(key_usage="digitalSignature", eku="serverAuth", san=_LOCALHOST, extra=()):
    """Extension lines of an end-entity certificate (san None: no SAN)."""
    lines = ["basicConstraints = critical,CA:FALSE", "keyUsage = critical," + key_usage]
    if eku:
        lines.append("extendedKeyUsage = " + eku)
    if san:
        lines.append("subjectAltName = " + san)
    return lines + list(extra) + _KIDS


def ca_ext(key_usage="keyCertSign,cRLSign", pathlen=None, extra=()):
    """Extension lines of a CA certificate."""
    bc = "basicConstraints = critical,CA:TRUE" + ("" if pathlen is None else ",pathlen:%d" % pathlen)
    return [bc, "keyUsage = critical," + key_usage] + list(extra) + _KIDS


# The standard sections every Pki's configuration holds.
EXTENSIONS = {
    "v3_root": ca_ext(),
    "v3_inter": ca_ext(pathlen=0),
    "v3_localhost": leaf_ext("digitalSignature,keyEncipherment",
                             extra=["authorityInfoAccess = caIssuers;URI:{aia}"]),
    "v3_clientonly": leaf_ext(eku="clientAuth"),
    "v3_wronghost": leaf_ext(san="DNS:other.example"),
    "v3_client": leaf_ext(eku="clientAuth", san=None),
}

# What `openssl req -x509` adds by default (the v3_ca section of openssl.cnf).
SELF_SIGNED = ["basicConstraints = critical,CA:TRUE", "subjectKeyIdentifier = hash",
               "authorityKeyIdentifier = keyid:always,issuer"]

CertInfo = namedtuple("CertInfo", "name cert key chain subject not_before not_after cn")


def rfc4514(subj):
    """"/O=a/CN=b" -> "CN=b,O=a" (RFC 4514 lists the last RDN first)."""
    return ",".join(reversed([x for x in subj.split("/") if x]))


def subject(cn, org=ORG):
    return "/O=%s/CN=%s" % (org, cn) if org else "/CN=" + cn


class Pki:
    """An `openssl ca` database in `directory`; every date relative to
    self.now (whole seconds), so --at tests are exact.

    aia: the caIssuers URI of v3_localhost.  Extension sections: those of
    EXTENSIONS, or any list of "name = value" lines (a section is made)."""

    def __init__(self, directory, aia="http://127.0.0.1:9/inter.crt", now=None, serial_top=1):
        self.dir = directory
        self.now = now or datetime.datetime.now(UTC).replace(microsecond=0)
        self.aia = aia
        self._sections = {}
        self._serial_top = serial_top
        self.conf = self._database(directory)

    def _database(self, directory):
        os.makedirs(os.path.join(directory, "newcerts"), exist_ok=True)
        write(os.path.join(directory, "index.txt"), b"")
        write(os.path.join(directory, "crlnumber"), b"1000\n")
        write(os.path.join(directory, "serial"), "%016X\n" % (
            int.from_bytes(os.urandom(7), "big") + (self._serial_top << 60)))
        conf = os.path.join(directory, "ca.cnf")
        text = _CA_CONF.format(dir=directory)
        for name, lines in EXTENSIONS.items():
            text += self._section(name, lines)
        for name, lines in self._sections.items():
            text += self._section(name, lines)
        write(conf, text)
        return conf

    def _section(self, name, lines):
        return "\n[ %s ]\n%s\n" % (name, "\n".join(lines).replace("{aia}", self.aia))

    def extensions(self, name, lines):
        """Add the section `name` with these extension lines -> name."""
        if name not in self._sections and name not in EXTENSIONS:
            self._sections[name] = list(lines)
            with open(self.conf, "a") as f:
                f.write(self._section(name, lines))
        return name

    def p(self, name):
        return os.path.join(self.dir, name)

    def cat(self, name, *paths):
        return cat_files(self.p(name), *paths)

    def key(self, name, rsa_bits=None):
        path = self.p(name + ".key")
        if rsa_bits:
            openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:%d" % rsa_bits,
                    "-out", path)
        else:
            openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-out", path)
        return path

    @staticmethod
    def _date(dt):
        return dt.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")

    def issue(self, name, subj, ext, issuer=None, start=None, end=None, days=None,
              md="sha256", rsa_bits=None, key=None, printable=False):
        """A certificate -> CertInfo.  subj: "/O=.../CN=..."; ext: a section
        name or a list of extension lines; issuer: a CertInfo, None for a
        self-signed one.  Valid from start (default now) to end (or days
        after start).  key: reuse that key file (a cross-signature);
        printable: the subject as PrintableString instead of UTF8String.
        .chain is cert + issuer (the cert alone when self-signed)."""
        if not isinstance(ext, str):
            ext = self.extensions("x_" + name, ext)
        start = start or self.now
        end = end or start + days * DAYS
        key = key or self.key(name, rsa_bits)
        csr, cert = self.p(name + ".csr"), self.p(name + ".pem")
        req_conf = self.conf
        if printable:
            req_conf = write(self.p("printable.cnf"), "[ req ]\ndistinguished_name = dn\n"
                             "string_mask = default\nprompt = no\n[ dn ]\n")
        openssl("req", "-new", "-config", req_conf, *([] if printable else ["-utf8"]),
                "-key", key, "-subj", subj, "-out", csr)
        argv = ["ca", "-batch", "-config", self.conf, "-in", csr, "-out", cert, "-notext",
                "-preserveDN", "-md", md, "-startdate", self._date(start),
                "-enddate", self._date(end), "-extensions", ext]
        if issuer is None:
            argv += ["-selfsign", "-keyfile", key]
        else:
            argv += ["-cert", issuer.cert, "-keyfile", issuer.key]
        openssl(*argv)
        chain = cert if issuer is None else self.cat(name + "-chain.pem", cert, issuer.cert)
        cn = [x[3:] for x in subj.split("/") if x.startswith("CN=")]
        return CertInfo(name, cert, key, chain, rfc4514(subj), start, end, cn[0] if cn else None)

    def crl(self, name, issuer, revoke=(), hours=7 * 24):
        """A CRL by issuer listing the certificates revoke (files), from a
        database of its own, next update in `hours` -> PEM path."""
        crl_ext = self.extensions("crl_ext", ["authorityKeyIdentifier = keyid:always"])
        conf = self._database(self.p(name + ".db"))
        for cert in revoke:
            openssl("ca", "-batch", "-config", conf, "-revoke", cert, "-keyfile", issuer.key,
                    "-cert", issuer.cert, "-crl_reason", "keyCompromise")
        out = self.p(name + ".crl.pem")
        openssl("ca", "-batch", "-config", conf, "-gencrl", "-keyfile", issuer.key, "-cert",
                issuer.cert, "-md", "sha256", "-crlhours", str(hours), "-crlexts", crl_ext,
                "-out", out)
        return out

    # -- facts computed with openssl, for comparing with tlsprobe's output --
    @staticmethod
    def sha256(cert):
        out = openssl("x509", "-in", cert, "-noout", "-fingerprint", "-sha256")
        return out.decode().strip().split("=", 1)[1].replace(":", "").lower()

    @staticmethod
    def serial(cert):
        return int(Pki.serial_hex(cert), 16)

    @staticmethod
    def serial_hex(cert):
        """The serial as openssl prints it (uppercase hex, even length)."""
        out = openssl("x509", "-in", cert, "-noout", "-serial").decode()
        return out.strip().split("=", 1)[1]

    @staticmethod
    def read_date(cert, which):
        """startdate or enddate of cert -> aware datetime."""
        out = openssl("x509", "-in", cert, "-noout", "-" + which).decode()
        return _openssl_date(out.strip().split("=", 1)[1])

    @staticmethod
    def subject_rfc4514(cert):
        """Subject as GnuTLS prints it (RFC 4514: last RDN first), via openssl."""
        out = openssl("x509", "-in", cert, "-noout", "-subject", "-nameopt", "RFC2253").decode()
        return out.strip().split("=", 1)[1] if out.startswith("subject=") else out.strip()


def sha256_of_pem(pem_text):
    p = tool(["openssl", "x509", "-noout", "-fingerprint", "-sha256"], input=pem_text)
    return p.stdout.strip().split("=", 1)[1].replace(":", "").lower()


# --------------------------------------------------------------------------
# minimal DER (to put raw bytes into the hostile certificate)
# --------------------------------------------------------------------------

def der_read(buf, pos):
    """Return (tag, header_len, content_len) of the TLV starting at pos."""
    tag = buf[pos]
    first = buf[pos + 1]
    if first < 0x80:
        return tag, 2, first
    n = first & 0x7F
    return tag, 2 + n, int.from_bytes(buf[pos + 2:pos + 2 + n], "big")


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def der_tlv(tag, content):
    return bytes([tag]) + der_len(len(content)) + content


def pem_to_der(pem_bytes):
    lines = pem_bytes.decode("ascii").strip().splitlines()
    return base64.b64decode("".join(l for l in lines if not l.startswith("-----")))


def der_to_pem(der):
    b64 = base64.b64encode(der).decode("ascii")
    return ("-----BEGIN CERTIFICATE-----\n" +
            "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64)) +
            "\n-----END CERTIFICATE-----\n").encode("ascii")


def pem_blocks(path, kind="CERTIFICATE"):
    with open(path, encoding="ascii") as f:
        text = f.read()
    return re.findall(r"-----BEGIN %s-----\n.*?-----END %s-----\n" % (kind, kind), text, re.S)


# --------------------------------------------------------------------------
# the shared set
# --------------------------------------------------------------------------

class Fixtures(Pki):
    """The shared certificates (EC P-256 unless noted), dates relative to
    ``self.now``:

    root        self-signed CA:TRUE keyCertSign   now-365d .. now+3650d
    inter       CA:TRUE pathlen:0, by root        now-365d .. now+1825d
    leaf        CN=localhost, SAN DNS:localhost IP:127.0.0.1 IP:::1, serverAuth,
                AIA caIssuers http://127.0.0.1:9/..., by inter   now-30d .. now+365d
    rsa         like leaf with an RSA 2048 key
    selfsigned  CN=localhost SAN localhost/127.0.0.1/::1, serverAuth, self-signed
                CA:TRUE (as `openssl req -x509` makes it)      now .. now+365d
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
        super().__init__(directory)
        now, d = self.now, DAYS
        self.root = self.issue("root", subject(ROOT_CN), "v3_root", None, now - 365 * d,
                               now + 3650 * d)
        self.inter = self.issue("inter", subject(INTER_CN), "v3_inter", self.root,
                                now - 365 * d, now + 1825 * d)
        self.inter = self.inter._replace(chain=self.cat("inter-chain.pem", self.inter.cert))
        self.leaf = self._leaf("leaf", "localhost", "v3_localhost", now - 30 * d, now + 365 * d)
        self.fullchain = self.cat("leaf-fullchain.pem", self.leaf.cert, self.inter.cert,
                                  self.root.cert)
        self.inter_root = self.cat("inter-root.pem", self.inter.cert, self.root.cert)
        self.rsa = self._leaf("rsa", "localhost", "v3_localhost", now - 30 * d, now + 365 * d,
                              rsa_bits=2048)
        self.wronghost = self._leaf("wronghost", "other.example", "v3_wronghost",
                                    now - 30 * d, now + 365 * d)
        self.short = self._leaf("short", "localhost", "v3_localhost", now - d, now + d)
        self.sha1 = self._leaf("sha1", "localhost", "v3_localhost", now - 30 * d, now + 365 * d,
                               md="sha1")
        self.clientonly = self._leaf("clientonly", "localhost", "v3_clientonly", now - 30 * d,
                                     now + 365 * d)
        self._make_notca_child()
        self._make_badsig()
        self.selfsigned = self.issue(
            "selfsigned", subject("localhost"),
            SELF_SIGNED + ["subjectAltName = " + _LOCALHOST, "extendedKeyUsage = serverAuth"],
            None, now, now + 365 * d)
        self._make_hostile()
        self._make_clients()

    def _leaf(self, name, cn, ext, start, end, **kw):
        return self.issue(name, subject(cn), ext, self.inter, start, end, **kw)

    def _make_notca_child(self):
        # issued by the *leaf* (CA:FALSE, no keyCertSign): chain child, leaf, inter
        # (own CN so that it does not look self-issued; SAN localhost)
        now, d = self.now, DAYS
        child = self.issue("notca_child", subject("tlsprobe issued by a leaf"), "v3_localhost",
                           self.leaf, now - d, now + 300 * d)
        self.notca_child = child._replace(chain=self.cat("notca_child-chain.pem", child.cert,
                                                         self.leaf.cert, self.inter.cert))
        self.notca_extra = self.cat("notca_child-extra.pem", self.leaf.cert, self.inter.cert)

    def _make_badsig(self):
        # a copy of the leaf with the last byte of its signature flipped
        with open(self.leaf.cert, "rb") as f:
            der = bytearray(pem_to_der(f.read()))
        der[-1] ^= 0x01
        cert = write(self.p("badsig.pem"), der_to_pem(bytes(der)))
        chain = self.cat("badsig-chain.pem", cert, self.inter.cert)
        self.badsig = self.leaf._replace(name="badsig", cert=cert, chain=chain)

    def _make_hostile(self):
        now, d = self.now, DAYS
        ph_cn = "A" * len(HOSTILE_CN)
        ph_o = "B" * len(HOSTILE_O)
        ph_san = "c" * (len(HOSTILE_SAN) - len(".example")) + ".example"
        info = self.issue("hostile", "/O=%s/CN=%s" % (ph_o, ph_cn),
                          leaf_ext(san="DNS:localhost,DNS:" + ph_san), self.inter,
                          now - 30 * d, now + 365 * d)
        cert = info.cert
        with open(cert, "rb") as f:
            der = bytearray(pem_to_der(f.read()))
        for ph, raw in ((ph_cn.encode(), HOSTILE_CN), (ph_o.encode(), HOSTILE_O),
                        (ph_san.encode(), HOSTILE_SAN)):
            assert len(ph) == len(raw)
            i = der.find(ph)
            if i < 0 or der.find(ph, i + 1) >= 0:
                raise RuntimeError("placeholder not found exactly once in hostile cert")
            der[i:i + len(ph)] = raw
        # Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
        _, hl, _ = der_read(der, 0)
        pos = hl
        _, thl, tl = der_read(der, pos)
        tbs = bytes(der[pos:pos + thl + tl])
        pos += thl + tl
        _, shl, sl = der_read(der, pos)
        sigalg = bytes(der[pos:pos + shl + sl])
        sig = openssl("dgst", "-sha256", "-sign", self.inter.key, input=tbs)
        write(cert, der_to_pem(der_tlv(0x30, tbs + sigalg + der_tlv(0x03, b"\x00" + sig))))
        # OpenSSL refuses to load a UTF8String that is not UTF-8, so this
        # certificate can only be served by gnutls-serv.  Sanity-check the new
        # signature with GnuTLS's certtool when it is installed.
        chain = self.cat("hostile-chain.pem", cert, self.inter.cert)
        if have("certtool"):
            out = tool(["certtool", "--verify", "--load-ca-certificate", self.root.cert,
                        "--infile", chain], errors="replace").out
            if "Chain verification output: Verified" not in out:
                raise RuntimeError("hostile certificate does not verify:\n%r" % out)
        self.hostile = CertInfo("hostile", cert, info.key, chain, None, now - 30 * d,
                                now + 365 * d, None)

    def _make_clients(self):
        now, d = self.now, DAYS
        client = self.issue("client", subject("tlsprobe test client"), "v3_client", self.root,
                            now - d, now + 365 * d)
        self.client = client._replace(chain=client.cert)
        # an unrelated CA and a client certificate issued by it
        self.rogue_ca = self.issue("rogue_ca", subject(OTHER_ROOT_CN), "v3_root", None,
                                   now - d, now + 365 * d)
        rogue = self.issue("rogue_client", subject("rogue client"), "v3_client", self.rogue_ca,
                           now - d, now + 365 * d)
        self.rogue_client = rogue._replace(chain=rogue.cert)


_fixtures = None


def fixtures():
    """The per-process Fixtures (generated on first use; needs openssl)."""
    global _fixtures
    if _fixtures is None:
        require_tools("openssl")
        d = tempfile.mkdtemp(prefix="tlsprobe-it-")
        atexit.register(shutil.rmtree, d, True)
        _fixtures = Fixtures(d)
    return _fixtures


def trust_root():
    """Options that trust the fixtures' root and nothing else."""
    return ["--ca-file", fixtures().root.cert, "--no-system-ca"]


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
        self.text = tool(["openssl", "x509", "-in", path, "-noout", "-text"]).stdout
        self.pem = tool(["openssl", "x509", "-in", path]).stdout
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

    def values(self, name, absent=None):
        """The extension's comma-separated values, or `absent` without it."""
        v = self.value(name)
        return absent if v is None else [x.strip() for x in v.split(",")]

    key_usage = property(lambda self: self.values("X509v3 Key Usage"))
    eku = property(lambda self: self.values("X509v3 Extended Key Usage"))
    sans = property(lambda self: self.values("X509v3 Subject Alternative Name", []))

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
        return Pki.sha256(self.path)
