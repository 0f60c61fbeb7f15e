"""Revocation asked online: the CA's OCSP responder that a certificate names,
`openssl ocsp` on loopback answering from its CA database (good, revoked,
unknown, a responder signing with a key the issuer never delegated to),
small servers of the test's for what openssl will not do (tryLater,
silence), a stale answer (--at past its next update), and --offline,
which asks nothing. Certificates made here with `openssl ca`."""
import os
import time
import unittest

import harness
from harness import ProbeCase, dump, openssl
from harness import formats as fmt
from harness.pki import Pki, ca_ext, leaf_ext, subject

P = None          # the CA, its leaves and the responders
TRY_LATER = b"\x30\x03\x0a\x01\x03"  # OCSPResponse {responseStatus tryLater}


class Responder(harness.ProcessServer):
    """openssl ocsp answering for inter from the CA database, signing with
    signer (inter itself, or another key)."""

    def __init__(self, pki, signer, port):
        super().__init__("ocsp", lambda p: [
            "openssl", "ocsp", "-index", os.path.join(pki.dir, "index.txt"), "-port", str(p), "-CA",
            pki.inter.cert, "-rsigner", signer.cert, "-rkey", signer.key, "-ndays", "1"],
            ready="waiting for OCSP client connections", port_for=lambda h: port, attempts=1)

    def requests(self):
        return self.read_log().count("Received request")


class OcspFixtures(Pki):
    def __init__(self, directory, ports):
        super().__init__(directory)
        self.ports = ports
        self.root = self.issue("root", subject("OCSP Test Root"), ca_ext(), days=3650)
        self.inter = self.issue("inter", subject("OCSP Test Intermediate"), ca_ext(), self.root, days=1000)
        self.other = self.issue("other", subject("OCSP Test Intermediate"), ca_ext(), None, days=1000)
        self.leaves = {}
        # a responder the issuer delegated to: its certificate says OCSPSigning
        self.delegate = self.issue("delegate", subject("OCSP Test Responder"), [
            "basicConstraints = critical,CA:FALSE", "keyUsage = critical,digitalSignature",
            "extendedKeyUsage = OCSPSigning"], self.inter, days=300)
        for name, port in (("good", "ca"), ("revoked", "ca"), ("wrong", "wrong"), ("later", "later"),
                           ("silent", "silent"), ("offline", "offline"), ("delegated", "delegate")):
            self.leaves[name] = self.leaf(self, name, port)
        # a responder URL so long that the request no longer fits a GET
        self.leaves["post"] = self.issue("leaf_post", subject("localhost"), leaf_ext(san="DNS:localhost", extra=[
            "authorityInfoAccess = OCSP;URI:http://127.0.0.1:%d/%s/" % (self.ports["ca"], "p" * 240)]),
            self.inter, days=300)
        # a serial the responder's database has never seen
        self.leaves["unknown"] = self.leaf(Pki(os.path.join(directory, "other-db")), "unknown", "ca")
        openssl("ca", "-batch", "-config", self.conf, "-revoke", self.leaves["revoked"].cert, "-keyfile",
                self.inter.key, "-cert", self.inter.cert, "-crl_reason", "keyCompromise")
        # CRL distribution points: the CA's CRL, a forged one (another key,
        # the same name), one too big; and a leaf whose OCSP responder
        # answers tryLater, so that its CRL decides
        crl = "http://127.0.0.1:%d/" % self.ports["crl"]
        for name, path, ocsp in (("crl_good", "ca.crl", None), ("crl_revoked", "ca.crl", None),
                                 ("crl_forged", "forged.crl", None), ("crl_big", "ca.crl", None),
                                 ("crl_after_ocsp", "ca.crl", "later")):
            extra = ["crlDistributionPoints = URI:" + crl + path]
            if ocsp:
                extra.append("authorityInfoAccess = OCSP;URI:http://127.0.0.1:%d/" % self.ports[ocsp])
            self.leaves[name] = self.issue("leaf_" + name, subject("localhost"),
                                           leaf_ext(san="DNS:localhost", extra=extra), self.inter, days=300)
        with open(self.crl("ca", self.inter, revoke=[self.leaves["crl_revoked"].cert], hours=48), "rb") as f:
            HTTP["crl"].routes["/ca.crl"] = (200, f.read())
        # "other" has the intermediate's name and another key
        with open(self.crl("forged", self.other, hours=48), "rb") as f:
            HTTP["crl"].routes["/forged.crl"] = (200, f.read())

    def leaf(self, pki, name, port):
        return pki.issue("leaf_" + name, subject("localhost"), leaf_ext(san="DNS:localhost", extra=[
            "authorityInfoAccess = OCSP;URI:http://127.0.0.1:%d/" % self.ports[port]]), self.inter, days=300)


