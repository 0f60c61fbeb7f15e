"""The client model against the real clients: for each chain below, served by
openssl s_server, tlsprobe's prediction for each client (`clients` in its
JSON) must be what that client did when it connected, with its defaults and
the same single trusted root:

openssl  `openssl s_client -verify_return_error -verify_hostname` (OpenSSL 3
         at Debian's security level 2, as curl and wget use it)
gnutls   `gnutls-cli --verify-hostname`
python   Python's ssl with create_default_context() and, as Python 3.13 adds
         them, VERIFY_X509_STRICT and VERIFY_X509_PARTIAL_CHAIN
nss      NSS's `vfychain -pp` (chain rules only: it checks no host name)
chrome   headless Chromium (peers/chrome-verify.sh), alone with its own
         openssl s_server in a network namespace that holds only loopback,
         so that nothing it tries leaves the machine (an AIA issuer
         URL is served there on the same loopback port as here)
go       peers/tlsverify.go, Go's crypto/tls with its defaults
java     peers/TlsVerify.java, the JDK's TLS client with HTTPS name checks

Where a client refuses, the words tlsprobe says it prints must be in what it
printed (NSS's tool prints numbers, so only its verdict is compared). A
client that is not installed, or cannot run here, is a skipped test with the
reason. Chromium takes seconds a page: it runs in the plain build's suite,
not again under the sanitizers (the chains and predictions are the same).

Chains are made with openssl (harness.Pki), never with tlsprobe.
"""

import datetime
import os
import shutil
import socket
import ssl
import tempfile
import unittest

import harness
from harness import have, run, s_server
from harness.env import REPO_ROOT
from harness.pki import SELF_SIGNED, Pki, ca_ext, der_to_pem, leaf_ext, pem_to_der, subject

D = datetime.timedelta(days=1)
PEERS = os.path.join(REPO_ROOT, "tests", "integration", "peers")
GNUTLS_NOT = "The certificate is NOT trusted. "

S = None      # scenario name -> dict(cert, key, chain, trust, host)
BIN = None    # directory of the built Go and Java peers
AIA = None    # the HTTP server of the intermediate the AIA of 'missing-intermediate-fetchable' names


def _kid_ext(*lines, ski=True, aki=True):
    out = list(lines)
    if ski:
        out.append("subjectKeyIdentifier = hash")
    if aki:
        out.append("authorityKeyIdentifier = keyid:always")
    return out


def _leaf_lines(**kw):
    return _kid_ext("basicConstraints = critical,CA:FALSE", "keyUsage = critical,digitalSignature",
                    "extendedKeyUsage = serverAuth", "subjectAltName = DNS:localhost", **kw)


