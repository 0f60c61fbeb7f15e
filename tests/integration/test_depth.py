"""Diagnosis in depth: issuer-not-ca (keyUsage), chain-order, weak-key, SHA-1 on an
intermediate, --crl, stapled OCSP, expires-soon on an intermediate,
no-shared-cipher and protocol-version (the second look), exact classification
when the server also sends extras, --ca-file explanations, a wrong intermediate
under the right name, a wrong authorityKeyIdentifier, an expired trusted root,
and the order of problems.

Every fixture is made here with the openssl command line (certificates, CRLs
with `openssl ca -gencrl`, OCSP responses with `openssl ocsp`), never with
tlsprobe, and served by `openssl s_server` or `gnutls-serv` on loopback
(certtool only checks a CRL signature, as GnuTLS sees it).
Time-dependent cases pass --at; nothing sleeps on the wall clock.
"""

import base64
import datetime
import os
import re
import ssl
import subprocess
import unittest

import harness
from harness import trust_root
from harness import ORG, CertInfo, ProbeCase, at_epoch, dump, openssl, problem_codes, run_tlsprobe
from harness.clients import client_context, gnutls_cli, https_get
from harness.pki import Pki, ca_ext, leaf_ext, subject

F = None    # harness.fixtures(): root -> inter -> leaf and friends
D = None    # DepthFixtures, below
DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)

NOKS_CN = "tlsprobe CA without keyCertSign"
SHA1_INTER_CN = "tlsprobe SHA-1 Intermediate CA"
SHORT_INTER_CN = "tlsprobe Short-lived Intermediate CA"
SERVED_ROOT_CN = "tlsprobe Served Root CA"
NEW_ROOT_CN = "tlsprobe New Root CA"
NEW_INTER_CN = "tlsprobe New Intermediate CA"
EXPIRED_ROOT_CN = "tlsprobe Expired Root CA"

EXTENSIONS = {
    "v3_noksign": ca_ext("digitalSignature,cRLSign"),
    "v3_root_ds": ca_ext("keyCertSign,cRLSign,digitalSignature"),
    "v3_localhost_noaki": ["basicConstraints = critical,CA:FALSE",
                           "keyUsage = critical,digitalSignature,keyEncipherment",
                           "extendedKeyUsage = serverAuth",
                           "subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1",
                           "subjectKeyIdentifier = none", "authorityKeyIdentifier = none"],
    "v3_inter_nc": ca_ext(extra=["nameConstraints = critical,permitted;DNS:.corp.test"]),
    "v3_root_nc": ca_ext(extra=["nameConstraints = critical,permitted;DNS:.corp.test,"
                                "excluded;DNS:bad.corp.test"]),
    "v3_root_pathlen0": ca_ext(pathlen=0),
    # the intermediate's key under a subjectKeyIdentifier that is not its hash
    "v3_inter_other_ski": ["basicConstraints = critical,CA:TRUE,pathlen:0",
                           "keyUsage = critical,keyCertSign,cRLSign",
                           "subjectKeyIdentifier = " + ":".join(["de", "ad", "be", "ef"] * 5),
                           "authorityKeyIdentifier = keyid,issuer"],
    # server leaves that differ in one way
    "v3_wildcard": leaf_ext(san="DNS:*.example.test"),
    "v3_encipher_only": leaf_ext("keyEncipherment", san="DNS:localhost"),
    "v3_must_staple": leaf_ext(san="DNS:localhost", extra=["tlsfeature = status_request"]),
    "v3_sign_only": leaf_ext(san="DNS:localhost"),
    "v3_many_sans": leaf_ext(san=",".join("DNS:host%d.example.test" % i for i in range(300))),
}