HTTP = {}         # the small servers, up before the certificates that name them


def setUpModule():
    global P
    # every path answered the same: tryLater, or never
    HTTP.update(later=harness.HttpRoutes(default=(200, TRY_LATER)), silent=harness.HttpRoutes(default=None),
                offline=harness.HttpRoutes(default=(200, TRY_LATER)), crl=harness.HttpRoutes())
    ports = {k: harness.free_port() for k in ("ca", "wrong", "delegate")}
    ports.update({k: h.port for k, h in HTTP.items()})
    P = OcspFixtures(harness.new_dir("ocsp-"), ports)


def tearDownModule():
    for h in HTTP.values():
        h.stop()


class Ocsp(ProbeCase):
    @classmethod
    def setUpClass(cls):
        harness.require_tools("openssl")
        cls.ca = cls.class_server(Responder(P, P.inter, P.ports["ca"]))
        cls.wrong = cls.class_server(Responder(P, P.other, P.ports["wrong"]))
        cls.delegate = cls.class_server(Responder(P, P.delegate, P.ports["delegate"]))
        cls.offline = HTTP["offline"]
        cls.servers = {name: cls.class_server(harness.s_server(leaf.cert, leaf.key, chain=P.inter.cert))
                       for name, leaf in P.leaves.items()}

    def probe(self, name, *extra):
        return harness.probe_json("localhost:%d" % self.servers[name].port, "--ca-file", P.root.cert,
                                  "--no-system-ca", *extra)

    def revocation(self, r):
        return r.obj["chain"][0]["revocation"]

    def test_good_is_good(self):
        before = self.ca.requests()
        r = self.probe("good")
        self.assertEqual((r.rc, r.obj["status"]), (0, "ok"), dump(r.obj))
        rv = self.revocation(r)
        self.assertEqual((rv["method"], rv["status"]), ("ocsp", "good"), rv)
        self.assertEqual(rv["source"], "http://127.0.0.1:%d/" % P.ports["ca"])
        self.assertIsNotNone(rv["next_update"])
        self.assertIsNone(rv["revoked_at"])
        self.assertIsNotNone(r.obj["timing_ms"]["online"])
        self.assertEqual(self.ca.requests() - before, 1)

    def test_a_request_too_long_for_a_get_is_posted(self):
        r = self.probe("post")
        self.assertEqual(self.revocation(r)["status"], "good", dump(r.obj))
        self.assertIn("Received request, 1st line: POST", self.ca.read_log())

    def test_a_delegated_responder_is_trusted(self):
        r = self.probe("delegated")
        self.assertEqual(self.revocation(r)["status"], "good", dump(r.obj))
        self.assertNotIn("revocation-unknown", [q["code"] for q in r.obj["verify"]["problems"]])

    def test_revoked_is_critical_with_when_and_why(self):
        r = self.probe("revoked")
        p = self.assertProblem(r, "revoked", severity="critical", cert_index=0)
        self.assertIn("(keyCompromise), says its CA's OCSP responder http://127.0.0.1:%d/" % P.ports["ca"],
                      p["message"])
        rv = self.revocation(r)
        self.assertEqual((rv["status"], rv["reason"]), ("revoked", "keyCompromise"), rv)
        self.assertIsNotNone(rv["revoked_at"])
        self.assertEqual(r.rc, 2)
        # and in Prometheus's format, with ssl_exporter's names for the leaf's OCSP answer
        out = harness.run_tlsprobe("localhost:%d" % self.servers["revoked"].port, "--ca-file", P.root.cert,
                                   "--no-system-ca", "--format", "prometheus").out
        fams = fmt.parse_exposition(out)
        self.assertEqual(fams["ssl_ocsp_response_status"].samples[0].value, 1)
        self.assertEqual(fams["ssl_ocsp_response_stapled"].samples[0].value, 0)
        [s] = fams["tlsprobe_cert_revocation_status"].samples
        self.assertEqual((s.labels["index"], s.labels["method"], s.value), ("0", "ocsp", 1))

    def test_what_is_no_answer_is_revocation_unknown_never_revoked(self):
        for name, words in (("unknown", "does not know 'localhost'"),
                            ("wrong", "not signed by the certificate's issuer"),
                            ("later", "answered tryLater")):
            with self.subTest(case=name):
                r = self.probe(name)
                p = self.assertProblem(r, "revocation-unknown", severity="warning", cert_index=0)
                self.assertIn(words, p["message"])
                self.assertNotIn("revoked", [q["code"] for q in r.obj["verify"]["problems"]])
                self.assertEqual(self.revocation(r)["status"], "unknown")
                self.assertEqual(r.rc, 1, dump(r.obj))

    def test_a_silent_responder_costs_at_most_the_timeout(self):
        r = self.probe("silent", "--timeout", "2")
        p = self.assertProblem(r, "revocation-unknown")
        self.assertIn("failed", p["message"])
        self.assertLess(r.elapsed, 4.5, "bounded by --timeout 2, with room for a busy machine")

    def test_a_stale_answer_is_not_used(self):
        # the responder's answers are good for a day; judged three days on
        at = "@%d" % (int(time.time()) + 3 * 86400)
        r = self.probe("good", "--at", at)
        p = self.assertProblem(r, "revocation-unknown")
        self.assertIn("stale", p["message"])

    def test_offline_asks_nothing(self):
        before = len(self.offline.asked)
        r = self.probe("offline", "--offline")
        self.assertEqual(len(self.offline.asked), before)
        self.assertIsNone(self.revocation(r))
        self.assertIsNone(r.obj["timing_ms"]["online"])
        # and without it, that server is asked
        self.probe("offline")
        self.assertEqual(len(self.offline.asked), before + 1)