def build(directory, aia_port):
    """Every chain the test serves: name -> dict.  aia_port: the loopback port of
    the HTTP server that serves the intermediate at /i.der."""
    p = Pki(directory)
    now = p.now
    out = {}

    def sc(name, leaf, chain=None, trust=None, host="localhost", nss=True, server=(), args=()):
        out[name] = dict(cert=leaf.cert, key=leaf.key, chain=chain, trust=(trust or root).cert,
                         host=host, nss=nss, server=list(server), args=list(args))

    def leaf(name, issuer, ext=None, **kw):
        kw.setdefault("start", now - D)
        kw.setdefault("end", now + 200 * D)
        return p.issue(name, subject("localhost"), ext or leaf_ext(san="DNS:localhost"), issuer, **kw)

    root = p.issue("root", subject("Clients Root"), ca_ext(), None, now - 400 * D, now + 3650 * D)
    inter = p.issue("inter", subject("Clients Inter"), ca_ext(pathlen=0), root, now - 300 * D,
                    now + 1800 * D)
    other = p.issue("other", subject("Clients Other Root"), ca_ext(), None, now - 10 * D,
                    now + 3650 * D)
    aia = leaf("aia", inter, leaf_ext(san="DNS:localhost",
                                      extra=["authorityInfoAccess = caIssuers;URI:http://127.0.0.1:9/i.crt"]))
    good = leaf("good", inter)
    sc("good", good, inter.cert)
    sc("missing-intermediate", aia)
    # the same, but the intermediate is where the leaf's AIA says: Chrome fetches it
    fetchable = leaf("aiaok", inter, leaf_ext(
        san="DNS:localhost", extra=["authorityInfoAccess = caIssuers;URI:http://127.0.0.1:%d/i.der" % aia_port]))
    sc("missing-intermediate-fetchable", fetchable)
    os.makedirs(p.p("aia"))
    harness.write(p.p("aia/i.der"), pem_to_der(open(inter.cert, "rb").read()))
    sc("untrusted-root-sent", good, p.cat("ir.pem", inter.cert, root.cert), trust=other)
    sc("untrusted-ca-unsent", good, inter.cert, trust=other)
    ss = p.issue("ss", subject("localhost"), SELF_SIGNED + ["subjectAltName = DNS:localhost",
                                                             "extendedKeyUsage = serverAuth"],
                 None, now - D, now + 300 * D)
    sc("self-signed", ss, trust=other)
    sc("hostname", good, inter.cert, host="other.localhost", nss=False)
    sc("cn-only", leaf("cnonly", inter, leaf_ext(san=None)), inter.cert, nss=False)
    # the handshake: what NSS's vfychain does not do
    sc("tls11-only", good, inter.cert, nss=False, server=["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"], args=["--tls-min", "1.0"])
    dh = p.p("dh1024.pem")
    harness.openssl("dhparam", "-out", dh, "1024")
    rsa = leaf("rsa", inter, leaf_ext("digitalSignature,keyEncipherment", san="DNS:localhost"), rsa_bits=2048)
    ed_key = p.p("ed25519.key")
    harness.openssl("genpkey", "-algorithm", "ed25519", "-out", ed_key)
    sc("ed25519-leaf", leaf("ed", inter, key=ed_key), inter.cert, nss=False, server=["-tls1_3"])
    sc("dh1024", rsa, inter.cert, nss=False,
       server=["-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0", "-dhparam", dh])
    sc("expired-leaf", leaf("expired", inter, start=now - 300 * D, end=now - 2 * D), inter.cert)
    sc("not-yet-valid-leaf", leaf("nyv", inter, start=now + 2 * D, end=now + 300 * D), inter.cert)
    inter_x = p.issue("inter_x", subject("Clients Inter X"), ca_ext(), root, now - 300 * D, now - 3 * D)
    sc("expired-intermediate", leaf("lx", inter_x, end=now - 4 * D), inter_x.cert)
    old = p.issue("old", subject("Clients Old Root"), ca_ext(), None, now - 900 * D, now - 5 * D)
    sc("expired-root", leaf("lo", old, end=now - 6 * D), trust=old)
    notca = p.issue("notca", subject("Clients Not CA"),
                    _kid_ext("basicConstraints = critical,CA:FALSE",
                             "keyUsage = critical,digitalSignature,keyCertSign"),
                    root, now - 30 * D, now + 300 * D)
    sc("issuer-not-ca", leaf("ln", notca), notca.cert)
    nocs = p.issue("nocs", subject("Clients No CertSign"), ca_ext(key_usage="digitalSignature,cRLSign"),
                   root, now - 30 * D, now + 300 * D)
    sc("no-keycertsign", leaf("lnc", nocs), nocs.cert)
    i2 = p.issue("i2", subject("Clients Inter 2"), ca_ext(), inter, now - 30 * D, now + 300 * D)
    sc("pathlen", leaf("l2", i2), p.cat("pl.pem", i2.cert, inter.cert))
    rekey = p.issue("rekey", subject("Clients Inter"), ca_ext(), inter, now - 30 * D, now + 300 * D)
    sc("self-issued-pathlen", leaf("lrk", rekey), p.cat("rk.pem", rekey.cert, inter.cert))
    ncroot = p.issue("ncroot", subject("Clients NC Root"),
                     ca_ext(extra=["nameConstraints = critical,permitted;DNS:example.com"]), None,
                     now - 30 * D, now + 300 * D)
    sc("anchor-name-constraints", leaf("lnc2", ncroot), trust=ncroot)
    ncinter = p.issue("ncinter", subject("Clients NC Inter"),
                      ca_ext(extra=["nameConstraints = critical,permitted;DNS:example.com"]), root,
                      now - 30 * D, now + 300 * D)
    sc("name-constraints", leaf("lnc3", ncinter), ncinter.cert)
    sc("purpose", leaf("clonly", inter, leaf_ext(eku="clientAuth", san="DNS:localhost")), inter.cert)
    sc("any-eku-only", leaf("anyeku", inter, leaf_ext(eku="anyExtendedKeyUsage", san="DNS:localhost")),
       inter.cert)
    sc("sha1-leaf", leaf("s1", inter, md="sha1"), inter.cert)
    rsa_leaf = leaf_ext("digitalSignature,keyEncipherment", san="DNS:localhost")
    sc("rsa1024-leaf", leaf("r1", inter, rsa_leaf, rsa_bits=1024), inter.cert)
    ir1 = p.issue("ir1", subject("Clients Inter RSA 1024"), ca_ext(), root, now - D, now + 200 * D,
                  rsa_bits=1024)
    sc("rsa1024-intermediate", leaf("lr1", ir1), ir1.cert)
    sc("out-of-order", good, p.cat("ord.pem", root.cert, inter.cert))
    nbc = p.issue("nbc", subject("Clients Inter BC"),
                  _kid_ext("basicConstraints = CA:TRUE", "keyUsage = critical,keyCertSign,cRLSign"),
                  root, now - 30 * D, now + 300 * D)
    sc("bc-not-critical", leaf("lnbc", nbc), nbc.cert)
    noski = p.issue("noski", subject("Clients Inter No SKI"),
                    _kid_ext("basicConstraints = critical,CA:TRUE",
                             "keyUsage = critical,keyCertSign,cRLSign", ski=False),
                    root, now - 30 * D, now + 300 * D)
    sc("missing-key-ids", leaf("lnoski", noski, _leaf_lines(aki=False)), noski.cert)
    leafca = leaf("leafca", inter, _kid_ext(
        "basicConstraints = critical,CA:TRUE", "keyUsage = critical,digitalSignature,keyCertSign",
        "extendedKeyUsage = serverAuth", "subjectAltName = DNS:localhost"))
    sc("leaf-is-ca", leafca, inter.cert)
    critaki = leaf("critaki", inter, _leaf_lines(aki=False) + ["authorityKeyIdentifier = critical,keyid:always"])
    sc("critical-aki", critaki, inter.cert)
    unknown = leaf("unknown", inter, leaf_ext(san="DNS:localhost", extra=["1.3.6.1.4.1.99999.1 = critical,ASN1:NULL"]))
    sc("unknown-critical-extension", unknown, inter.cert)
    empty = p.issue("empty", "/", _leaf_lines(), inter, now - D, now + 200 * D)
    sc("empty-subject", empty, inter.cert)
    # serial numbers RFC 5280 forbids, set with openssl x509 -req
    key = p.key("serials")
    harness.openssl("req", "-new", "-config", p.conf, "-key", key, "-subj", "/CN=localhost",
                    "-out", p.p("serials.csr"))
    p.extensions("x_serials", leaf_ext(san="DNS:localhost"))
    for name, serial in (("serial-zero", "0"), ("serial-negative", "-1"),
                         ("serial-21-octets", "0x" + "".join("%02x" % i for i in range(1, 22)))):
        cert = p.p(name + ".pem")
        harness.openssl("x509", "-req", "-in", p.p("serials.csr"), "-CA", inter.cert, "-CAkey", inter.key,
                        "-set_serial", serial, "-days", "100", "-extfile", p.conf, "-extensions",
                        "x_serials", "-out", cert)
        out[name] = dict(out["good"], cert=cert, key=key)
    # signatures: altered, the wrong intermediate of the right name, MD5, a SHA-1 root
    der = bytearray(pem_to_der(open(good.cert, "rb").read()))
    der[-1] ^= 1
    altered = harness.write(p.p("altered.pem"), der_to_pem(bytes(der)))
    out["bad-signature"] = dict(out["good"], cert=altered)
    twin = p.issue("twin", subject("Clients Inter"), ca_ext(pathlen=0), root, now - 300 * D, now + 1800 * D)
    sc("wrong-intermediate", good, twin.cert)
    rsa_root = p.issue("rsaroot", subject("Clients RSA Root"), ca_ext(), None, now - 40 * D, now + 3650 * D,
                       rsa_bits=2048)
    sc("md5-leaf", leaf("md5", rsa_root, rsa_leaf, md="md5", rsa_bits=2048), trust=rsa_root)
    sha1_root = p.issue("sha1root", subject("Clients SHA-1 Root"), ca_ext(), None, now - 40 * D,
                        now + 3650 * D, md="sha1")
    sc("sha1-root", leaf("l1r", sha1_root), trust=sha1_root)
    # key identifiers: the leaf names a key id the intermediate it is served with
    # does not have (a copy of it with the same key and name but another one signed it)
    other_id = p.issue("otherid", subject("Clients Inter"), _kid_ext(
        "basicConstraints = critical,CA:TRUE,pathlen:0", "keyUsage = critical,keyCertSign,cRLSign",
        "subjectKeyIdentifier = 0102030405060708090a0b0c0d0e0f1011121314", ski=False),
        root, now - 300 * D, now + 1800 * D, key=inter.key)
    sc("key-id-mismatch", leaf("lkid", other_id), inter.cert)
    return out


