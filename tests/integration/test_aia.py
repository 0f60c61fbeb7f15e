"""A missing intermediate downloaded from the URL its certificate names
(AIA caIssuers), as Chrome does: the chain completes or not, and says so;
DER, PEM and PKCS #7 answers; two levels; answers that fail (404, garbage,
the wrong certificate, silence past --timeout); --offline; and
--write-fullchain, whose file then verifies. The certificates are made
here with openssl, served by `openssl s_server` and the issuers by a small
HTTP server of the test's on loopback."""
import os
import unittest

import harness
from harness import ProbeCase, dump, openssl, run_tlsprobe
from harness.pki import Pki, ca_ext, leaf_ext, subject

P = None
HTTP = None


def setUpModule():
    global P, HTTP
    # the issuers' URLs; /silent never answers
    HTTP = harness.HttpRoutes({"/silent": None})
    P = AiaFixtures(harness.new_dir("aia-"), HTTP.port)


def tearDownModule():
    if HTTP is not None:
        HTTP.stop()


def der(cert):
    return openssl("x509", "-in", cert, "-outform", "DER")


class AiaFixtures(Pki):
    """root -> inter -> leaf, the leaf's AIA naming /inter.der on the test's
    server; leaves whose AIA names the other forms and failures; and root ->
    top -> mid -> deep_leaf, where deep_leaf names /mid.der and mid /top.der."""

    def __init__(self, directory, port):
        super().__init__(directory)
        url = "http://127.0.0.1:%d/" % port
        self.root = self.issue("root", subject("AIA Test Root"), ca_ext(), days=3650)
        self.inter = self.issue("inter", subject("AIA Test Intermediate"), ca_ext(), self.root, days=1000)
        self.other = self.issue("other", subject("AIA Unrelated CA"), ca_ext(), None, days=1000)
        self.leaves = {}
        for name in ("der", "pem", "p7c", "missing", "garbage", "wrong", "silent", "ldap"):
            uri = "ldap://127.0.0.1/cn=x" if name == "ldap" else url + name
            self.leaves[name] = self.issue("leaf_" + name, subject("localhost"), leaf_ext(
                san="DNS:localhost", extra=["authorityInfoAccess = caIssuers;URI:" + uri]), self.inter, days=300)
        self.top = self.issue("top", subject("AIA Test Top CA"), ca_ext(), self.root, days=1000)
        self.mid = self.issue("mid", subject("AIA Test Mid CA"), ca_ext(
            extra=["authorityInfoAccess = caIssuers;URI:%stop.der" % url]), self.top, days=1000)
        self.deep = self.issue("deep_leaf", subject("localhost"), leaf_ext(
            san="DNS:localhost", extra=["authorityInfoAccess = caIssuers;URI:%smid.der" % url]), self.mid,
            days=300)
        openssl("crl2pkcs7", "-nocrl", "-certfile", self.inter.cert, "-outform", "DER", "-out", self.p("inter.p7c"))
        with open(self.p("inter.p7c"), "rb") as f:
            p7c = f.read()
        with open(self.inter.cert, "rb") as f:
            pem = f.read()
        HTTP.routes.update({
            "/der": (200, der(self.inter.cert)),
            "/pem": (200, pem),
            "/p7c": (200, p7c),
            "/garbage": (200, b"\x00\x01 this is not a certificate"),
            "/wrong": (200, der(self.other.cert)),
            "/mid.der": (200, der(self.mid.cert)),
            "/top.der": (200, der(self.top.cert)),
        })