class DepthFixtures(Pki):
    """Certificates, CRLs and OCSP responses for this module, on top of the
    harness fixtures F (same root and intermediate), in F.dir/depth.

    noks_inter   CA:TRUE, keyUsage digitalSignature,cRLSign (no keyCertSign), by root
    noks         leaf (localhost) by noks_inter
    rsa1024      leaf (localhost) with an RSA 1024 key, by inter
    sha1_inter   intermediate signed by root with ecdsa-with-SHA1
    sha1i        leaf by sha1_inter (SHA-256)
    short_inter  intermediate by root, now-365d .. now+60d
    shorti       leaf by short_inter, now-30d .. now+365d (outlives its issuer)
    fake_root    self-signed, the root's exact subject DN, another key
    twin_inter   by root, the intermediate's exact subject DN, another key
    noaki        leaf by inter without authority/subject key identifiers
    served_root  self-signed CA (keyUsage also digitalSignature), no SAN: a root a
                 server can use as its own certificate
    new_root     self-signed CA, another root; new_inter by it; new_leaf
                 (localhost) by new_inter
    cross / cross_expired / cross_printable   new_root's name and key, signed
                 by the root: valid (now-30d .. now+365d), expired (now-730d ..
                 now-365d), valid with the name as PrintableString
    nc_inter     by root, nameConstraints permitted DNS:.corp.test; nc_leaf
                 (localhost, 127.0.0.1) by it
    nc_many      a leaf with 300 DNS names (host0..host299.example.test) by nc_inter
    nc_root      self-signed, permitted DNS:.corp.test, excluded bad.corp.test;
                 nc_root_leaf (localhost) by it directly
    wildcard     SAN DNS:*.example.test only, by inter
    must_staple  leaf (localhost) with the TLS feature status_request, by inter
    rsa_sign_only  RSA 2048 leaf (localhost) with keyUsage digitalSignature only
    v1_inter     an X.509 v1 certificate by root (no extensions); v1_leaf by it
    expired_root self-signed, expired (now-3650d .. now-10d); er_leaf (localhost,
                 valid) by it directly; renewed_root its name and key, valid
                 (now-20d .. now+3650d)
    aki_inter    the intermediate's name and key, another subjectKeyIdentifier
                 (de:ad:be:ef...), by root; aki_leaf (localhost) by it: signed by
                 the intermediate's key, its authorityKeyIdentifier names another
    old_inter    intermediate by root, expired (now-730d .. now-365d); old_leaf
                 (localhost, valid) by it
    encipher     leaf (localhost, EC) with keyUsage keyEncipherment only, by inter
    pl0_root     self-signed, pathlen:0; pl0_inter by it; pl0_leaf by pl0_inter
    pl0_rekey    pl0_root's name, another key, by pl0_root (self-issued);
                 pl0_rekey_leaf (localhost) by it; pl0_rekey_inter by it and
                 pl0_rekey_inter_leaf (localhost) by pl0_rekey_inter
    crl_revoked  CRL by inter listing the leaf (7 days)
    crl_empty    CRL by inter listing nothing (7 days)
    crl_stale    CRL by inter listing nothing, next update in 1 day
    crl_forged   CRL naming inter as its issuer and listing the leaf, but signed
                 with twin_inter's key (same name, another key)
    ocsp_good / ocsp_revoked / ocsp_rogue   OCSP responses about the leaf, by
                 inter (good, revoked) and by the unrelated rogue CA, 7 days
    """

    def __init__(self, base):
        super().__init__(os.path.join(base.dir, "depth"), aia="http://127.0.0.1:9/ca.crt",
                         now=base.now, serial_top=2)
        self.F = base
        for name, lines in EXTENSIONS.items():
            self.extensions(name, lines)
        self._make_all()

    def cert(self, name, cn, ext, issuer, start, end, **kw):
        """A certificate for subject O=ORG, CN=cn by issuer (None: self-signed)."""
        return self.issue(name, subject(cn), ext, issuer, start, end, **kw)

    def _make_v1_inter(self):
        """An X.509 v1 "intermediate" by the root (openssl x509 -req with no
        extensions), and a leaf by it -> (inter path, leaf CertInfo)."""
        F = self.F
        key, csr, cert = self.key("v1_inter"), self.p("v1_inter.csr"), self.p("v1_inter.pem")
        openssl("req", "-new", "-config", self.conf, "-key", key, "-subj",
                "/O=%s/CN=tlsprobe Version 1 CA" % ORG, "-out", csr)
        openssl("x509", "-req", "-in", csr, "-CA", F.root.cert, "-CAkey", F.root.key,
                "-set_serial", "4242", "-days", "30", "-out", cert)
        inter = CertInfo("v1_inter", cert, key, cert, "CN=tlsprobe Version 1 CA,O=" + ORG,
                         self.now, self.now + 30 * DAY, "tlsprobe Version 1 CA")
        leaf = self.cert("v1_leaf", "localhost", "v3_localhost_noaki", inter, self.now - DAY, self.now + 20 * DAY)
        return cert, leaf

    def crl(self, name, revoke=(), hours=7 * 24, issuer=None):
        return super().crl(name, issuer or self.F.inter, revoke, hours)

    # -- OCSP responses ------------------------------------------------------
    def ocsp(self, name, revoked=False, signer=None, days=7):
        leaf, inter = self.F.leaf, self.F.inter
        signer = signer or inter
        idx = self.p(name + ".index.txt")
        end = leaf.not_after.astimezone(harness.UTC).strftime("%y%m%d%H%M%SZ")
        rev = (self.now - HOUR).astimezone(harness.UTC).strftime("%y%m%d%H%M%SZ")
        with open(idx, "w") as f:
            f.write("%s\t%s\t%s\t%s\tunknown\t/O=%s/CN=%s\n" % (
                "R" if revoked else "V", end, rev + ",keyCompromise" if revoked else "",
                self.serial_hex(leaf.cert), ORG, leaf.cn))
        out = self.p(name + ".ocsp.der")
        openssl("ocsp", "-index", idx, "-rsigner", signer.cert, "-rkey", signer.key,
                "-CA", inter.cert, "-issuer", inter.cert, "-cert", leaf.cert, "-respout", out,
                "-ndays", str(days), "-noverify")
        return out

    def _make_all(self):
        F, now = self.F, self.now
        self.noks_inter = self.cert("noks_inter", NOKS_CN, "v3_noksign", F.root,
                                     now - 365 * DAY, now + 1825 * DAY)
        self.noks = self.cert("noks", "localhost", "v3_localhost", self.noks_inter,
                               now - 30 * DAY, now + 365 * DAY)
        self.rsa1024 = self.cert("rsa1024", "localhost", "v3_localhost", F.inter,
                                  now - 30 * DAY, now + 365 * DAY, rsa_bits=1024)
        self.sha1_inter = self.cert("sha1_inter", SHA1_INTER_CN, "v3_inter", F.root,
                                     now - 365 * DAY, now + 1825 * DAY, md="sha1")
        self.sha1i = self.cert("sha1i", "localhost", "v3_localhost", self.sha1_inter,
                                now - 30 * DAY, now + 365 * DAY)
        self.short_inter = self.cert("short_inter", SHORT_INTER_CN, "v3_inter", F.root,
                                      now - 365 * DAY, now + 60 * DAY)
        self.shorti = self.cert("shorti", "localhost", "v3_localhost", self.short_inter,
                                 now - 30 * DAY, now + 365 * DAY)
        self.fake_root = self.cert("fake_root", harness.ROOT_CN, "v3_root", None,
                                    now - 365 * DAY, now + 3650 * DAY)
        self.twin_inter = self.cert("twin_inter", harness.INTER_CN, "v3_inter", F.root,
                                     now - 365 * DAY, now + 1825 * DAY)
        self.noaki = self.cert("noaki", "localhost", "v3_localhost_noaki", F.inter,
                                now - 30 * DAY, now + 365 * DAY)
        self.served_root = self.cert("served_root", SERVED_ROOT_CN, "v3_root_ds", None,
                                      now - DAY, now + 3650 * DAY)
        self.new_root = self.cert("new_root", NEW_ROOT_CN, "v3_root", None,
                                   now - 365 * DAY, now + 3650 * DAY)
        self.new_inter = self.cert("new_inter", NEW_INTER_CN, "v3_inter", self.new_root,
                                    now - 365 * DAY, now + 1825 * DAY)
        self.new_leaf = self.cert("new_leaf", "localhost", "v3_localhost", self.new_inter,
                                   now - 30 * DAY, now + 365 * DAY)
        for name, start, end, printable in (("cross", -30, 3000, False),
                                            ("cross_expired", -730, -365, False),
                                            ("cross_printable", -30, 3000, True)):
            setattr(self, name, self.cert(name, NEW_ROOT_CN, "v3_root", F.root,
                                           now + start * DAY, now + end * DAY,
                                           key=self.new_root.key, printable=printable))
        self.nc_inter = self.cert("nc_inter", "tlsprobe Constrained CA", "v3_inter_nc", F.root,
                                   now - 365 * DAY, now + 1825 * DAY)
        self.nc_leaf = self.cert("nc_leaf", "localhost", "v3_localhost", self.nc_inter,
                                  now - 30 * DAY, now + 365 * DAY)
        self.nc_many = self.cert("nc_many", "localhost", "v3_many_sans", self.nc_inter,
                                  now - 30 * DAY, now + 365 * DAY)
        self.nc_root = self.cert("nc_root", "tlsprobe Constrained Root", "v3_root_nc", None,
                                  now - 365 * DAY, now + 3650 * DAY)
        self.nc_root_leaf = self.cert("nc_root_leaf", "localhost", "v3_localhost", self.nc_root,
                                       now - 30 * DAY, now + 365 * DAY)
        self.pl0_root = self.cert("pl0_root", "tlsprobe Pathlen 0 Root", "v3_root_pathlen0", None,
                                   now - 365 * DAY, now + 3650 * DAY)
        self.pl0_inter = self.cert("pl0_inter", "tlsprobe Pathlen Intermediate", "v3_root",
                                    self.pl0_root, now - 365 * DAY, now + 1825 * DAY)
        self.pl0_leaf = self.cert("pl0_leaf", "localhost", "v3_localhost", self.pl0_inter,
                                   now - 30 * DAY, now + 365 * DAY)
        self.pl0_rekey = self.cert("pl0_rekey", "tlsprobe Pathlen 0 Root", "v3_root", self.pl0_root,
                                    now - 30 * DAY, now + 1825 * DAY)
        self.pl0_rekey_leaf = self.cert("pl0_rekey_leaf", "localhost", "v3_localhost", self.pl0_rekey,
                                         now - 30 * DAY, now + 365 * DAY)
        self.pl0_rekey_inter = self.cert("pl0_rekey_inter", "tlsprobe Pathlen Intermediate", "v3_inter",
                                          self.pl0_rekey, now - 30 * DAY, now + 1825 * DAY)
        self.pl0_rekey_inter_leaf = self.cert("pl0_rekey_inter_leaf", "localhost", "v3_localhost",
                                               self.pl0_rekey_inter, now - 30 * DAY, now + 365 * DAY)
        self.encipher = self.cert("encipher", "localhost", "v3_encipher_only", F.inter,
                                   now - 30 * DAY, now + 365 * DAY)
        self.old_inter = self.cert("old_inter", "tlsprobe Old Intermediate CA", "v3_inter", F.root,
                                    now - 730 * DAY, now - 365 * DAY)
        self.old_leaf = self.cert("old_leaf", "localhost", "v3_localhost", self.old_inter,
                                   now - 30 * DAY, now + 365 * DAY)
        self.expired_root = self.cert("expired_root", EXPIRED_ROOT_CN, "v3_root", None,
                                       now - 3650 * DAY, now - 10 * DAY)
        self.er_leaf = self.cert("er_leaf", "localhost", "v3_localhost", self.expired_root,
                                  now - 30 * DAY, now + 365 * DAY)
        self.renewed_root = self.cert("renewed_root", EXPIRED_ROOT_CN, "v3_root", None,
                                       now - 20 * DAY, now + 3650 * DAY, key=self.expired_root.key)
        self.aki_inter = self.cert("aki_inter", harness.INTER_CN, "v3_inter_other_ski", F.root,
                                    now - 365 * DAY, now + 1825 * DAY, key=F.inter.key)
        self.aki_leaf = self.cert("aki_leaf", "localhost", "v3_localhost", self.aki_inter,
                                   now - 30 * DAY, now + 365 * DAY)
        self.rsa_sign_only = self.cert("rsa_sign_only", "localhost", "v3_sign_only", F.inter,
                                        now - 30 * DAY, now + 365 * DAY, rsa_bits=2048)
        self.v1_inter, self.v1_leaf = self._make_v1_inter()
        self.must_staple = self.cert("must_staple", "localhost", "v3_must_staple", F.inter,
                                      now - 30 * DAY, now + 365 * DAY)
        self.wildcard = self.cert("wildcard", "*.example.test", "v3_wildcard", F.inter,
                                   now - 30 * DAY, now + 365 * DAY)
        self.crl_revoked = self.crl("revoked", revoke=[F.leaf.cert])
        self.crl_empty = self.crl("empty")
        self.crl_stale = self.crl("stale", hours=24)
        self.crl_forged = self.crl("forged", revoke=[F.leaf.cert], issuer=self.twin_inter)
        self.ocsp_good = self.ocsp("good")
        self.ocsp_revoked = self.ocsp("revoked", revoked=True)
        self.ocsp_rogue = self.ocsp("rogue", signer=F.rogue_ca)


_depth = None


def depth_fixtures():
    global _depth
    if _depth is None:
        _depth = DepthFixtures(harness.fixtures())
    return _depth


def setUpModule():
    global F, D
    F = harness.fixtures()
    D = depth_fixtures()


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def probe(*args):
    """harness.probe_json: strict JSON, tlsprobe/1 schema check."""
    return harness.probe_json(*args)


def target(srv):
    return "localhost:%d" % srv.port


def openssl_text(*argv):
    return openssl(*argv).decode()


def openssl_date(text, label):
    """'Label: Nov 22 01:23:04 2026 GMT' in openssl -text output -> datetime."""
    m = re.search(r"%s: *([A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d \d{4}) GMT" % re.escape(label), text)
    if not m:
        raise AssertionError("no %r in openssl output:\n%s" % (label, text))
    return datetime.datetime.strptime(" ".join(m.group(1).split()),
                                      "%b %d %H:%M:%S %Y").replace(tzinfo=harness.UTC)


def minute(dt):
    """The date format of tlsprobe's messages: 2026-11-22 01:23 UTC."""
    return dt.astimezone(harness.UTC).strftime("%Y-%m-%d %H:%M UTC")