def setUpModule():
    global S, BIN
    harness.require_tools("openssl")
    d = tempfile.mkdtemp(prefix="tlsprobe-clients-")
    unittest.addModuleCleanup(shutil.rmtree, d, True)
    global AIA
    AIA = harness.HttpRoutes()
    AIA.__enter__()
    unittest.addModuleCleanup(AIA.__exit__, None, None, None)
    S = build(d, AIA.port)
    AIA.routes["/i.der"] = (200, open(os.path.join(d, "aia", "i.der"), "rb").read())
    BIN = os.path.join(d, "bin")
    os.makedirs(BIN)
    if have("go"):
        env = dict(os.environ, GOCACHE=os.path.join(d, "gocache"), GO111MODULE="off", GOFLAGS="",
                   GOPATH=os.path.join(d, "gopath"))
        run(["go", "build", "-o", os.path.join(BIN, "tlsverify"), os.path.join(PEERS, "tlsverify.go")],
            env=env, timeout=300, check=True)
    if have("javac"):
        run(["javac", "-d", BIN, os.path.join(PEERS, "TlsVerify.java")], timeout=300, check=True)


# Each client: (run(port, scenario) -> (accepted, output), what must be there to run it).
def _openssl(port, sc):
    r = run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", sc["host"],
             "-CAfile", sc["trust"], "-verify_return_error", "-verify_hostname", sc["host"], "-brief"],
            input=b"", timeout=30, errors="replace", signals_ok=True)
    return r.rc == 0 and "verify error" not in r.err, r.out + r.err