class Aia(ProbeCase):
    @classmethod
    def setUpClass(cls):
        cls.servers = {name: cls.class_server(harness.s_server(c.cert, c.key)) for name, c in P.leaves.items()}
        cls.servers["deep"] = cls.class_server(harness.s_server(P.deep.cert, P.deep.key))
        cls.servers["full"] = cls.class_server(harness.s_server(P.leaves["der"].cert, P.leaves["der"].key,
                                                                chain=P.inter.cert))

    def probe(self, name, *extra):
        return harness.probe_json("localhost:%d" % self.servers[name].port, "--ca-file", P.root.cert,
                                  "--no-system-ca", *extra)

    def chrome(self, r):
        return [c for c in r.obj["clients"] if c["name"] == "chrome"][0]

    def test_a_downloaded_issuer_completes_the_chain_in_each_form(self):
        for form in ("der", "pem", "p7c"):
            with self.subTest(form=form):
                r = self.probe(form)
                p = self.assertProblem(r, "missing-intermediate", severity="critical")
                self.assertIn("tlsprobe downloaded 'AIA Test Intermediate' from http://127.0.0.1:%d/%s"
                              % (HTTP.port, form), p["message"])
                self.assertIn("with it the chain verifies", p["message"])
                self.assertIn("--write-fullchain", p["fix"])
                # Chrome downloads it too and accepts; the others refuse
                self.assertTrue(self.chrome(r)["accepts"], dump(r.obj))
                self.assertNotIn("chrome", p["refused_by"])
                self.assertIn("openssl", p["refused_by"])
                self.assertEqual(r.rc, 2)

    def test_two_missing_levels_are_both_downloaded(self):
        r = self.probe("deep")
        p = self.assertProblem(r, "missing-intermediate")
        self.assertIn("'AIA Test Mid CA' from", p["message"])
        self.assertIn("and 'AIA Test Top CA' from", p["message"])
        self.assertIn("with it the chain verifies", p["message"])

    def test_failed_downloads_say_why_and_chrome_refuses_too(self):
        for name, words in (("missing", "the server answered HTTP 404"),
                            ("garbage", "served no certificate"),
                            ("wrong", "none of which signed 'localhost'"),
                            ("ldap", "names no http:// or https:// URL")):
            with self.subTest(case=name):
                r = self.probe(name)
                p = self.assertProblem(r, "missing-intermediate", severity="critical")
                self.assertIn(words, p["message"])
                self.assertNotIn("verifies", p["message"])
                self.assertFalse(self.chrome(r)["accepts"], dump(r.obj))

    def test_a_silent_issuer_server_is_bounded_by_the_timeout(self):
        r = self.probe("silent", "--timeout", "2")
        p = self.assertProblem(r, "missing-intermediate")
        self.assertIn("/silent failed", p["message"])
        self.assertLess(r.elapsed, 4.5, "bounded by --timeout 2, with room for a busy machine")

    def test_offline_downloads_nothing(self):
        before = len(HTTP.asked)
        r = self.probe("der", "--offline")
        p = self.assertProblem(r, "missing-intermediate")
        self.assertNotIn("downloaded", p["message"])
        self.assertEqual(len(HTTP.asked), before)
        # what Chrome would do is then not known
        self.assertIsNone(self.chrome(r)["accepts"], dump(r.obj))

    def test_write_fullchain_writes_what_the_server_should_send(self):
        d = harness.tempdir(self, prefix="tlsprobe-aia-")
        for name in ("der", "full", "deep"):
            with self.subTest(server=name):
                out = os.path.join(d, name + ".pem")
                r = run_tlsprobe("localhost:%d" % self.servers[name].port, "--ca-file", P.root.cert,
                                 "--no-system-ca", "--write-fullchain", out, "-q")
                self.assertTrue(os.path.exists(out), r.err)
                with open(out) as f:
                    self.assertEqual(f.read().count("BEGIN CERTIFICATE"), 3 if name == "deep" else 2)
                # and that file verifies, as a server would then send it
                r = run_tlsprobe("cert", out, "--verify", "--ca-file", P.root.cert, "--no-system-ca",
                                 "--host", "localhost", "--json")
                self.assertEqual(r.rc, 0, r.out + r.err)

    def test_write_fullchain_refuses_a_chain_that_does_not_verify(self):
        out = os.path.join(harness.tempdir(self, prefix="tlsprobe-aia-"), "no.pem")
        r = run_tlsprobe("localhost:%d" % self.servers["wrong"].port, "--ca-file", P.root.cert,
                         "--no-system-ca", "--write-fullchain", out, "-q")
        self.assertEqual(r.rc, 2)
        self.assertFalse(os.path.exists(out))
        self.assertIn("not written: the chain does not verify", r.err)