class DepthCase(ProbeCase):
    def problems(self, r, code):
        return [p for p in (r.obj["verify"] or {}).get("problems", []) if p["code"] == code]

    def assertFirstProblem(self, r, code, cert_index, severity="critical"):
        """The most severe problem (listed first, and the verdict reason)."""
        probs = (r.obj["verify"] or {}).get("problems", [])
        self.assertTrue(probs, "no problems\n" + dump(r.obj))
        first = probs[0]
        self.assertEqual((first["code"], first["cert_index"], first["severity"]),
                         (code, cert_index, severity), dump(r.obj))
        self.assertEqual(r.obj["reason"], code, dump(r.obj))
        return first

    def assertOnlyProblems(self, r, required, allowed=()):
        """Every code in required is present; nothing outside required+allowed."""
        codes = set(problem_codes(r.obj))
        self.assertLessEqual(set(required), codes, "missing problems\n" + dump(r.obj))
        self.assertLessEqual(codes, set(required) | set(allowed),
                             "unexpected problems\n" + dump(r.obj))


# --------------------------------------------------------------------------
# issuer-not-ca: a CA:TRUE signer whose keyUsage lacks keyCertSign
# --------------------------------------------------------------------------

class IssuerNotCaKeyUsage(DepthCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(harness.s_server(D.noks.cert, D.noks.key,
                                                    chain=D.noks_inter.cert))

    def test_ca_without_key_cert_sign_is_issuer_not_ca_on_the_signer(self):
        r = probe(target(self.srv), *trust_root())
        self.assertOutcome(r, 2, "critical", "issuer-not-ca")
        self.assertProblems(r, ["issuer-not-ca"])
        p = self.assertProblem(r, "issuer-not-ca", severity="critical", cert_index=1)
        self.assertIn("keyCertSign", p["message"])
        self.assertIn(NOKS_CN, p["message"], "message names the signer")
        self.assertIs(r.obj["chain"][1]["is_ca"], True, "the signer is CA:TRUE")
        self.assertIs(r.obj["verify"]["trusted"], False)


# --------------------------------------------------------------------------
# chain-order: wrong order, an unrelated extra, a duplicate (warnings, exit 1)
# --------------------------------------------------------------------------

class ChainOrder(DepthCase):
    @classmethod
    def setUpClass(cls):
        # -cert_chain is sent as given: leaf, root, intermediate
        cls.unordered = cls.class_server(harness.s_server(
            F.leaf.cert, F.leaf.key, chain=D.cat("root-inter.pem", F.root.cert, F.inter.cert)))
        cls.extra = cls.class_server(harness.s_server(
            F.leaf.cert, F.leaf.key, chain=D.cat("inter-rogue.pem", F.inter.cert,
                                                 F.rogue_ca.cert)))
        cls.twice = cls.class_server(harness.s_server(
            F.leaf.cert, F.leaf.key, chain=D.cat("inter-leaf.pem", F.inter.cert, F.leaf.cert)))

    def test_served_order_leaf_root_intermediate_is_chain_order_listing_the_right_order(self):
        r = probe(target(self.unordered), *trust_root())
        # a lone chain-order on a trusted chain: warning, exit 1
        self.assertOutcome(r, 1, "warning", "chain-order")
        self.assertProblems(r, ["chain-order"])
        p = self.assertProblem(r, "chain-order", severity="warning", cert_index=2)
        self.assertIn("out of order", p["message"])
        self.assertIn("#0 'localhost', then #2 '%s', then #1 '%s'"
                      % (harness.INTER_CN, harness.ROOT_CN), p["message"])
        self.assertIs(r.obj["verify"]["trusted"], True)
        self.assertEqual([c["subject"] for c in r.obj["chain"]],
                         [F.leaf.subject, F.root.subject, F.inter.subject], "served order kept")

    def test_unrelated_ca_in_the_chain_belongs_to_no_path(self):
        r = probe(target(self.extra), *trust_root())
        self.assertOutcome(r, 1, "warning", "chain-order")
        self.assertProblems(r, ["chain-order"])
        p = self.assertProblem(r, "chain-order", severity="warning", cert_index=2)
        self.assertIn("belongs to no path", p["message"])
        self.assertIn(harness.OTHER_ROOT_CN, p["message"])
        self.assertIs(r.obj["verify"]["trusted"], True)

    def test_leaf_sent_again_is_sent_twice(self):
        r = probe(target(self.twice), *trust_root())
        self.assertOutcome(r, 1, "warning", "chain-order")
        self.assertProblems(r, ["chain-order"])
        p = self.assertProblem(r, "chain-order", severity="warning", cert_index=2)
        self.assertIn("sent twice", p["message"])
        self.assertIn("#0", p["message"], "names the first copy")
        self.assertEqual(r.obj["chain"][2]["sha256"], r.obj["chain"][0]["sha256"])

    def test_insecure_waives_chain_order(self):
        # chain-order is a finding like the others: --insecure waives it (exit 0)
        r = probe(target(self.unordered), *trust_root(), "--insecure")
        self.assertEqual((r.rc, r.obj["status"]), (0, "ok"), dump(r.obj))
        self.assertProblems(r, ["chain-order"])


# --------------------------------------------------------------------------
# weak-key: RSA 1024 leaf
# --------------------------------------------------------------------------

class WeakKey(DepthCase):
    @classmethod
    def setUpClass(cls):
        # OpenSSL's default security level refuses to load a 1024-bit key
        cls.srv = cls.class_server(harness.s_server(
            D.rsa1024.cert, D.rsa1024.key, chain=F.inter.cert,
            extra=["-cipher", "DEFAULT@SECLEVEL=0"]))

    def test_rsa_1024_leaf_is_weak_key_on_the_leaf(self):
        r = probe(target(self.srv), *trust_root())
        self.assertEqual(self.leaf(r)["key"], {"type": "RSA", "bits": 1024, "curve": None},
                         dump(r.obj))
        p = self.assertProblem(r, "weak-key", cert_index=0)
        self.assertIn("1024", p["message"])
        self.assertIn("2048", p["message"])
        self.assertProblems(r, ["weak-key"])
        # GnuTLS (3.7, default profile) verifies the chain anyway; OpenSSL 3
        # at security level 2 (curl, Python) refuses it: critical.
        self.assertIs(r.obj["verify"]["trusted"], True, dump(r.obj))
        self.assertEqual(p["severity"], "critical")
        self.assertEqual(p["refused_by"], ["openssl", "python"], dump(r.obj))
        self.assertOutcome(r, 2, "critical", "weak-key")
        # judged as GnuTLS alone, it is a warning
        r = probe(target(self.srv), *trust_root(), "--as", "gnutls")
        self.assertOutcome(r, 1, "warning", "weak-key")
        self.assertEqual([c["name"] for c in r.obj["clients"]], ["gnutls"], dump(r.obj))
        self.assertIs(r.obj["clients"][0]["accepts"], True, dump(r.obj))


# RFC 2409's 1024-bit MODP group (Oakley group 2), generator 2
OAKLEY2_P = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF", 16)


def dh_params_pem(p, g=2):
    def integer(n):
        b = n.to_bytes((n.bit_length() + 8) // 8, "big")
        return harness.pki.der_tlv(0x02, b)
    der = harness.pki.der_tlv(0x30, integer(p) + integer(g))
    b64 = base64.b64encode(der).decode()
    return ("-----BEGIN DH PARAMETERS-----\n" + "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64)) +
            "\n-----END DH PARAMETERS-----\n")


class WeakDhGroup(DepthCase):
    """TLS 1.2 DHE with a 1024-bit group of the server's own: GnuTLS takes it,
    tlsprobe names the group and warns."""

    @classmethod
    def setUpClass(cls):
        path = D.p("oakley2.pem")
        with open(path, "w") as f:
            f.write(dh_params_pem(OAKLEY2_P))
        cls.srv = cls.class_server(harness.s_server(
            F.rsa.cert, F.rsa.key, chain=F.inter.cert,
            extra=["-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0", "-dhparam", path]))

    def test_small_dh_group_is_weak_key_for_the_session(self):
        r = probe(target(self.srv), *trust_root())
        self.assertEqual(r.obj["tls"]["kx_group"], "DH-1024", dump(r.obj))
        # OpenSSL 3 at security level 2 (curl, Python) refuses the group
        self.assertOutcome(r, 2, "critical", "weak-key")
        p = self.assertProblem(r, "weak-key", cert_index=None)
        self.assertEqual(p["refused_by"], ["openssl", "python"], dump(r.obj))
        self.assertIn("1024-bit group", p["message"])
        self.assertIn("ffdhe2048", p["fix"])


# --------------------------------------------------------------------------
# insecure-algorithm on an intermediate (signed with SHA-1 by the root)
# --------------------------------------------------------------------------

class InsecureIntermediate(DepthCase):
    @classmethod
    def setUpClass(cls):
        # OpenSSL 3 refuses to serve a SHA-1 signed chain ("ca md too weak")
        cls.srv = cls.class_server(harness.gnutls_serv(D.sha1i.chain, D.sha1i.key))

    def test_sha1_signed_intermediate_is_insecure_algorithm_on_cert_1(self):
        r = probe(target(self.srv), *trust_root())
        self.assertOutcome(r, 2, "critical", "insecure-algorithm")
        self.assertProblems(r, ["insecure-algorithm"])
        p = self.assertProblem(r, "insecure-algorithm", severity="critical", cert_index=1)
        self.assertIn(SHA1_INTER_CN, p["message"])
        self.assertIn("SHA1", p["message"].upper().replace("-", ""))
        self.assertIn("SHA1", r.obj["chain"][1]["sig_alg"].upper().replace("-", ""))
        self.assertNotIn("SHA1", self.leaf(r)["sig_alg"].upper().replace("-", ""))


# --------------------------------------------------------------------------
# revocation with --crl
# --------------------------------------------------------------------------

class CrlRevocation(DepthCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(harness.s_server(F.leaf.cert, F.leaf.key,
                                                    chain=F.inter.cert))

    def test_crl_listing_the_leaf_is_revoked_naming_serial_date_and_file(self):
        r = probe(target(self.srv), *trust_root(), "--crl", D.crl_revoked)
        self.assertOutcome(r, 2, "critical", "revoked")
        self.assertProblems(r, ["revoked"])
        p = self.assertProblem(r, "revoked", severity="critical", cert_index=0)
        serial = self.leaf(r)["serial"]
        self.assertEqual(int(serial, 16), F.serial(F.leaf.cert))
        self.assertIn(serial, p["message"], "the serial as chain[0].serial prints it")
        self.assertIn(os.path.basename(D.crl_revoked), p["message"], "names the CRL file")
        when = openssl_date(openssl_text("crl", "-in", D.crl_revoked, "-noout", "-text"),
                            "Revocation Date")
        self.assertIn("revoked on " + minute(when), p["message"])

    def test_empty_crl_is_ok(self):
        r = probe(target(self.srv), *trust_root(), "--crl", D.crl_empty)
        self.assertOutcome(r, 0, "ok", None)
        self.assertProblems(r, [])

    def test_crl_past_its_next_update_is_a_stale_crl_warning(self):
        # a stale CRL is its own warning, about the certificate it covers
        nxt = openssl_date(openssl_text("crl", "-in", D.crl_stale, "-noout", "-text"),
                           "Next Update")
        r = probe(target(self.srv), *trust_root(), "--crl", D.crl_stale,
                  "--at", at_epoch(nxt + DAY))
        self.assertOutcome(r, 1, "warning", "crl-stale")
        self.assertProblems(r, ["crl-stale"])
        p = self.assertProblem(r, "crl-stale", severity="warning", cert_index=0)
        self.assertIn("stale", p["message"])
        self.assertIn(os.path.basename(D.crl_stale), p["message"])
        self.assertIn(minute(nxt), p["message"], "says when the update was due")
        self.assertIn("CRL", p["fix"])

    def test_stale_crl_verdict_does_not_say_the_certificate_is_revoked(self):
        # nothing is revoked: the verdict line must not claim otherwise
        nxt = openssl_date(openssl_text("crl", "-in", D.crl_stale, "-noout", "-text"),
                           "Next Update")
        rc, out, err, _ = run_tlsprobe(target(self.srv), *trust_root(), "--crl", D.crl_stale,
                                       "--at", at_epoch(nxt + DAY), "-q", "--color", "never")
        self.assertEqual(rc, 1, out + err)
        self.assertTrue(out.startswith("WARNING"), out)
        self.assertNotIn("certificate revoked", out.splitlines()[0],
                         "a stale CRL that lists nothing is reported as a revoked certificate")

    def test_same_crl_before_its_next_update_is_ok(self):
        r = probe(target(self.srv), *trust_root(), "--crl", D.crl_stale)
        self.assertOutcome(r, 0, "ok", None)

    def test_revoked_and_stale_lists_the_revocation_first(self):
        nxt = openssl_date(openssl_text("crl", "-in", D.crl_revoked, "-noout", "-text"),
                           "Next Update")
        r = probe(target(self.srv), *trust_root(), "--crl", D.crl_revoked,
                  "--at", at_epoch(nxt + DAY))
        self.assertOutcome(r, 2, "critical", "revoked")
        self.assertFirstProblem(r, "revoked", 0)
        self.assertEqual([(p["code"], p["severity"]) for p in r.obj["verify"]["problems"]],
                         [("revoked", "critical"), ("crl-stale", "warning")], dump(r.obj))

    def test_crl_not_signed_by_the_issuer_does_not_revoke(self):
        # The forged CRL names the intermediate as its issuer but is signed
        # with another key: GnuTLS's own certtool says its signature is
        # invalid.  Such a CRL is no evidence that the leaf is revoked.
        harness.require_tools("certtool")
        for crl, ok in ((D.crl_revoked, True), (D.crl_forged, False)):
            p = subprocess.run(["certtool", "--verify-crl", "--load-ca-certificate", F.inter.cert,
                                "--infile", crl], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            self.assertEqual(b"Verification output: Verified." in p.stdout, ok, p.stdout[-400:])
        r = probe(target(self.srv), *trust_root(), "--crl", D.crl_forged)
        revoked = [q for q in self.problems(r, "revoked") if q["severity"] == "critical"]
        self.assertEqual(revoked, [], "a forged CRL is reported as a revocation\n" + dump(r.obj))

    def test_unreadable_crl_is_exit_3(self):
        missing = D.p("no-such.crl")
        rc, out, err, _ = run_tlsprobe(target(self.srv), *trust_root(), "--crl", missing,
                                       "--json")
        self.assertEqual(rc, 3, out + err)
        self.assertIn("no-such.crl", err)

    def test_file_without_a_crl_is_exit_3(self):
        rc, out, err, _ = run_tlsprobe(target(self.srv), *trust_root(), "--crl", F.leaf.cert,
                                       "--json")
        self.assertEqual(rc, 3, out + err)
        self.assertIn("CRL", err)


# --------------------------------------------------------------------------
# stapled OCSP
# --------------------------------------------------------------------------

def ocsp_facts(resp):
    text = openssl_text("ocsp", "-respin", resp, "-resp_text", "-noverify")
    return (harness.iso(openssl_date(text, "This Update")),
            harness.iso(openssl_date(text, "Next Update")))


class OcspStapling(DepthCase):
    @classmethod
    def setUpClass(cls):
        def staple(resp):
            return cls.class_server(harness.s_server(F.leaf.cert, F.leaf.key, chain=F.inter.cert,
                                                     extra=["-status_file", resp]))
        cls.good = staple(D.ocsp_good)
        cls.revoked = staple(D.ocsp_revoked)
        cls.rogue = staple(D.ocsp_rogue)
        cls.plain = cls.class_server(harness.s_server(F.leaf.cert, F.leaf.key,
                                                      chain=F.inter.cert))

    def check_stapled(self, r, status, verified):
        self.assertIs(r.obj["tls"]["ocsp_stapled"], True, dump(r.obj))
        self.assertIn("ocsp", r.obj, dump(r.obj))
        o = r.obj["ocsp"]
        self.assertIsInstance(o, dict, dump(r.obj))
        self.assertEqual((o["status"], o["verified"]), (status, verified), dump(r.obj))
        return o

    def test_good_staple_is_ok_with_the_ocsp_object(self):
        r = probe(target(self.good), *trust_root())
        self.assertOutcome(r, 0, "ok", None)
        o = self.check_stapled(r, "good", True)
        self.assertEqual((o["this_update"], o["next_update"]), ocsp_facts(D.ocsp_good))
        self.assertIsNone(o["revocation_time"])

    def test_good_staple_satisfies_ocsp_required(self):
        r = probe(target(self.good), *trust_root(), "--ocsp-required")
        self.assertOutcome(r, 0, "ok", None)

    def test_revoked_staple_is_revoked_on_the_leaf(self):
        r = probe(target(self.revoked), *trust_root())
        self.assertOutcome(r, 2, "critical", "revoked")
        self.assertProblems(r, ["revoked"])
        p = self.assertProblem(r, "revoked", severity="critical", cert_index=0)
        self.assertIn("OCSP", p["message"])
        when = D.now - HOUR      # the revocation date written in the index file
        self.assertIn(minute(when), p["message"])
        o = self.check_stapled(r, "revoked", True)
        self.assertEqual((o["this_update"], o["next_update"]), ocsp_facts(D.ocsp_revoked))
        self.assertEqual(o["revocation_time"], harness.iso(when))

    def test_no_staple_with_ocsp_required_is_ocsp_missing(self):
        r = probe(target(self.plain), *trust_root(), "--ocsp-required")
        self.assertOutcome(r, 2, "critical", "ocsp-missing")
        self.assertProblems(r, ["ocsp-missing"])
        self.assertProblem(r, "ocsp-missing", severity="critical", cert_index=0)
        self.assertIs(r.obj["tls"]["ocsp_stapled"], False)
        self.assertIsNone(r.obj.get("ocsp", "absent"))

    def test_no_staple_without_ocsp_required_is_ok(self):
        r = probe(target(self.plain), *trust_root())
        self.assertOutcome(r, 0, "ok", None)
        self.assertIs(r.obj["tls"]["ocsp_stapled"], False)

    def test_staple_past_its_next_update_is_ocsp_invalid_stale(self):
        this, nxt = ocsp_facts(D.ocsp_good)
        at = datetime.datetime.strptime(nxt, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=harness.UTC) + DAY
        self.assertLess(at, F.leaf.not_after, "still inside the leaf's validity")
        r = probe(target(self.good), *trust_root(), "--at", at_epoch(at))
        self.assertOutcome(r, 1, "warning", "ocsp-invalid")
        self.assertProblems(r, ["ocsp-invalid"])
        p = self.assertProblem(r, "ocsp-invalid", severity="warning", cert_index=0)
        self.assertIn("stale", p["message"])
        self.assertIn(minute(at - DAY), p["message"], "says when the update was due")
        self.check_stapled(r, "good", True)

    def test_staple_signed_by_an_unrelated_key_is_ocsp_invalid_not_signed(self):
        r = probe(target(self.rogue), *trust_root())
        self.assertOutcome(r, 1, "warning", "ocsp-invalid")
        self.assertProblems(r, ["ocsp-invalid"])
        p = self.assertProblem(r, "ocsp-invalid", severity="warning", cert_index=0)
        self.assertIn("not signed", p["message"])
        self.check_stapled(r, "good", False)

    # -- the same responses stapled by gnutls-serv --------------------------
    def gnutls_staple(self, resp):
        try:
            return self.server(harness.gnutls_serv(
                F.leaf.chain, F.leaf.key,
                extra=["--disable-client-cert", "--ocsp-response", resp]))
        except RuntimeError as e:
            raise unittest.SkipTest("gnutls-serv refuses to staple this response (%s)"
                                    % str(e).strip().splitlines()[-1].rsplit(": ", 1)[-1])

    def test_gnutls_serv_good_staple(self):
        srv = self.gnutls_staple(D.ocsp_good)
        r = probe(target(srv), *trust_root(), "--ocsp-required")
        self.assertOutcome(r, 0, "ok", None)
        o = self.check_stapled(r, "good", True)
        self.assertEqual((o["this_update"], o["next_update"]), ocsp_facts(D.ocsp_good))

    # No gnutls-serv test for a "revoked" staple: gnutls-serv 3.7 refuses to
    # load such a response ("The session or certificate has expired"); the
    # openssl s_server tests above cover it.

    def test_gnutls_serv_rogue_staple(self):
        srv = self.gnutls_staple(D.ocsp_rogue)
        r = probe(target(srv), *trust_root())
        self.assertOutcome(r, 1, "warning", "ocsp-invalid")
        self.assertIn("not signed", self.assertProblem(r, "ocsp-invalid", cert_index=0)["message"])
        self.check_stapled(r, "good", False)


# --------------------------------------------------------------------------
# expires-soon on the intermediate
# --------------------------------------------------------------------------

class IntermediateExpiresSoon(DepthCase):
    """short_inter ends at now+60d, its leaf at now+365d.  The leaf outlives its
    issuer, which tlsprobe may report too (outlives-issuer)."""

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(harness.s_server(D.shorti.cert, D.shorti.key,
                                                    chain=D.short_inter.cert))

    def test_intermediate_inside_warn_days_is_expires_soon_on_cert_1(self):
        r = probe(target(self.srv), *trust_root(),
                  "--at", at_epoch(D.short_inter.not_after - 20 * DAY - HOUR))
        self.assertEqual((r.rc, r.obj["status"]), (1, "warning"), dump(r.obj))
        self.assertIn(r.obj["reason"], ("expires-soon", "outlives-issuer"))
        self.assertOnlyProblems(r, ["expires-soon"], allowed=["outlives-issuer"])
        self.assertEqual(len(self.problems(r, "expires-soon")), 1, "not on the leaf too")
        p = self.assertProblem(r, "expires-soon", severity="warning", cert_index=1)
        self.assertIn(SHORT_INTER_CN, p["message"])
        self.assertIn("in 20 days", p["message"])
        self.assertEqual(r.obj["chain"][1]["days_remaining"], 20)
        self.assertGreater(self.leaf(r)["days_remaining"], 30)
        self.assertIs(r.obj["verify"]["trusted"], True)

    def test_intermediate_inside_crit_days_is_critical_on_cert_1(self):
        r = probe(target(self.srv), *trust_root(),
                  "--at", at_epoch(D.short_inter.not_after - 5 * DAY + HOUR))
        self.assertOutcome(r, 2, "critical", "expires-soon")
        self.assertFirstProblem(r, "expires-soon", 1)

    def test_intermediate_expired_is_expired_on_cert_1(self):
        r = probe(target(self.srv), *trust_root(),
                  "--at", at_epoch(D.short_inter.not_after + DAY))
        self.assertOutcome(r, 2, "critical", "expired")
        self.assertFirstProblem(r, "expired", 1)
        self.assertEqual(len(self.problems(r, "expired")), 1, "the leaf is still valid")


# --------------------------------------------------------------------------
# no-shared-cipher and protocol-version: the second look
# --------------------------------------------------------------------------

class NoSharedCipher(DepthCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(harness.s_server(
            F.leaf.cert, F.leaf.key, chain=F.inter.cert,
            extra=["-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_8_SHA256"]))

    def test_ccm8_only_server_is_no_shared_cipher_naming_the_suite(self):
        r = probe(target(self.srv), *trust_root())
        self.assertError(r, "no-shared-cipher")
        e = r.obj["error"]
        self.assertIn("TLS_AES_128_CCM_8_SHA256", e["message"])
        self.assertIn("--priority", e["fix"])
        self.assertIn("AES-128-CCM-8", e["fix"])

    def test_the_suggested_priority_connects(self):
        r = probe(target(self.srv), *trust_root())
        m = re.search(r"--priority '([^']+)'", r.obj["error"]["fix"])
        self.assertIsNotNone(m, dump(r.obj))
        r = probe(target(self.srv), *trust_root(), "--priority", m.group(1))
        self.assertOutcome(r, 0, "ok", None)
        self.assertEqual(r.obj["tls"]["cipher"], "TLS_AES_128_CCM_8_SHA256")
        self.assertIs(r.obj["verify"]["trusted"], True)


def openssl_speaks(srv, flag):
    """Whether openssl s_client completes a handshake with flag (e.g. -tls1)."""
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port, flag,
                        "-cipher", "DEFAULT@SECLEVEL=0"], input=b"", stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=20)
    return p.returncode == 0 and b"Cipher is (NONE)" not in p.stdout


class ProtocolVersion(DepthCase):
    @classmethod
    def setUpClass(cls):
        cls.tls12 = cls.class_server(harness.s_server(F.leaf.cert, F.leaf.key,
                                                      chain=F.inter.cert, extra=["-tls1_2"]))
        cls.tls10 = cls.class_server(harness.s_server(
            F.leaf.cert, F.leaf.key, chain=F.inter.cert,
            extra=["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"]))
        cls.tls10_ok = openssl_speaks(cls.tls10, "-tls1")

    def test_tls12_server_with_tls_min_13_says_what_the_server_chose(self):
        r = probe(target(self.tls12), *trust_root(), "--tls-min", "1.3")
        self.assertError(r, "protocol-version")
        e = r.obj["error"]
        self.assertIn("chose TLSv1.2", e["message"])
        self.assertIn("--tls-min 1.2", e["fix"])

    def test_tls12_server_with_the_suggested_tls_min_connects(self):
        r = probe(target(self.tls12), *trust_root(), "--tls-min", "1.2")
        self.assertOutcome(r, 0, "ok", None)
        self.assertEqual(r.obj["tls"]["version"], "TLSv1.2")

    def test_tls10_only_server_is_refused_by_default(self):
        if not self.tls10_ok:
            self.skipTest("openssl here cannot speak TLS 1.0 even at SECLEVEL=0")
        r = probe(target(self.tls10), *trust_root())
        self.assertError(r, "protocol-version")
        e = r.obj["error"]
        self.assertIn("TLSv1.0", e["message"])
        self.assertIn("refuses by default", e["message"])
        self.assertIn("--tls-min 1.0", e["fix"])

    def test_tls10_only_server_with_tls_min_10_connects(self):
        if not self.tls10_ok:
            self.skipTest("openssl here cannot speak TLS 1.0 even at SECLEVEL=0")
        r = probe(target(self.tls10), *trust_root(), "--tls-min", "1.0")
        if r.obj["error"] and r.obj["error"]["code"] in ("protocol-version", "handshake-failure",
                                                         "no-shared-cipher"):
            self.skipTest("GnuTLS here refuses TLS 1.0 even when asked: %s"
                          % r.obj["error"]["message"])
        # it connects, and says that current clients would not
        self.assertOutcome(r, 2, "critical", "obsolete-protocol")
        self.assertEqual(r.obj["tls"]["version"], "TLSv1.0")
        p = self.assertProblem(r, "obsolete-protocol", severity="critical")
        self.assertIn("TLSv1.0", p["message"])
        self.assertNotIn("gnutls", p["refused_by"], dump(r.obj))
        self.assertIn("openssl", p["refused_by"], dump(r.obj))


# --------------------------------------------------------------------------
# exact classification when the server also sends extras
# --------------------------------------------------------------------------

class ClassificationWithExtras(DepthCase):
    def serve(self, info, chain=None):
        return self.server(harness.s_server(info.cert, info.key, chain=chain))

    def test_untrusted_root_with_a_duplicate_intermediate(self):
        srv = self.serve(F.leaf, D.cat("inter-inter.pem", F.inter.cert, F.inter.cert))
        r = probe(target(srv), "--no-system-ca")
        self.assertOutcome(r, 2, "critical", "untrusted-root")
        p = self.assertFirstProblem(r, "untrusted-root", 1)
        self.assertIn(harness.ROOT_CN, p["message"])
        self.assertProblems(r, ["untrusted-root", "chain-order"])
        self.assertIn("sent twice", self.assertProblem(r, "chain-order", cert_index=2)["message"])

    def test_missing_intermediate_with_an_unrelated_ca(self):
        srv = self.serve(F.leaf, F.rogue_ca.cert)
        r = probe(target(srv), *trust_root())
        self.assertOutcome(r, 2, "critical", "missing-intermediate")
        p = self.assertFirstProblem(r, "missing-intermediate", 0)
        self.assertIn(harness.INTER_CN, p["message"])
        self.assertProblems(r, ["missing-intermediate", "chain-order"])
        self.assertIn("belongs to no path",
                      self.assertProblem(r, "chain-order", cert_index=1)["message"])

    def test_self_signed_leaf_with_an_unrelated_ca(self):
        srv = self.serve(F.selfsigned, F.rogue_ca.cert)
        r = probe(target(srv), "--no-system-ca")
        self.assertOutcome(r, 2, "critical", "self-signed")
        self.assertFirstProblem(r, "self-signed", 0)
        self.assertProblems(r, ["self-signed", "chain-order"])

    def test_root_as_the_only_certificate_is_self_signed(self):
        # a self-signed CA certificate (keyUsage allows signing the handshake)
        # served alone; it has no SAN for localhost either
        srv = self.serve(D.served_root)
        r = probe(target(srv), "--no-system-ca")
        self.assertOutcome(r, 2, "critical", "self-signed")
        self.assertFirstProblem(r, "self-signed", 0)
        self.assertProblems(r, ["self-signed", "hostname-mismatch"])
        self.assertIs(self.leaf(r)["is_ca"], True)
        self.assertIs(self.leaf(r)["self_signed"], True)
        self.assertIn(SERVED_ROOT_CN,
                      self.assertProblem(r, "hostname-mismatch", cert_index=0)["message"])

    def test_root_ca_without_digital_signature_as_the_only_certificate(self):
        # The test root (keyUsage keyCertSign,cRLSign only) served as the
        # server certificate: GnuTLS aborts the TLS 1.3 handshake ("Key usage
        # violation"), OpenSSL says "unsuitable certificate purpose".  The
        # cause is the certificate, so the fix must say what to change in it.
        srv = self.serve(F.root)
        r = probe(target(srv), "--no-system-ca")
        self.assertEqual((r.rc, r.obj["status"]), (2, "critical"), dump(r.obj))
        what = r.obj["error"] or self.assertFirstProblem(r, r.obj["reason"], 0)
        self.assertRegex(what["message"], "(?i)key ?usage")
        self.assertRegex(what["fix"], "(?i)key ?usage|digitalSignature",
                         "the fix should point at the certificate's keyUsage\n" + dump(r.obj))


# --------------------------------------------------------------------------
# cross-signed roots: the path stops at the first issuer the store trusts
# --------------------------------------------------------------------------

class CrossSigned(DepthCase):
    """leaf -> new_inter -> a cross-signature of new_root by the old root, the
    way a CA moving to a new root serves its chain."""

    def serve(self, cross):
        chain = D.cat(os.path.basename(cross.cert) + "-served.pem", D.new_inter.cert, cross.cert)
        return self.server(harness.s_server(D.new_leaf.cert, D.new_leaf.key, chain=chain))

    def trusting(self, root):
        return ("--ca-file", root.cert, "--no-system-ca")

    def test_valid_cross_signature_verifies_from_either_root(self):
        srv = self.serve(D.cross)
        for root in (D.new_root, F.root):
            r = probe(target(srv), *self.trusting(root))
            self.assertOutcome(r, 0, "ok", None)
            self.assertEqual(r.obj["verify"]["problems"], [], dump(r.obj))

    def test_expired_cross_signature_is_skipped_by_clients_that_trust_the_new_root(self):
        # the old Let's Encrypt chain: clients that trust the new root stop
        # there and never look at the expired cross-signature
        srv = self.serve(D.cross_expired)
        r = probe(target(srv), *self.trusting(D.new_root))
        self.assertOutcome(r, 1, "warning", "chain-order")
        self.assertIs(r.obj["verify"]["trusted"], True, dump(r.obj))
        self.assertProblems(r, ["chain-order"])
        p = self.assertProblem(r, "chain-order", cert_index=2)
        self.assertIn("cross-signed", p["message"])
        self.assertIn("expired on", p["message"])
        self.assertIn(harness.ROOT_CN, p["message"])
        self.assertIn("Drop certificate #2", p["fix"])

    def test_expired_cross_signature_fails_clients_that_trust_only_the_old_root(self):
        srv = self.serve(D.cross_expired)
        r = probe(target(srv), *self.trusting(F.root))
        self.assertOutcome(r, 2, "critical", "expired")
        p = self.assertFirstProblem(r, "expired", 2)
        self.assertIn("CA certificate", p["fix"])
        self.assertNotIn("certbot", p["fix"])

    def test_a_trusted_intermediate_sent_in_band_is_judged(self):
        # the store trusts the intermediate itself; the server sends it, expired
        srv = self.server(harness.s_server(D.old_leaf.cert, D.old_leaf.key, chain=D.old_inter.cert))
        r = probe(target(srv), "--ca-file", D.old_inter.cert, "--no-system-ca")
        self.assertOutcome(r, 2, "critical", "expired")
        self.assertFirstProblem(r, "expired", 1)
        self.assertNotIn("chain-order", [p["code"] for p in r.obj["verify"]["problems"]])

    def test_another_root_of_the_trusted_name_sent_in_band_is_an_extra(self):
        # leaf, intermediate, then a root with the trusted root's name and another key
        chain = D.cat("inter-fake-root.pem", F.inter.cert, D.fake_root.cert)
        srv = self.server(harness.s_server(F.leaf.cert, F.leaf.key, chain=chain))
        r = probe(target(srv), *trust_root())
        self.assertOutcome(r, 1, "warning", "chain-order")
        self.assertIs(r.obj["verify"]["trusted"], True, dump(r.obj))
        self.assertProblems(r, ["chain-order"])
        m = self.assertProblem(r, "chain-order", cert_index=2)["message"]
        self.assertIn("not the '%s' in the trust store" % harness.ROOT_CN, m)
        self.assertIn("not the key that signed the chain", m)

    def test_name_encoded_differently_still_links(self):
        # the same name as PrintableString instead of UTF8String: GnuTLS and
        # OpenSSL compare names ignoring the string type, and so must tlsprobe
        parsed = openssl("asn1parse", "-in", D.cross_printable.cert).decode()
        self.assertIn("PRINTABLESTRING   :%s" % NEW_ROOT_CN, parsed)
        self.assertIn("UTF8STRING        :%s" % NEW_ROOT_CN,
                      openssl("asn1parse", "-in", D.new_inter.cert).decode())
        srv = self.serve(D.cross_printable)
        r = probe(target(srv), *self.trusting(F.root))
        self.assertOutcome(r, 0, "ok", None)
        self.assertEqual(r.obj["verify"]["problems"], [], dump(r.obj))


# --------------------------------------------------------------------------
# constraints a CA puts on what is below it: names, path length
# --------------------------------------------------------------------------

class Constraints(DepthCase):
    def serve(self, info, issuer=None):
        return self.server(harness.s_server(info.cert, info.key,
                                            chain=issuer.cert if issuer else None))

    def test_intermediate_name_constraints_name_the_ca_and_the_names(self):
        r = probe(target(self.serve(D.nc_leaf, D.nc_inter)), *trust_root())
        self.assertOutcome(r, 2, "critical", "name-constraints")
        m = self.assertFirstProblem(r, "name-constraints", 1)["message"]
        self.assertIn("tlsprobe Constrained CA", m)
        self.assertIn("'.corp.test'", m)
        self.assertIn("'localhost'", m)
        self.assertNotIn("127.0.0.1", m, "addresses are not constrained by a DNS subtree")
        self.assertNotIn("verify-failed", [p["code"] for p in r.obj["verify"]["problems"]])

    def test_long_name_lists_end_with_how_many_more(self):
        srv = self.serve(D.nc_many, D.nc_inter)
        r = probe(target(srv), *trust_root())
        m = self.assertFirstProblem(r, "name-constraints", 1)["message"]
        self.assertRegex(m, r"'host\d+\.example\.test' and \d+ more$")
        self.assertLess(len(m), 1000)
        m = self.assertProblem(r, "hostname-mismatch", cert_index=0)["message"]
        self.assertRegex(m, r"host\d+\.example\.test and \d+ more$")
        self.assertLess(len(m), 1200)

    def test_trusted_root_name_constraints(self):
        r = probe(target(self.serve(D.nc_root_leaf)), "--ca-file", D.nc_root.cert,
                  "--no-system-ca")
        self.assertOutcome(r, 2, "critical", "name-constraints")
        p = self.assertProblem(r, "name-constraints", cert_index=None)
        self.assertIn("trusted root 'tlsprobe Constrained Root'", p["message"])
        self.assertIn("excludes 'bad.corp.test'", p["message"])

    def test_trusted_root_pathlen(self):
        r = probe(target(self.serve(D.pl0_leaf, D.pl0_inter)), "--ca-file", D.pl0_root.cert, "--no-system-ca")
        self.assertOutcome(r, 2, "critical", "pathlen-exceeded")
        p = self.assertProblem(r, "pathlen-exceeded", cert_index=None)
        self.assertIn("trusted root 'tlsprobe Pathlen 0 Root'", p["message"])
        self.assertIn("pathlen:0", p["message"])

    def openssl_verify(self, leaf, *untrusted):
        """openssl verify's word on leaf, the pathlen:0 root trusted: (ok, output)."""
        chain = D.cat(os.path.basename(leaf.cert) + "-untrusted.pem", *[u.cert for u in untrusted])
        p = subprocess.run(["openssl", "verify", "-CAfile", D.pl0_root.cert, "-untrusted", chain, leaf.cert],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        return p.returncode == 0, p.stdout

    def test_self_issued_rekey_does_not_count_against_pathlen(self):
        # RFC 5280 6.1.4 (l): OpenSSL accepts; GnuTLS counts the re-key and
        # refuses, and tlsprobe says that refusal is GnuTLS's.
        ok, out = self.openssl_verify(D.pl0_rekey_leaf, D.pl0_rekey)
        self.assertTrue(ok, out)
        srv = self.server(harness.s_server(D.pl0_rekey_leaf.cert, D.pl0_rekey_leaf.key,
                                           chain=D.pl0_rekey.cert))
        r = probe(target(srv), "--ca-file", D.pl0_root.cert, "--no-system-ca")
        self.assertProblems(r, ["pathlen-exceeded"])
        m = self.assertProblem(r, "pathlen-exceeded", cert_index=None)["message"]
        self.assertIn("GnuTLS counts the self-issued certificate #1 'tlsprobe Pathlen 0 Root' against the "
                      "pathlen of the trusted root 'tlsprobe Pathlen 0 Root' (pathlen:0), which RFC 5280 "
                      "6.1.4 does not; OpenSSL accepts the chain", m)
        self.assertNotIn("but the chain has", m)

    def test_intermediate_under_a_self_issued_rekey_counts_against_pathlen(self):
        ok, out = self.openssl_verify(D.pl0_rekey_inter_leaf, D.pl0_rekey_inter, D.pl0_rekey)
        self.assertFalse(ok, out)
        self.assertIn("path length constraint exceeded", out)
        chain = D.cat("pl0_rekey_inter-served.pem", D.pl0_rekey_inter.cert, D.pl0_rekey.cert)
        srv = self.server(harness.s_server(D.pl0_rekey_inter_leaf.cert, D.pl0_rekey_inter_leaf.key,
                                           chain=chain))
        r = probe(target(srv), "--ca-file", D.pl0_root.cert, "--no-system-ca")
        self.assertOutcome(r, 2, "critical", "pathlen-exceeded")
        self.assertProblems(r, ["pathlen-exceeded"])
        m = self.assertProblem(r, "pathlen-exceeded", cert_index=None)["message"]
        self.assertIn("the trusted root 'tlsprobe Pathlen 0 Root' allows 0 CAs below it (pathlen:0), but "
                      "the chain has 1", m)


class Wildcard(DepthCase):
    """A wildcard stands for one label: the message says so when a name
    misses it by a label, and not otherwise."""

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(harness.s_server(D.wildcard.cert, D.wildcard.key,
                                                    chain=F.inter.cert))

    def check(self, name):
        return probe("127.0.0.1:%d" % self.srv.port, "--sni", name, *trust_root())

    def test_one_label_matches(self):
        self.assertOutcome(self.check("www.example.test"), 0, "ok", None)

    def test_two_labels_and_the_bare_domain_are_explained(self):
        for name in ("a.b.example.test", "example.test"):
            r = self.check(name)
            self.assertOutcome(r, 2, "critical", "hostname-mismatch")
            m = self.assertFirstProblem(r, "hostname-mismatch", 0)["message"]
            self.assertIn("exactly one label", m)
            self.assertIn("not '%s'" % name, m)

    def test_an_unrelated_name_gets_no_wildcard_lesson(self):
        r = self.check("other.test")
        self.assertOutcome(r, 2, "critical", "hostname-mismatch")
        self.assertNotIn("label", self.assertFirstProblem(r, "hostname-mismatch", 0)["message"])


class MustStaple(DepthCase):
    def test_must_staple_without_a_staple_is_ocsp_missing(self):
        # gnutls-cli refuses this server; so must tlsprobe, without --ocsp-required
        srv = self.server(harness.s_server(D.must_staple.cert, D.must_staple.key,
                                           chain=F.inter.cert))
        r = probe(target(srv), *trust_root())
        self.assertOutcome(r, 2, "critical", "ocsp-missing")
        p = self.assertFirstProblem(r, "ocsp-missing", 0)
        self.assertIn("Must-Staple", p["message"])
        self.assertIn("without Must-Staple", p["fix"])

    def test_must_staple_offline_is_not_a_problem(self):
        # a certificate file has no server that could staple
        rc, out, err, _ = harness.run_tlsprobe("cert", D.must_staple.cert, "--json")
        self.assertNotIn("ocsp-missing", out, out + err)


class VersionOneIntermediate(DepthCase):
    def test_v1_intermediate_is_issuer_not_ca_and_says_why(self):
        srv = self.server(harness.s_server(D.v1_leaf.cert, D.v1_leaf.key, chain=D.v1_inter))
        r = probe(target(srv), *trust_root())
        self.assertOutcome(r, 2, "critical", "issuer-not-ca")
        m = self.assertFirstProblem(r, "issuer-not-ca", 1)["message"]
        self.assertIn("X.509 version 1", m)


class LeafKeyUsage(DepthCase):
    def test_rsa_key_exchange_needs_key_encipherment(self):
        srv = self.server(harness.s_server(D.rsa_sign_only.cert, D.rsa_sign_only.key, chain=F.inter.cert,
                                           extra=["-tls1_2", "-cipher", "AES128-GCM-SHA256"]))
        r = probe(target(srv), *trust_root())
        self.assertOutcome(r, 2, "critical", "purpose-mismatch")
        self.assertIn("RSA key exchange", r.obj["error"]["message"])
        self.assertIn("no keyUsage keyEncipherment", r.obj["error"]["message"])
        self.assertIn("keyEncipherment", r.obj["error"]["fix"])

    def test_leaf_without_digital_signature_names_its_key_usage(self):
        srv = self.server(harness.s_server(D.encipher.cert, D.encipher.key, chain=F.inter.cert))
        r = probe(target(srv), *trust_root())
        self.assertOutcome(r, 2, "critical", "purpose-mismatch")
        self.assertIn("keyUsage without digitalSignature (keyEncipherment only)", r.obj["error"]["message"])
        self.assertIn("Reissue the certificate with keyUsage digitalSignature", r.obj["error"]["fix"])


# --------------------------------------------------------------------------
# --ca-file explanations
# --------------------------------------------------------------------------

class CaFileExplanations(DepthCase):
    @classmethod
    def setUpClass(cls):
        cls.leaf_only = cls.class_server(harness.s_server(F.leaf.cert, F.leaf.key))
        cls.with_inter = cls.class_server(harness.s_server(F.leaf.cert, F.leaf.key,
                                                           chain=F.inter.cert))
        cls.with_root = cls.class_server(harness.s_server(F.leaf.cert, F.leaf.key,
                                                          chain=F.inter_root))

    def test_missing_intermediate_says_what_the_ca_file_holds(self):
        r = probe(target(self.leaf_only), *trust_root())
        self.assertOutcome(r, 2, "critical", "missing-intermediate")
        p = self.assertFirstProblem(r, "missing-intermediate", 0)
        self.assertIn("the --ca-file holds '%s'" % harness.ROOT_CN, p["message"])
        self.assertIn(harness.INTER_CN, p["message"])

    def test_ca_file_root_of_the_same_name_but_another_key(self):
        self.assertEqual(D.fake_root.subject, F.root.subject)
        r = probe(target(self.with_inter), "--ca-file", D.fake_root.cert, "--no-system-ca")
        self.assertOutcome(r, 2, "critical", "untrusted-root")
        self.assertProblems(r, ["untrusted-root"])
        p = self.assertFirstProblem(r, "untrusted-root", 1)
        self.assertIn("same name, different key", p["message"])
        self.assertIn("--ca-file", p["message"])
        self.assertIn(harness.ROOT_CN, p["message"])

    def test_ca_file_with_the_intermediate_is_an_anchor_for_gnutls(self):
        for srv in (self.leaf_only, self.with_inter, self.with_root):
            r = probe(target(srv), "--ca-file", F.inter.cert, "--no-system-ca")
            self.assertOutcome(r, 0, "ok", None)

    def test_ca_file_with_the_intermediate_when_the_chain_goes_on_past_it(self):
        # leaf, intermediate, then a cross-signature of its root: GnuTLS does
        # not stop at the trusted intermediate, and fails; the report says the
        # file holds the intermediate, not the root
        chain = D.cat("new-inter-cross.pem", D.new_inter.cert, D.cross.cert)
        srv = self.server(harness.s_server(D.new_leaf.cert, D.new_leaf.key, chain=chain))
        r = probe(target(srv), "--ca-file", D.new_inter.cert, "--no-system-ca")
        self.assertOutcome(r, 2, "critical", "untrusted-root")
        p = self.assertFirstProblem(r, "untrusted-root", 1)
        self.assertIn("the --ca-file holds '%s' itself, an intermediate CA" % NEW_INTER_CN, p["message"])
        self.assertIn("root CA '%s'" % NEW_ROOT_CN, p["fix"])

    def test_ca_file_root_of_the_same_name_when_the_server_sends_its_root(self):
        # as above, but the server also sends the real root: the explanation
        # must still be that the --ca-file holds another key under that name
        r = probe(target(self.with_root), "--ca-file", D.fake_root.cert, "--no-system-ca")
        self.assertOutcome(r, 2, "critical", "untrusted-root")
        p = self.assertFirstProblem(r, "untrusted-root", 2)
        self.assertIn("same name, different key", p["message"])


# --------------------------------------------------------------------------
# signature-failure: the wrong intermediate under the right name
# --------------------------------------------------------------------------

class WrongIntermediateSameName(DepthCase):
    """twin_inter has the intermediate's exact subject DN and another key; it is
    a real CA by the trusted root (an old intermediate after a re-key)."""

    def check(self, leaf):
        self.assertEqual(D.twin_inter.subject, F.inter.subject)
        with harness.s_server(leaf.cert, leaf.key, chain=D.twin_inter.cert) as s:
            r = probe(target(s), *trust_root())
        self.assertOutcome(r, 2, "critical", "signature-failure")
        p = self.assertFirstProblem(r, "signature-failure", 0)
        self.assertIn("same name, different key", p["message"])
        self.assertIn(harness.INTER_CN, p["message"])
        self.assertIn("#1", p["message"])
        self.assertEqual(self.problems(r, "missing-intermediate"), [])
        self.assertIs(r.obj["verify"]["trusted"], False)
        return r

    def test_leaf_without_key_identifiers(self):
        r = self.check(D.noaki)
        # a leaf without authorityKeyIdentifier breaks RFC 5280 too (a warning)
        self.assertProblems(r, ["signature-failure", "profile-violation"])
        self.assertProblem(r, "profile-violation", severity="warning")

    def test_leaf_with_an_authority_key_identifier(self):
        # the leaf's AKI names the real intermediate's key, not twin_inter's
        r = self.check(F.leaf)
        self.assertOnlyProblems(r, ["signature-failure"], allowed=["key-id-mismatch"])


# --------------------------------------------------------------------------
# ordering: most severe first, the verdict is the critical one
# --------------------------------------------------------------------------

class ProblemOrder(DepthCase):
    @classmethod
    def setUpClass(cls):
        # wrong host name (critical) + out-of-order chain and expiry (warnings);
        # tlsprobe finds the chain order before it checks the name
        cls.srv = cls.class_server(harness.s_server(
            F.wronghost.cert, F.wronghost.key,
            chain=D.cat("root-inter-2.pem", F.root.cert, F.inter.cert)))
        cls.at = at_epoch(F.wronghost.not_after - 20 * DAY)

    def test_critical_first_and_verdict_is_the_critical_one(self):
        r = probe(target(self.srv), *trust_root(), "--at", self.at)
        self.assertOutcome(r, 2, "critical", "hostname-mismatch")
        self.assertProblems(r, ["hostname-mismatch", "chain-order", "expires-soon"])
        sev = [p["severity"] for p in r.obj["verify"]["problems"]]
        self.assertEqual(sev, ["critical", "warning", "warning"], dump(r.obj))
        self.assertFirstProblem(r, "hostname-mismatch", 0)

    def test_text_verdict_names_the_critical_one(self):
        rc, out, err, _ = run_tlsprobe(target(self.srv), *trust_root(), "--at", self.at, "-q",
                                       "--color", "never")
        self.assertEqual(rc, 2, out + err)
        first = out.splitlines()[0]
        self.assertTrue(first.startswith("CRITICAL"), first)
        # the warnings are not counted as "and N more" (only equally severe ones are)
        self.assertTrue(first.endswith("(hostname-mismatch)"), first)

    def test_without_the_critical_one_the_warnings_decide(self):
        # the same chain order and expiry for the right name: warning, exit 1
        with harness.s_server(F.leaf.cert, F.leaf.key,
                              chain=D.cat("root-inter-3.pem", F.root.cert, F.inter.cert)) as s:
            r = probe(target(s), *trust_root(), "--at", at_epoch(F.leaf.not_after - 20 * DAY))
        self.assertEqual((r.rc, r.obj["status"]), (1, "warning"), dump(r.obj))
        self.assertProblems(r, ["chain-order", "expires-soon"])
        self.assertIn(r.obj["reason"], ("chain-order", "expires-soon"))


# --------------------------------------------------------------------------
# the trusted root's own dates: the server does not send it
# --------------------------------------------------------------------------

class ExpiredTrustedRoot(DepthCase):
    """er_leaf is valid; the root in the --ca-file that issued it expired 10
    days ago.  curl, Python and gnutls-cli refuse the chain."""

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(harness.s_server(D.er_leaf.cert, D.er_leaf.key))

    def test_expired_trusted_root_is_expired_without_a_cert_index(self):
        r = probe(target(self.srv), "--ca-file", D.expired_root.cert, "--no-system-ca")
        self.assertOutcome(r, 2, "critical", "expired")
        p = self.assertFirstProblem(r, "expired", None)
        self.assertIn("the trusted root '%s' (in the --ca-file) expired on %s, 10 days ago"
                      % (EXPIRED_ROOT_CN, minute(D.expired_root.not_after)), p["message"])
        self.assertIn("Replace the root '%s' in the --ca-file" % EXPIRED_ROOT_CN, p["fix"])
        self.assertEqual(len(self.problems(r, "expired")), 1, "the leaf is valid")
        self.assertIs(r.obj["verify"]["trusted"], False)

    def test_real_clients_refuse_it(self):
        port = self.srv.port
        self.assertNotEqual(gnutls_cli(port, D.expired_root.cert).rc, 0)
        with self.assertRaises(ssl.SSLCertVerificationError) as e:
            https_get(port, client_context(ca=D.expired_root.cert))
        self.assertIn("expired", str(e.exception))

    def test_renewed_root_of_the_same_key_beside_it_is_ok(self):
        both = D.cat("expired-and-renewed.pem", D.expired_root.cert, D.renewed_root.cert)
        r = probe(target(self.srv), "--ca-file", both, "--no-system-ca")
        self.assertOutcome(r, 0, "ok", None)
        self.assertIs(r.obj["verify"]["trusted"], True)
        # as Python's ssl (OpenSSL) does
        self.assertEqual(https_get(self.srv.port, client_context(ca=both)).status, 200)

    def test_root_expiring_within_crit_days_is_critical_expires_soon(self):
        r = probe(target(self.srv), "--ca-file", D.expired_root.cert, "--no-system-ca",
                  "--at", at_epoch(D.expired_root.not_after - 5 * DAY - HOUR))
        self.assertOutcome(r, 2, "critical", "expires-soon")
        p = self.assertFirstProblem(r, "expires-soon", None)
        self.assertIn("the trusted root '%s' (in the --ca-file) expires on %s, in 5 days"
                      % (EXPIRED_ROOT_CN, minute(D.expired_root.not_after)), p["message"])

# --------------------------------------------------------------------------
# key-id-mismatch: the right key, the wrong authorityKeyIdentifier
# --------------------------------------------------------------------------

class WrongAuthorityKeyId(DepthCase):
    """aki_leaf is signed by the intermediate's key, but names its issuer's key
    by another identifier; the server sends it with the real intermediate."""

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(harness.s_server(D.aki_leaf.cert, D.aki_leaf.key,
                                                    chain=F.inter.cert))

    def test_is_critical_key_id_mismatch_not_a_wrong_key(self):
        r = probe(target(self.srv), *trust_root())
        self.assertOutcome(r, 2, "critical", "key-id-mismatch")
        self.assertOnlyProblems(r, ["key-id-mismatch"])
        p = self.assertFirstProblem(r, "key-id-mismatch", 0)
        self.assertIn("names its issuer's key by an identifier that is not the subjectKeyIdentifier of '%s'"
                      % harness.INTER_CN, p["message"])
        self.assertIn("that certificate's key did sign it", p["message"])

    def test_real_clients_refuse_it(self):
        self.assertNotEqual(gnutls_cli(self.srv.port, F.root.cert).rc, 0)
        with self.assertRaises(ssl.SSLCertVerificationError):
            https_get(self.srv.port, client_context(ca=F.root.cert))


if __name__ == "__main__":
    unittest.main()