def _gnutls(port, sc):
    r = run(["gnutls-cli", "--x509cafile", sc["trust"], "-p", str(port), "--verify-hostname", sc["host"],
             "127.0.0.1"], input=b"", timeout=30, errors="replace", signals_ok=True)
    return r.rc == 0, r.out + r.err


def _python(port, sc):
    ctx = ssl.create_default_context(cafile=sc["trust"])
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT | ssl.VERIFY_X509_PARTIAL_CHAIN
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname=sc["host"]):
                return True, ""
    except (ssl.SSLError, ssl.CertificateError) as e:
        return False, str(e)


def _nss(port, sc):
    d = tempfile.mkdtemp(prefix="nss-")
    try:
        argv = ["vfychain", "-pp", "-u", "1", "-a", sc["cert"]]
        for i, pem in enumerate(harness.pki.pem_blocks(sc["chain"]) if sc["chain"] else []):
            path = os.path.join(d, "%d.pem" % i)
            with open(path, "w") as f:
                f.write(pem)
            argv += ["-a", path]
        r = run(argv + ["-t", "-a", sc["trust"]], timeout=30, errors="replace", signals_ok=True)
        return r.rc == 0, r.out + r.err
    finally:
        shutil.rmtree(d, True)


# Chromium's net errors (net/base/net_error_list.h) as its error page names them.
CHROME_ERRORS = {-200: "NET::ERR_CERT_COMMON_NAME_INVALID", -201: "NET::ERR_CERT_DATE_INVALID",
                 -202: "NET::ERR_CERT_AUTHORITY_INVALID", -203: "NET::ERR_CERT_CONTAINS_ERRORS",
                 -206: "NET::ERR_CERT_REVOKED", -207: "NET::ERR_CERT_INVALID",
                 -208: "NET::ERR_CERT_WEAK_SIGNATURE_ALGORITHM", -211: "NET::ERR_CERT_WEAK_KEY",
                 -212: "NET::ERR_CERT_NAME_CONSTRAINT_VIOLATION", -213: "NET::ERR_CERT_VALIDITY_TOO_LONG",
                 -107: "NET::ERR_SSL_PROTOCOL_ERROR", -113: "NET::ERR_SSL_VERSION_OR_CIPHER_MISMATCH"}