class CrlDistributionPoints(ProbeCase):
    """A certificate's CRL downloaded from the distribution point it names,
    when no OCSP responder gave an answer."""

    @classmethod
    def setUpClass(cls):
        cls.servers = {name: cls.class_server(harness.s_server(P.leaves[name].cert, P.leaves[name].key,
                                                               chain=P.inter.cert))
                       for name in ("crl_good", "crl_revoked", "crl_forged", "crl_big", "crl_after_ocsp")}

    def probe(self, name, *extra):
        return harness.probe_json("localhost:%d" % self.servers[name].port, "--ca-file", P.root.cert,
                                  "--no-system-ca", *extra)

    def test_good_and_revoked_by_the_cas_crl(self):
        r = self.probe("crl_good")
        rv = r.obj["chain"][0]["revocation"]
        self.assertEqual((rv["method"], rv["status"]), ("crl", "good"), dump(r.obj))
        self.assertEqual(rv["source"], "http://127.0.0.1:%d/ca.crl" % P.ports["crl"])
        self.assertEqual(r.rc, 0, dump(r.obj))
        r = self.probe("crl_revoked")
        p = self.assertProblem(r, "revoked", severity="critical", cert_index=0)
        self.assertIn("says its CA's CRL http://127.0.0.1:%d/ca.crl" % P.ports["crl"], p["message"])
        self.assertEqual(r.obj["chain"][0]["revocation"]["status"], "revoked")

    def test_a_crl_the_issuer_did_not_sign_is_not_used(self):
        r = self.probe("crl_forged")
        p = self.assertProblem(r, "revocation-unknown", severity="warning")
        self.assertIn("not signed by the issuer", p["message"])
        self.assertNotIn("revoked", [q["code"] for q in r.obj["verify"]["problems"]])

    def test_a_crl_over_the_limit_is_not_read(self):
        r = self.probe("crl_big", "--max-crl-size", "100")
        p = self.assertProblem(r, "revocation-unknown")
        self.assertIn("larger than 100 bytes", p["message"])
        self.assertIn("--max-crl-size", p["message"])

    def test_a_stale_crl_is_not_used(self):
        r = self.probe("crl_good", "--at", "@%d" % (int(time.time()) + 3 * 86400))
        p = self.assertProblem(r, "revocation-unknown")
        self.assertIn("stale", p["message"])

    def test_the_crl_answers_when_the_responder_does_not(self):
        r = self.probe("crl_after_ocsp")
        rv = r.obj["chain"][0]["revocation"]
        self.assertEqual((rv["method"], rv["status"]), ("crl", "good"), dump(r.obj))
        # the responder's tryLater is moot once the CRL answered
        self.assertNotIn("revocation-unknown", [q["code"] for q in r.obj["verify"]["problems"]])
        self.assertEqual(r.rc, 0, dump(r.obj))