def _chrome_runs():
    """Why Chromium cannot run here, or None."""
    if not have("chromium") or not have("certutil") or not have("unshare"):
        return "chromium, certutil (libnss3-tools) or unshare is not installed"
    if os.environ.get("TLSPROBE_SANITIZED", "none") not in ("", "none"):
        return "Chromium runs in the plain build's suite only"
    if run(["unshare", "-n", "true"], timeout=10).rc != 0:
        return "cannot make a network namespace here (it takes root)"
    return None


def _chrome(port, sc):
    # In its own namespace, Chromium finds the AIA issuer at the same loopback port.
    env = dict(os.environ, AIA_PORT=str(AIA.port), AIA_DIR=os.path.join(os.path.dirname(sc["cert"]), "aia"))
    r = run(["unshare", "-n", os.path.join(PEERS, "chrome-verify.sh"), sc["cert"], sc["key"],
             sc["chain"] or "-", sc["trust"], sc["host"]] + (sc["server"] or ["-cipher", "DEFAULT:@SECLEVEL=0"]),
            timeout=120, errors="replace", signals_ok=True, env=env)
    lines = r.out.splitlines()
    if r.rc != 0:
        raise AssertionError("chrome-verify.sh failed: %s" % r.err)
    if "loaded" in lines:
        return True, r.out
    codes = [int(line.split()[1]) for line in lines if line.startswith("net_error ")]
    return False, "\n".join(CHROME_ERRORS.get(c, "net error %d" % c) for c in codes) + "\n" + r.out


def _go(port, sc):
    r = run([os.path.join(BIN, "tlsverify"), str(port), sc["host"], sc["trust"]], timeout=30,
            errors="replace", signals_ok=True)
    return r.out.startswith("OK"), r.out + r.err


def _java(port, sc):
    r = run(["java", "-cp", BIN, "TlsVerify", str(port), sc["host"], sc["trust"]], timeout=60,
            errors="replace", signals_ok=True)
    return r.out.startswith("OK"), r.out + r.err


CLIENTS = {
    "openssl": (_openssl, "openssl"),
    "gnutls": (_gnutls, "gnutls-cli"),
    "python": (_python, None),
    "nss": (_nss, "vfychain"),
    "chrome": (_chrome, _chrome_runs),
    "go": (_go, "go"),
    "java": (_java, "javac"),
}


class Clients(unittest.TestCase):
    maxDiff = None

    def check(self, name):
        sc = S[name]
        srv = s_server(sc["cert"], sc["key"], chain=sc["chain"],
                       extra=sc["server"] or ["-cipher", "DEFAULT:@SECLEVEL=0"])
        with srv:
            r = harness.probe_json("localhost:%d" % srv.port, "--no-system-ca", "--ca-file", sc["trust"],
                                   "--sni", sc["host"], "--connect-to", "127.0.0.1", *sc["args"])
            predicted = {c["name"]: c for c in r.obj["clients"]}
            self.assertEqual(sorted(predicted), sorted(["openssl", "gnutls", "python", "nss", "chrome", "go",
                                                        "java"]), harness.dump(r.obj))
            for client, (connect, tool) in CLIENTS.items():
                with self.subTest(client=client):
                    if callable(tool) and tool():
                        self.skipTest(tool())
                    if isinstance(tool, str) and not have(tool):
                        self.skipTest("%s is not installed" % tool)
                    if client == "nss" and not sc["nss"]:
                        self.skipTest("vfychain checks neither the host name nor the handshake")
                    p = predicted[client]
                    if p["accepts"] is None:
                        self.skipTest("tlsprobe makes no prediction for %s here: %s" % (client, p["why"]))
                    accepted, output = connect(srv.port, sc)
                    self.assertEqual(p["accepts"], accepted,
                                     "%s: tlsprobe predicts %s, the client %s:\n%s\n%s" % (
                                         client, "accept" if p["accepts"] else "refuse",
                                         "accepted" if accepted else "refused", output,
                                         harness.dump(r.obj)))
                    if not accepted and client != "nss":
                        words = p["says"].replace(GNUTLS_NOT, "") if client == "gnutls" else p["says"]
                        self.assertIn(words, output, "%s's words\n%s" % (client, harness.dump(r.obj)))
            # The verdict follows the clients: critical when any refuses.
            refused = [c for c, p in predicted.items() if p["accepts"] is False]
            self.assertEqual(r.obj["status"] == "critical", bool(refused), harness.dump(r.obj))