class Cache(ProbeCase):
    """One request per distinct certificate: probes at once share one, and
    later runs read the answer from the cache directory until its next
    update; --cache-dir "" keeps nothing across runs."""

    @classmethod
    def setUpClass(cls):
        cls.responder = cls.class_server(Responder(P, P.inter, P.ports["ca"]))
        cls.servers = {name: cls.class_server(harness.s_server(P.leaves[name].cert, P.leaves[name].key,
                                                               chain=P.inter.cert))
                       for name in ("good", "revoked")}

    def batch(self, lines, *extra):
        return harness.run_tlsprobe("batch", "-", "--ca-file", P.root.cert, "--no-system-ca", "--json",
                                    "--parallel", "16", *extra, input=lines, timeout=120)

    def test_a_batch_asks_once_per_certificate_and_the_next_run_not_at_all(self):
        cache = os.path.join(harness.tempdir(self, prefix="tlsprobe-cache-"), "c")
        lines = "".join("localhost:%d\nlocalhost:%d\n" % (self.servers["good"].port, self.servers["revoked"].port)
                        for _ in range(20))
        before = self.responder.requests()
        r = self.batch(lines, "--cache-dir", cache)
        objs = harness.schema.ndjson(r.out)
        self.assertEqual(len(objs), 40, r.err)
        self.assertEqual(sorted({o["chain"][0]["revocation"]["status"] for o in objs}), ["good", "revoked"])
        self.assertEqual(self.responder.requests() - before, 2, "one request per distinct certificate")
        self.assertEqual(len(os.listdir(cache)), 2)
        # the next run reads them from the cache directory
        before = self.responder.requests()
        r = self.batch(lines, "--cache-dir", cache)
        self.assertEqual(self.responder.requests(), before, r.err)
        self.assertEqual(sorted({o["chain"][0]["revocation"]["status"] for o in harness.schema.ndjson(r.out)}),
                         ["good", "revoked"])
        # and without a cache directory, each run asks again (once)
        before = self.responder.requests()
        self.batch(lines, "--cache-dir", "")
        self.assertEqual(self.responder.requests() - before, 2)

    def test_a_cache_file_that_is_not_one_is_ignored(self):
        cache = os.path.join(harness.tempdir(self, prefix="tlsprobe-cache-"), "c")
        self.batch("localhost:%d\n" % self.servers["good"].port, "--cache-dir", cache)
        for name in os.listdir(cache):
            harness.write(os.path.join(cache, name), "tlsprobe-cache 1 99999999999\nnot an OCSP response")
        before = self.responder.requests()
        r = self.batch("localhost:%d\n" % self.servers["good"].port, "--cache-dir", cache)
        [o] = harness.schema.ndjson(r.out)
        # what the cache gave was checked as if fetched: unusable, so unknown, never a verdict of its own
        self.assertEqual(o["chain"][0]["revocation"]["status"], "unknown", dump(o))
        self.assertEqual(self.responder.requests(), before)
        # and forgotten: the next run asks the responder again
        r = self.batch("localhost:%d\n" % self.servers["good"].port, "--cache-dir", cache)
        [o] = harness.schema.ndjson(r.out)
        self.assertEqual(o["chain"][0]["revocation"]["status"], "good", dump(o))
        self.assertEqual(self.responder.requests(), before + 1)