# Firefox's suites and groups (its prefs), given to NSS's tstclnt, whose
# own defaults are the library's, not the browser's.
FIREFOX_SUITES = ":C02B:C02F:CCA9:CCA8:C02C:C030:C00A:C009:C013:C014:009C:009D:002F:0035:1301:1302:1303"
FIREFOX_GROUPS = "x25519,P256,P384,P521,FF2048,FF3072"


def _firefox(port, sc):
    r = run(["tstclnt", "-h", "127.0.0.1", "-p", str(port), "-a", sc["host"], "-D", "-o", "-Q", "-V", "tls1.2:tls1.3",
             "-c", FIREFOX_SUITES, "-I", FIREFOX_GROUPS], input=b"", timeout=30, errors="replace", signals_ok=True)
    return r.rc == 0, r.out + r.err


SCAN_CLIENTS = dict(CLIENTS, nss=(_firefox, "tstclnt"))


class ScanClients(unittest.TestCase):
    """tlsprobe scan says which clients can connect at all (scan.clients):
    each is what the client did against the same server."""
    maxDiff = None

    def check(self, server, scenario="dh1024"):
        sc = dict(S[scenario], server=server)
        srv = s_server(sc["cert"], sc["key"], chain=sc["chain"], extra=server)
        with srv:
            r = harness.probe_json("scan", "localhost:%d" % srv.port, "--no-system-ca", "--ca-file", sc["trust"],
                                   "--connect-to", "127.0.0.1", timeout=60)
            predicted = {c["name"]: c for c in r.obj["scan"]["clients"]}
            self.assertEqual(len(predicted), 7, harness.dump(r.obj))
            for client, (connect, tool) in SCAN_CLIENTS.items():
                with self.subTest(client=client):
                    if callable(tool) and tool():
                        self.skipTest(tool())
                    if isinstance(tool, str) and not have(tool):
                        self.skipTest("%s is not installed" % tool)
                    accepted, output = connect(srv.port, sc)
                    self.assertEqual(predicted[client]["connects"], accepted,
                                     "%s: tlsprobe scan predicts %s, the client %s:\n%s\n%s" % (
                                         client, predicted[client], "connected" if accepted else "did not",
                                         output, harness.dump(r.obj["scan"])))

    def test_tls10_only(self):
        """TLS 1.0 only: GnuTLS alone still speaks it"""
        self.check(["-tls1", "-cipher", "ECDHE-RSA-AES128-SHA:@SECLEVEL=0"])

    def test_dhe_only(self):
        """only a DHE suite: the browsers and Go offer none"""
        self.check(["-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256"])

    def test_rsa_key_exchange_only(self):
        """only RSA key exchange: Chrome and Python no longer offer it"""
        self.check(["-tls1_2", "-cipher", "AES128-SHA"])

    def test_p521_only(self):
        """ECDHE over P-521 only: Chrome has no P-521"""
        self.check(["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256", "-groups", "secp521r1"])

    def test_ed25519_only(self):
        """an Ed25519 certificate alone: the browsers do not verify EdDSA"""
        self.check(["-tls1_3"], scenario="ed25519-leaf")

    def test_tls13_x448_only(self):
        """TLS 1.3 over X448 only"""
        self.check(["-tls1_3", "-groups", "X448"])


def _make(name):
    def test(self):
        self.check(name)
    test.__doc__ = "the predictions for the '%s' chain are what the clients do" % name
    return test


for _name in ["good", "missing-intermediate", "missing-intermediate-fetchable", "untrusted-root-sent", "untrusted-ca-unsent", "self-signed",
              "hostname", "cn-only", "expired-leaf", "not-yet-valid-leaf", "expired-intermediate",
              "expired-root", "issuer-not-ca", "no-keycertsign", "pathlen", "self-issued-pathlen",
              "anchor-name-constraints", "name-constraints", "purpose", "any-eku-only", "sha1-leaf",
              "rsa1024-leaf", "rsa1024-intermediate", "out-of-order", "bc-not-critical", "missing-key-ids",
              "leaf-is-ca", "critical-aki", "unknown-critical-extension", "empty-subject",
              "tls11-only", "dh1024", "serial-zero", "serial-negative", "serial-21-octets", "bad-signature",
              "wrong-intermediate", "md5-leaf", "sha1-root", "key-id-mismatch"]:
    setattr(Clients, "test_" + _name.replace("-", "_"), _make(_name))


if __name__ == "__main__":
    unittest.main()