class CaKit(ProbeCase):
    """tlsprobe's own CA: ca init --crl-url, ca issue (the URL written into
    the certificate), ca revoke, ca crl; the CRL published on loopback, and
    a probe that finds the certificate good, then revoked."""

    def test_issue_revoke_publish_and_the_probe_says_revoked(self):
        web = harness.HttpRoutes()
        self.addCleanup(web.stop)
        d = os.path.join(harness.tempdir(self, prefix="tlsprobe-cakit-"), "ca")
        url = "http://127.0.0.1:%d/crl.der" % web.port
        for argv in (("ca", "init", d, "--name", "Kit", "--crl-url", url), ("ca", "issue", d, "localhost"),
                     ("ca", "crl", d)):
            r = harness.run_tlsprobe(*argv)
            self.assertEqual(r.rc, 0, r.out + r.err)
        self.assertIn(url, openssl("x509", "-in", os.path.join(d, "localhost.pem"), "-noout", "-ext",
                                   "crlDistributionPoints").decode())

        def publish():
            with open(os.path.join(d, "crl.der"), "rb") as f:
                web.routes["/crl.der"] = (200, f.read())
        publish()
        srv = self.server(harness.s_server(os.path.join(d, "localhost.pem"), os.path.join(d, "localhost.key"),
                                           chain=os.path.join(d, "intermediate.pem")))
        probe = ("localhost:%d" % srv.port, "--ca-file", os.path.join(d, "root.pem"), "--no-system-ca",
                 "--cache-dir", "")
        r = harness.probe_json(*probe)
        self.assertEqual(r.obj["chain"][0]["revocation"]["status"], "good", dump(r.obj))
        r = harness.run_tlsprobe("ca", "revoke", d, "localhost", "--reason", "keyCompromise")
        self.assertEqual(r.rc, 0, r.err)
        # a second time is refused: the first date stands
        self.assertEqual(harness.run_tlsprobe("ca", "revoke", d, "localhost").rc, 3)
        self.assertEqual(harness.run_tlsprobe("ca", "crl", d).rc, 0)
        # the CRL openssl reads, listing the certificate
        text = openssl("crl", "-in", os.path.join(d, "crl.pem"), "-noout", "-text").decode()
        serial = openssl("x509", "-in", os.path.join(d, "localhost.pem"), "-noout", "-serial").decode()
        self.assertIn(serial.strip().split("=")[1].upper(), text.upper().replace(":", ""))
        publish()
        r = harness.probe_json(*probe)
        p = self.assertProblem(r, "revoked", severity="critical", cert_index=0)
        self.assertIn("says its CA's CRL " + url, p["message"])
        # and ca check reads the CRL beside the root it is given
        r = harness.run_tlsprobe("ca", "check", "--ca", os.path.join(d, "root.pem"), "--cert",
                                 os.path.join(d, "localhost.fullchain.pem"), "--host", "localhost", "--json")
        self.assertEqual(r.rc, 2, r.out + r.err)
        self.assertIn('"code":"revoked"', r.out.replace(" ", ""))

    def test_bad_revocations_are_refused(self):
        d = os.path.join(harness.tempdir(self, prefix="tlsprobe-cakit-"), "ca")
        harness.run_tlsprobe("ca", "init", d)
        for argv, words in ((("ca", "revoke", d, "nohost"), "neither a certificate of this CA"),
                            (("ca", "revoke", d, "abcd", "--reason", "bored"), "unknown --reason 'bored'"),
                            (("ca", "revoke", d, P.leaves["good"].cert), "was not issued by the CA"),
                            (("ca", "init", d + "2", "--crl-url", "ldap://x/"), "not an http:// or https:// URL")):
            with self.subTest(argv=argv):
                r = harness.run_tlsprobe(*argv)
                self.assertEqual(r.rc, 3, r.out + r.err)
                self.assertIn(words, r.err)


class ServeStaples(ProbeCase):
    """tlsprobe serve --ocsp-response staples a response made by `openssl
    ocsp` from the CA's database: the probe uses it and asks no responder."""

    def response(self, leaf):
        d = harness.tempdir(self, prefix="tlsprobe-staple-")
        req, resp = os.path.join(d, "req.der"), os.path.join(d, "resp.der")
        openssl("ocsp", "-issuer", P.inter.cert, "-cert", leaf.cert, "-no_nonce", "-reqout", req)
        openssl("ocsp", "-index", os.path.join(P.dir, "index.txt"), "-rsigner", P.inter.cert, "-rkey",
                P.inter.key, "-CA", P.inter.cert, "-reqin", req, "-respout", resp, "-ndays", "1")
        return resp

    def test_a_stapled_revocation_is_read_from_the_staple(self):
        for name, status in (("good", "good"), ("revoked", "revoked")):
            with self.subTest(leaf=name):
                leaf = P.leaves[name]
                chain = harness.write(os.path.join(harness.tempdir(self, prefix="tlsprobe-staple-"), "chain.pem"),
                                      open(leaf.cert).read() + open(P.inter.cert).read())
                srv = self.server(harness.Serve("--cert", chain, "--key", leaf.key, "--ocsp-response",
                                                self.response(leaf), "--listen", "127.0.0.1:0"))
                r = harness.probe_json("localhost:%d" % srv.port, "--ca-file", P.root.cert, "--no-system-ca",
                                       "--cache-dir", "")
                self.assertEqual(r.obj["ocsp"]["status"], status, dump(r.obj))
                self.assertTrue(r.obj["ocsp"]["verified"], dump(r.obj))
                rv = r.obj["chain"][0]["revocation"]
                self.assertEqual((rv["method"], rv["status"]), ("staple", status), dump(r.obj))

    def test_a_response_without_the_certificate_is_refused(self):
        r = harness.run_tlsprobe("serve", "--ocsp-response", P.p("leaf_good.pem"), "--listen", "127.0.0.1:0",
                                 timeout=20)
        self.assertEqual(r.rc, 3, r.err)
        self.assertIn("--ocsp-response staples a response about your certificate", r.err)
