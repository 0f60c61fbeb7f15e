"""`tlsprobe serve` and `tlsprobe demo`: real clients against the reference server.

Every server runs on 127.0.0.1 (or ::1) with ports it picks itself
(`--listen 127.0.0.1:0`, read back from its stdout) and is stopped with
SIGTERM at cleanup, where it must exit 0 within harness.servers.STOP_GRACE
seconds.  Clients trust only the root written by `--write-ca` (or, for mutual
TLS and `--cert/--key`, a CA made here with openssl).

The clients and what this machine's builds of them say are pinned below
(curl on OpenSSL 3, openssl s_client, gnutls-cli 3.7, Python's ssl on OpenSSL 3).
A client library upgrade may change a message; the tables say which client
said what, so the change is a one-line edit.
"""

import json
import os
import re
import resource
import select
import selectors
import socket
import ssl
import threading
import time
import unittest

import harness
from harness import (STOP_GRACE, Pki, Serve, ServeCase, dump, new_dir, openssl, probe_json,
                     require_tools, run_tlsprobe, scenarios, scratch_dir, wait_for)
from harness.clients import (body_fields, client_context, client_hello_bytes, curl,
                             curl_is_openssl, gnutls_cli, https_get, recv_all, run_client,
                             s_client, tls_connect)
from harness.servers import die_with_parent, rst_close
from harness.pki import SELF_SIGNED, leaf_ext

OK_VERSION = {"good": "TLSv1.3", "tls12-only": "TLSv1.2", "tls13-only": "TLSv1.3"}

# ---------------------------------------------------------------------------
# What each real client says about each scenario.  OK_VERSION scenarios and
# the *_ACCEPTS sets must complete the request (with OK_VERSION's protocol,
# TLSv1.3 otherwise); every other scenario must fail as the tables say.
# client-cert-required is handled in the tests themselves.
# ---------------------------------------------------------------------------

# OpenSSL's verify result for each broken chain: (X509_V_ERR number, its text).
# Used for s_client ("verify error:num=N:TEXT", "Verify return code: N (TEXT)")
# and Python's ssl (SSLCertVerificationError.verify_code / verify_message).
OPENSSL_VERIFY = {
    "missing-intermediate": (20, "unable to get local issuer certificate"),
    # A complete chain to another root looks the same to OpenSSL: it cannot
    # find an issuer for the intermediate it was sent either.
    "untrusted-root": (20, "unable to get local issuer certificate"),
    "self-signed": (18, "self-signed certificate"),
    "wrong-host": (62, "hostname mismatch"),
    "expired": (10, "certificate has expired"),
    "not-yet-valid": (9, "certificate is not yet valid"),
    # This OpenSSL's default security level (2) refuses RSA < 2048.
    "weak-key": (66, "EE certificate key too weak"),
    # OpenSSL calls the SHA-1 signature on the leaf a weak *CA* signature
    # (the intermediate made it).
    "sha1-signature": (68, "CA signature digest algorithm too weak"),
    "wrong-eku": (26, "unsuitable certificate purpose"),
    "issuer-not-ca": (79, "invalid CA certificate"),
    "expired-intermediate": (10, "certificate has expired"),
    "name-constraints": (47, "permitted subtree violation"),
}
# Scenarios every OpenSSL-based client accepts: it builds the path from the
# certificates it was sent in any order (chain-order).
OPENSSL_ACCEPTS = {"chain-order"}

# gnutls-cli 3.7 "- Status: The certificate is NOT trusted. <PHRASE>".
GNUTLS_STATUS = {
    "missing-intermediate": "The certificate issuer is unknown.",
    "untrusted-root": "The certificate issuer is unknown.",
    "self-signed": "The certificate issuer is unknown.",
    "wrong-host": "The name in the certificate does not match the expected.",
    "expired": "The certificate chain uses expired certificate.",
    "not-yet-valid": "The certificate chain uses not yet valid certificate.",
    "sha1-signature": "The certificate chain uses insecure algorithm.",
    "wrong-eku": "The certificate chain does not match the intended purpose.",
    "issuer-not-ca": "The certificate chain violates the signer's constraints.",
    "expired-intermediate": "The certificate chain uses expired certificate.",
    "name-constraints": "The certificate chain violates the signer's constraints.",
}
# gnutls-cli accepts a 1024-bit RSA leaf (GnuTLS's default verification
# profile allows it) and sorts an out-of-order chain itself.
GNUTLS_ACCEPTS = {"weak-key", "chain-order"}

# curl (OpenSSL backend): exit 60 and "SSL certificate problem: <OpenSSL text>",
# except the name check, which curl does itself.
CURL_VERIFY = {sc: "SSL certificate problem: " + text for sc, (_, text) in OPENSSL_VERIFY.items()}
CURL_VERIFY["wrong-host"] = ("SSL: no alternative certificate subject name matches target host "
                             "name 'localhost'")


def setUpModule():
    require_tools("openssl")


def _dir(prefix):
    return new_dir(prefix)


def serve_fails(*args, timeout=15):
    """Run `tlsprobe serve ARGS` expecting it to refuse to start:
    -> (exit status, stdout str, stderr str, seconds)."""
    return run_tlsprobe("serve", *args, timeout=timeout, errors="replace")


class ClientPKI(Pki):
    """A client CA and certificates issued by it, made with openssl in `d`:

    ca           self-signed CA (CA:TRUE, keyCertSign)
    alice        CN=alice client, extendedKeyUsage clientAuth, by ca
    serveronly   CN=server only, extendedKeyUsage serverAuth only, by ca
    rogue        CN=rogue client, clientAuth, by an unrelated self-signed CA
    (each a (cert, key) pair; .ca is the CA certificate file)
    """

    def __init__(self, d):
        super().__init__(d)
        ca = self.issue("clientca", "/O=tlsprobe tests/CN=tlsprobe Test Client CA", "v3_root",
                        days=365)
        rogue_ca = self.issue("rogueca", "/O=tlsprobe tests/CN=tlsprobe Rogue Client CA",
                              "v3_root", days=365)
        self.ca = ca.cert
        self.alice = self.pair("alice", "/O=tlsprobe tests/CN=alice client", "v3_client", ca)
        self.serveronly = self.pair("serveronly", "/O=tlsprobe tests/CN=server only",
                                    leaf_ext(san="DNS:localhost"), ca)
        self.rogue = self.pair("rogue", "/O=tlsprobe tests/CN=rogue client", "v3_client",
                               rogue_ca)

    def pair(self, name, subj, ext, issuer):
        # long enough that no expiry threshold fires for the client certificate
        c = self.issue(name, subj, ext, issuer, days=100)
        return c.cert, c.key


def self_signed(d, name, cn="localhost"):
    """A self-signed EC certificate for localhost -> (cert, key)."""
    c = Pki(os.path.join(d, name + ".pki")).issue(
        name, "/CN=" + cn, SELF_SIGNED + ["subjectAltName = DNS:localhost"], days=2)
    return c.cert, c.key


class Scenarios(ServeCase):
    """`serve --scenario all --listen 127.0.0.1:0 --write-ca root.pem`: every
    scenario on its own free port, probed by curl, s_client, gnutls-cli,
    Python's ssl and tlsprobe, all trusting root.pem only."""

    @classmethod
    def setUpClass(cls):
        cls.dir = _dir("scenarios-")
        cls.root = os.path.join(cls.dir, "root.pem")
        cls.srv = cls.class_serve("--scenario", "all", "--listen", "127.0.0.1:0",
                                  "--write-ca", cls.root)
        cls.names = [name for name, _ in scenarios()]

    def port(self, scenario):
        return self.srv.ports[scenario]

    def assertBody(self, text, scenario, version):
        f = body_fields(text[text.find("tlsprobe reference server"):])
        self.assertEqual(f.get("scenario"), scenario, text[-1500:])
        self.assertEqual(f.get("protocol"), version, text[-1500:])

    def test_tables_cover_every_scenario(self):
        # When a scenario is added, the client tables above must say what
        # each client does with it.
        broken = set(self.names) - set(OK_VERSION) - {"client-cert-required"}
        self.assertEqual(broken - OPENSSL_ACCEPTS, set(OPENSSL_VERIFY))
        self.assertEqual(broken - GNUTLS_ACCEPTS, set(GNUTLS_STATUS))

    def test_table_gives_every_scenario_its_own_port_and_expectation(self):
        self.assertEqual([(sc, exp) for _, sc, exp, _ in self.srv.table], scenarios())
        ports = [p for p, _, _, _ in self.srv.table]
        self.assertEqual(len(set(ports)), len(ports), self.srv.stdout)
        self.assertTrue(all(0 < p < 65536 for p in ports), self.srv.stdout)
        self.assertIn("clients trust the root CA with: tlsprobe --ca-file %s" % self.root,
                      self.srv.stdout)
        for p in ports:
            self.assertTrue(harness.port_open("127.0.0.1", p), "port %d closed" % p)

    def test_write_ca_writes_the_root_certificate(self):
        out = openssl("x509", "-in", self.root, "-noout", "-subject", "-ext",
                         "basicConstraints", "-nameopt", "RFC2253").decode()
        self.assertIn("CN=tlsprobe Reference Root CA", out)
        self.assertIn("CA:TRUE", out)

    # -- curl -------------------------------------------------------------
    def test_curl(self):
        require_tools("curl")
        if not curl_is_openssl():
            self.skipTest("curl is not built on OpenSSL; its messages differ")
        for sc in self.names:
            with self.subTest(scenario=sc):
                r = curl(self.port(sc), self.root)
                ctx = "curl exit %d\nstdout: %s\nstderr: %s" % (r.rc, r.out[-800:], r.err[-800:])
                if sc in OK_VERSION or sc in OPENSSL_ACCEPTS:
                    self.assertEqual(r.rc, 0, ctx)
                    self.assertBody(r.out, sc, OK_VERSION.get(sc, "TLSv1.3"))
                elif sc == "client-cert-required":
                    # The TLS 1.3 handshake completes on the client's side;
                    # the server's certificate_required alert comes after.
                    # curl 7.88 reads it (56), or fails first on the server's
                    # RST (55, "getpeername() failed"): see
                    # test_http_clients_see_the_certificate_required_alert.
                    self.assertIn(r.rc, (55, 56), ctx)
                    if r.rc == 56:
                        self.assertIn("alert certificate required", r.err, ctx)
                else:
                    self.assertEqual(r.rc, 60, ctx)
                    self.assertRegex(r.err, re.escape(CURL_VERIFY[sc]).replace(
                        "self\\-signed", "self[- ]signed"), ctx)

    def test_curl_version_limits_are_enforced(self):
        require_tools("curl")
        r = curl(self.port("tls13-only"), self.root, "--tls-max", "1.2")
        self.assertEqual(r.rc, 35, r)
        r = curl(self.port("tls12-only"), self.root, "--tlsv1.3")
        self.assertEqual(r.rc, 35, r)
        r = curl(self.port("tls12-only"), self.root, "--tls-max", "1.2")
        self.assertEqual(r.rc, 0, r)
        self.assertBody(r.out, "tls12-only", "TLSv1.2")
        r = curl(self.port("tls13-only"), self.root, "--tlsv1.3")
        self.assertEqual(r.rc, 0, r)
        self.assertBody(r.out, "tls13-only", "TLSv1.3")

    def test_version_mismatch_is_answered_with_a_protocol_version_alert(self):
        # RFC 8446 4.2.1 and D.1: a server that shares no version with the
        # client aborts with protocol_version (70), and that is what tells
        # the person at the client what is wrong.
        for sc, flag in (("tls13-only", "-tls1_2"), ("tls12-only", "-tls1_3")):
            with self.subTest(scenario=sc, client=flag):
                r = s_client(self.port(sc), self.root, flag, request=False)
                both = r.out + r.err
                self.assertEqual(r.rc, 1, both[-1500:])
                self.assertIn("alert protocol version", both, both[-1500:])
                self.assertIn("SSL alert number 70", both, both[-1500:])

    # -- openssl s_client -------------------------------------------------------
    def test_openssl_s_client(self):
        for sc in self.names:
            with self.subTest(scenario=sc):
                r = s_client(self.port(sc), self.root)
                both = r.out + r.err
                ctx = "s_client exit %d\n%s" % (r.rc, both[-2500:])
                if sc in OK_VERSION or sc in OPENSSL_ACCEPTS:
                    self.assertEqual(r.rc, 0, ctx)
                    self.assertIn("Verify return code: 0 (ok)", r.out, ctx)
                    self.assertIn("Verified peername: localhost", r.out, ctx)
                    version = OK_VERSION.get(sc, "TLSv1.3")
                    self.assertIn("New, %s, Cipher is" % version, r.out, ctx)
                    self.assertBody(r.out, sc, version)
                elif sc == "client-cert-required":
                    # the chain verifies; then the server's alert 116
                    self.assertEqual(r.rc, 1, ctx)
                    self.assertIn("Verify return code: 0 (ok)", r.out, ctx)
                    self.assertIn("alert certificate required", both, ctx)
                    self.assertIn("SSL alert number 116", both, ctx)
                else:
                    num, text = OPENSSL_VERIFY[sc]
                    self.assertEqual(r.rc, 1, ctx)
                    self.assertIn("verify error:num=%d:%s" % (num, text), both, ctx)
                    self.assertIn("Verify return code: %d (%s)" % (num, text), r.out, ctx)
                    self.assertNotIn("tlsprobe reference server", r.out, ctx)

    def test_client_cert_required_names_each_acceptable_ca_once(self):
        # The CertificateRequest lists the CAs whose client certificates the
        # server accepts: the reference root, once.
        r = s_client(self.port("client-cert-required"), self.root, request=False)
        block = r.out.split("Acceptable client certificate CA names", 1)
        self.assertEqual(len(block), 2, r.out[-2500:])
        names = []
        for line in block[1].splitlines()[1:]:
            if not line.strip() or line.startswith(("Requested", "Client Certificate", "---")):
                break
            names.append(line.strip())
        self.assertEqual(names, ["O = tlsprobe, CN = tlsprobe Reference Root CA"], r.out[-2500:])

    # -- gnutls-cli -----------------------------------------------------------
    def test_gnutls_cli(self):
        require_tools("gnutls-cli")
        for sc in self.names:
            with self.subTest(scenario=sc):
                r = gnutls_cli(self.port(sc), self.root)
                both = r.out + r.err
                ctx = "gnutls-cli exit %d\n%s" % (r.rc, both[-2500:])
                if sc in OK_VERSION or sc in GNUTLS_ACCEPTS:
                    version = OK_VERSION.get(sc, "TLSv1.3")
                    self.assertEqual(r.rc, 0, ctx)
                    self.assertIn("- Status: The certificate is trusted.", both, ctx)
                    self.assertIn("- Description: (%s-" % version.replace("TLSv", "TLS"),
                                  both, ctx)
                    self.assertBody(r.out, sc, version)
                elif sc == "client-cert-required":
                    self.assertEqual(r.rc, 1, ctx)
                    self.assertIn("- Status: The certificate is trusted.", both, ctx)
                    self.assertIn("Received alert [116]: Certificate is required", both, ctx)
                else:
                    self.assertEqual(r.rc, 1, ctx)
                    self.assertIn("- Status: The certificate is NOT trusted. " +
                                  GNUTLS_STATUS[sc], both, ctx)
                    self.assertIn("PKI verification of server certificate failed", both, ctx)

    # -- Python ssl + http.client ---------------------------------------------------
    def test_python_ssl(self):
        ctx = client_context(self.root)
        for sc in self.names:
            with self.subTest(scenario=sc):
                port = self.port(sc)
                if sc in OK_VERSION or sc in OPENSSL_ACCEPTS:
                    r = https_get(port, ctx)
                    version = OK_VERSION.get(sc, "TLSv1.3")
                    self.assertEqual((r.status, r.version), (200, version), r)
                    self.assertBody(r.body, sc, version)
                elif sc == "client-cert-required":
                    # the alert (TLSV13_ALERT_CERTIFICATE_REQUIRED) or, when the
                    # server's RST beats the request, SSLEOFError from the
                    # write: see test_http_clients_see_the_certificate_required_alert
                    with self.assertRaises(ssl.SSLError) as cm:
                        https_get(port, ctx)
                    self.assertIn(cm.exception.reason, ("TLSV13_ALERT_CERTIFICATE_REQUIRED", None),
                                  repr(cm.exception))
                else:
                    num, text = OPENSSL_VERIFY[sc]
                    if sc == "wrong-host":    # Python does the name check itself
                        text = "Hostname mismatch, certificate is not valid for 'localhost'."
                    with self.assertRaises(ssl.SSLCertVerificationError) as cm:
                        https_get(port, ctx)
                    e = cm.exception
                    self.assertEqual((e.verify_code, e.verify_message), (num, text), repr(e))

    def test_python_version_limits_are_enforced(self):
        ctx = client_context(self.root, maxv=ssl.TLSVersion.TLSv1_2)
        with self.assertRaises(ssl.SSLError):
            https_get(self.port("tls13-only"), ctx)
        ctx = client_context(self.root, minv=ssl.TLSVersion.TLSv1_3)
        with self.assertRaises(ssl.SSLError):
            https_get(self.port("tls12-only"), ctx)

    def test_http_clients_see_the_certificate_required_alert(self):
        # An HTTP client writes its request right after its side of the TLS
        # 1.3 handshake.  The server rejects the empty Certificate, sends
        # certificate_required and must close so that the client still reads
        # that alert: closing with the client's Finished unread sends a TCP
        # RST, and the client's write then fails first (Python: SSLEOFError
        # from the write; curl: "(55) getpeername() failed").  20 tries each.
        port = self.port("client-cert-required")
        ctx = client_context(self.root)
        seen = []
        for _ in range(20):
            try:
                https_get(port, ctx)
                seen.append("no error")
            except (ssl.SSLError, OSError) as e:
                seen.append(getattr(e, "reason", None) or repr(e))
        for _ in range(10 if harness.have("curl") else 0):
            r = curl(port, self.root)
            seen.append("curl: alert" if r.rc == 56 and "alert certificate required" in r.err
                        else "curl %d: %s" % (r.rc, r.err.strip()))
        wrong = [x for x in seen if x not in ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "curl: alert")]
        self.assertEqual(wrong, [], "%d of %d requests did not see the alert" % (
            len(wrong), len(seen)))

    # -- tlsprobe's own probe -----------------------------------------------------
    def test_tlsprobe_reports_what_the_scenario_table_says(self):
        for sc, expect in scenarios():
            with self.subTest(scenario=sc):
                r = probe_json("localhost:%d" % self.port(sc), "--ca-file", self.root,
                               "--no-system-ca")
                o = r.obj
                if expect == "ok":
                    self.assertEqual((r.rc, o["status"], o["error"]), (0, "ok", None), dump(o))
                    self.assertEqual(o["verify"]["problems"], [], dump(o))
                    self.assertEqual(o["tls"]["version"], OK_VERSION[sc], dump(o))
                    continue
                codes = [p["code"] for p in (o["verify"] or {}).get("problems", [])]
                if o["error"]:
                    codes.append(o["error"]["code"])
                self.assertIn(expect, codes, dump(o))
                self.assertEqual(o["reason"], expect, dump(o))
                self.assertIn(o["status"], ("warning", "critical"), dump(o))
                self.assertEqual(r.rc, {"warning": 1, "critical": 2}[o["status"]], dump(o))

    def test_tlsprobe_refuses_tls12_against_tls13_only(self):
        r = probe_json("localhost:%d" % self.port("tls13-only"), "--ca-file", self.root,
                       "--no-system-ca", "--tls-max", "1.2")
        self.assertEqual((r.rc, r.obj["error"] and r.obj["error"]["code"]),
                         (2, "protocol-version"), dump(r.obj))

    def test_log_names_the_scenario_of_each_connection(self):
        ctx = client_context(self.root)
        r = https_get(self.port("tls12-only"), ctx)
        line = self.srv.wait_log(lambda l: r.local in l)
        self.assertIsNotNone(line, self.srv.stderr()[-2000:])
        self.assertRegex(line, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ %s scenario=tls12-only "
                               r"sni=localhost version=TLSv1\.2 cipher=\S+ alpn=- "
                               r"client=- ok \(handshake [\d.]+ ms\)$" % re.escape(r.local))


class Http(ServeCase):
    """The HTTP answer of `serve --scenario good`: text, or JSON on request."""

    @classmethod
    def setUpClass(cls):
        cls.root = os.path.join(_dir("http-"), "root.pem")
        cls.srv = cls.class_serve("--listen", "127.0.0.1:0", "--write-ca", cls.root)
        cls.ctx = client_context(cls.root)

    def test_listening_line_names_the_address_and_scenario(self):
        self.assertEqual(self.srv.listening, [("127.0.0.1", self.srv.port, "good")])

    def test_text_body_describes_the_session(self):
        r = https_get(self.srv.port, self.ctx)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["content-type"], "text/plain; charset=utf-8")
        self.assertEqual(int(r.headers["content-length"]), len(r.body.encode()))
        self.assertEqual(r.headers["connection"], "close")
        self.assertEqual(r.body.splitlines()[0], "tlsprobe reference server")
        f = body_fields(r.body)
        self.assertEqual(f["scenario"], "good")
        self.assertEqual(f["expect"], "ok")
        self.assertEqual(f["protocol"], r.version)
        self.assertEqual(f["cipher"], r.cipher)       # TLS 1.3: same IANA name
        self.assertTrue(f["key exchange"] and f["key exchange"] != "-", r.body)
        self.assertEqual(f["alpn"], r.alpn or "-")
        self.assertEqual(f["sni"], "localhost")
        self.assertEqual(f["client cert"], "none")
        self.assertEqual(f["your address"], r.local)

    def test_json_body_on_accept_application_json(self):
        r = https_get(self.srv.port, self.ctx, headers={"Accept": "application/json"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["content-type"], "application/json")
        o = harness.parse_json_line(r.body)
        for k in ("version", "cipher", "sni", "client_cert", "scenario", "alpn", "peer"):
            self.assertIn(k, o, r.body)
        self.assertEqual(o["version"], r.version)
        self.assertEqual(o["cipher"], r.cipher)
        self.assertEqual(o["sni"], "localhost")
        self.assertIsNone(o["client_cert"])
        self.assertEqual(o["scenario"], "good")
        self.assertEqual(o["peer"], r.local)

    def test_accept_header_is_matched_case_insensitively_within_a_list(self):
        r = https_get(self.srv.port, self.ctx,
                      headers={"accept": "text/html, application/json;q=0.9"})
        self.assertEqual(r.headers["content-type"], "application/json")
        self.assertEqual(json.loads(r.body)["version"], r.version)

    def test_json_reports_tls12_for_a_tls12_client(self):
        ctx = client_context(self.root, maxv=ssl.TLSVersion.TLSv1_2)
        r = https_get(self.srv.port, ctx, headers={"Accept": "application/json"})
        self.assertEqual(r.version, "TLSv1.2")
        self.assertEqual(json.loads(r.body)["version"], "TLSv1.2")

    def test_no_sni_when_the_client_connects_by_ip_address(self):
        # Python sends no SNI for an IP address (the leaf has IP:127.0.0.1)
        s = tls_connect(self.srv.port, self.ctx, server_hostname="127.0.0.1")
        with s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n")
            data = recv_all(s)
        o = json.loads(data.split(b"\r\n\r\n", 1)[1])
        self.assertIsNone(o["sni"], data)

    def test_oversized_request_gets_431(self):
        s = tls_connect(self.srv.port, self.ctx)
        with s:
            s.sendall(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 9000)
            data = recv_all(s)
        self.assertTrue(data.startswith(b"HTTP/1.1 431 "), data[:200])

    def test_text_log_line_per_connection(self):
        r = https_get(self.srv.port, self.ctx)
        line = self.srv.wait_log(lambda l: r.local in l)
        self.assertIsNotNone(line, self.srv.stderr()[-2000:])
        self.assertIn(" %s scenario=good sni=localhost version=%s cipher=%s " % (
            r.local, r.version, r.cipher), line)
        self.assertIn(" client=- ok ", line)


class LogJson(ServeCase):
    """--log-json: every stderr line is one JSON object per connection."""

    def test_every_stderr_line_is_a_json_object(self):
        root = os.path.join(_dir("logjson-"), "root.pem")
        srv = self.serve("--listen", "127.0.0.1:0", "--write-ca", root, "--log-json")
        r = https_get(srv.port, client_context(root))
        with socket.create_connection(("127.0.0.1", srv.port)) as s:   # not TLS at all
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            s.recv(100)
        self.assertIsNotNone(srv.wait_log(lambda l: "failed" in l), srv.stderr())
        objs = srv.json_log()
        self.assertEqual(len(objs), 2, srv.stderr())
        good = [o for o in objs if o["peer"] == r.local]
        self.assertEqual(len(good), 1, srv.stderr())
        o = good[0]
        for k in ("time", "peer", "scenario", "sni", "version", "cipher", "alpn", "client_cert",
                  "ok", "result", "handshake_ms"):
            self.assertIn(k, o)
        self.assertRegex(o["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual((o["scenario"], o["sni"], o["version"], o["cipher"], o["ok"],
                          o["result"]), ("good", "localhost", r.version, r.cipher, True, "ok"))
        self.assertIsNone(o["client_cert"])
        self.assertGreaterEqual(o["handshake_ms"], 0)
        bad = [o for o in objs if o["peer"] != r.local][0]
        self.assertFalse(bad["ok"])
        self.assertIn("handshake failed", bad["result"])


class Echo(ServeCase):
    """--echo: bytes come back as sent, on one connection, any number of times."""

    @classmethod
    def setUpClass(cls):
        cls.root = os.path.join(_dir("echo-"), "root.pem")
        cls.srv = cls.class_serve("--listen", "127.0.0.1:0", "--write-ca", cls.root, "--echo")
        cls.ctx = client_context(cls.root)

    def read_exactly(self, s, n):
        buf = b""
        while len(buf) < n:
            b = s.recv(n - len(buf))
            self.assertTrue(b, "connection closed after %d of %d bytes" % (len(buf), n))
            buf += b
        return buf

    def test_echoes_each_message(self):
        with tls_connect(self.srv.port, self.ctx) as s:
            for msg in (b"hello\n", b"GET / HTTP/1.1\r\n\r\n", bytes(range(256)), b"x"):
                s.sendall(msg)
                self.assertEqual(self.read_exactly(s, len(msg)), msg)

    def test_echoes_a_large_stream(self):
        # One thread, non-blocking: an SSL socket must not be read and
        # written from two threads at once (OpenSSL's SSL objects are not
        # thread-safe), which made an earlier two-thread version flaky.
        data = os.urandom(512 * 1024)
        got = bytearray()
        sent = 0
        with tls_connect(self.srv.port, self.ctx) as s:
            s.setblocking(False)
            deadline = time.monotonic() + 15
            while len(got) < len(data) and time.monotonic() < deadline:
                r, w, _ = select.select([s], [s] if sent < len(data) else [], [], 1)
                if w:
                    try:
                        sent += s.send(data[sent:sent + 16384])
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        pass
                if r or s.pending():
                    try:
                        while True:
                            b = s.recv(65536)
                            if not b:
                                break
                            got += b
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        pass
        self.assertEqual(len(got), len(data), "the echo stopped before %d bytes came back" % len(data))
        self.assertTrue(bytes(got) == data, "echoed stream differs")


class Alpn(ServeCase):
    """--alpn: negotiation as curl and Python see it. The server answers
    HTTP/1.1, so it refuses to offer h2 unless it only echoes."""

    @classmethod
    def setUpClass(cls):
        cls.root = os.path.join(_dir("alpn-"), "root.pem")
        cls.srv = cls.class_serve("--listen", "127.0.0.1:0", "--write-ca", cls.root,
                                  "--alpn", "http/1.1,x-test/1", "--log-json")

    def python_alpn(self, offer, srv=None):
        srv = srv or self.srv
        s = tls_connect(srv.port, client_context(self.root, alpn=offer))
        with s:
            local = "%s:%d" % s.getsockname()[:2]
            got = s.selected_alpn_protocol()
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            data = recv_all(s).decode()
        return got, data, local

    def test_python_gets_the_servers_first_choice(self):
        for offer, want in ((["x-test/1", "http/1.1"], "http/1.1"), (["http/1.1", "x-test/1"], "http/1.1"),
                            (["x-test/1"], "x-test/1")):
            with self.subTest(offer=offer):
                got, data, _ = self.python_alpn(offer)
                self.assertEqual(got, want)
                self.assertEqual(body_fields(data.split("\r\n\r\n", 1)[1])["alpn"], want)

    def test_no_alpn_when_the_client_offers_none_or_nothing_in_common(self):
        for offer in (None, ["spdy/3"]):
            with self.subTest(offer=offer):
                got, data, _ = self.python_alpn(offer)
                self.assertEqual((got, body_fields(data.split("\r\n\r\n", 1)[1])["alpn"]), (None, "-"))

    def test_curl_sees_http11_negotiated(self):
        require_tools("curl")
        r = curl(self.srv.port, self.root, "-v")
        self.assertEqual(r.rc, 0, r.err[-2000:])
        self.assertRegex(r.err, r"ALPN[:,] server accepted (to use )?http/1\.1")
        self.assertEqual(body_fields(r.out)["alpn"], "http/1.1")

    def test_h2_is_refused_unless_echoing(self):
        # A server that picks h2 and then answers HTTP/1.1 breaks every h2 client.
        rc, out, err, _ = serve_fails("--listen", "127.0.0.1:0", "--alpn", "h2,http/1.1")
        self.assertEqual(rc, 3, err)
        self.assertIn("h2", err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_h2_with_echo_is_negotiated(self):
        root = os.path.join(_dir("alpn-echo-"), "root.pem")
        srv = self.serve("--listen", "127.0.0.1:0", "--write-ca", root, "--alpn", "h2", "--echo")
        s = tls_connect(srv.port, client_context(root, alpn=["h2"]))
        with s:
            self.assertEqual(s.selected_alpn_protocol(), "h2")
            s.sendall(b"ping")
            self.assertEqual(s.recv(4), b"ping")

    def test_log_names_the_negotiated_protocol(self):
        for offer, want in ((["http/1.1"], "http/1.1"), (["x-test/1"], "x-test/1"), (None, None)):
            with self.subTest(offer=offer):
                _, _, local = self.python_alpn(offer)
                self.assertIsNotNone(self.srv.wait_log(lambda l: local in l), self.srv.stderr())
                entry = [o for o in self.srv.json_log() if o["peer"] == local][0]
                self.assertEqual(entry["alpn"], want, entry)


class MutualTLS(ServeCase):
    """`serve --client-ca clientca.pem --require-client-cert` (text log) and the
    same with --log-json; client certificates made with openssl."""

    @classmethod
    def setUpClass(cls):
        cls.dir = _dir("mtls-")
        cls.pki = ClientPKI(cls.dir)
        cls.root = os.path.join(cls.dir, "root.pem")
        cls.srv = cls.class_serve("--listen", "127.0.0.1:0", "--write-ca", cls.root,
                                  "--client-ca", cls.pki.ca, "--require-client-cert")
        cls.root2 = os.path.join(cls.dir, "root2.pem")
        cls.jsrv = cls.class_serve("--listen", "127.0.0.1:0", "--write-ca", cls.root2,
                                   "--client-ca", cls.pki.ca, "--require-client-cert",
                                   "--log-json")
        cls.alice = Pki.subject_rfc4514(cls.pki.alice[0])

    def test_subject_helper(self):
        self.assertEqual(self.alice, "CN=alice client,O=tlsprobe tests")

    def test_curl_with_client_cert_succeeds_and_is_named(self):
        require_tools("curl")
        cert, key = self.pki.alice
        r = curl(self.srv.port, self.root, "--cert", cert, "--key", key)
        self.assertEqual(r.rc, 0, r.err)
        self.assertEqual(body_fields(r.out)["client cert"], self.alice, r.out)
        line = self.srv.wait_log(lambda l: "client=" + self.alice in l)
        self.assertIsNotNone(line, self.srv.stderr())
        self.assertRegex(line, r" client=%s ok " % re.escape(self.alice))

    def test_curl_without_client_cert_fails(self):
        require_tools("curl")
        r = curl(self.srv.port, self.root)
        # 56 with "alert certificate required", or 55 when curl's getpeername()
        # loses the race against the server's close (see Scenarios.test_curl)
        self.assertIn(r.rc, (55, 56), r.err)
        self.assertNotIn("tlsprobe reference server", r.out)
        if r.rc == 56:
            self.assertIn("alert certificate required", r.err)

    def test_curl_with_a_certificate_from_another_ca_fails(self):
        require_tools("curl")
        cert, key = self.pki.rogue
        r = curl(self.srv.port, self.root, "--cert", cert, "--key", key)
        self.assertNotEqual(r.rc, 0, r.out)
        self.assertNotIn("tlsprobe reference server", r.out)

    def test_certificate_without_client_auth_eku_is_refused(self):
        # serverAuth-only: not valid for client authentication (RFC 5280
        # 4.2.1.12); OpenSSL-based servers (nginx) refuse it.
        cert, key = self.pki.serveronly
        ctx = client_context(self.root, cert=cert, key=key)
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            https_get(self.srv.port, ctx)

    def test_python_with_client_cert_succeeds(self):
        cert, key = self.pki.alice
        r = https_get(self.srv.port, client_context(self.root, cert=cert, key=key),
                      headers={"Accept": "application/json"})
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.body)["client_cert"], self.alice)

    def test_python_without_client_cert_fails(self):
        # the alert, or SSLEOFError when the server's RST beats the request
        # (see test_python_without_client_cert_sees_the_alert)
        with self.assertRaises(ssl.SSLError) as cm:
            https_get(self.srv.port, client_context(self.root))
        self.assertIn(cm.exception.reason, ("TLSV13_ALERT_CERTIFICATE_REQUIRED", None))
        # a client that only reads after the handshake always gets the alert
        with tls_connect(self.srv.port, client_context(self.root)) as s:
            with self.assertRaises(ssl.SSLError) as cm:
                s.recv(100)
        self.assertEqual(cm.exception.reason, "TLSV13_ALERT_CERTIFICATE_REQUIRED")

    def test_python_without_client_cert_sees_the_alert(self):
        # as Scenarios.test_http_clients_see_the_certificate_required_alert
        seen = []
        for _ in range(20):
            try:
                https_get(self.srv.port, client_context(self.root))
                seen.append("no error")
            except (ssl.SSLError, OSError) as e:
                seen.append(getattr(e, "reason", None) or repr(e))
        wrong = [x for x in seen if x != "TLSV13_ALERT_CERTIFICATE_REQUIRED"]
        self.assertEqual(wrong, [], "%d of 20 requests did not see the alert" % len(wrong))

    def test_tlsprobe_probe_with_and_without_client_cert(self):
        cert, key = self.pki.alice
        target = "localhost:%d" % self.srv.port
        r = probe_json(target, "--ca-file", self.root, "--no-system-ca", "--client-cert", cert,
                       "--client-key", key)
        self.assertEqual((r.rc, r.obj["status"]), (0, "ok"), dump(r.obj))
        self.assertTrue(r.obj["tls"]["client_cert_requested"], dump(r.obj))
        r = probe_json(target, "--ca-file", self.root, "--no-system-ca")
        self.assertEqual((r.rc, r.obj["error"] and r.obj["error"]["code"]),
                         (2, "client-cert-required"), dump(r.obj))

    def test_log_json_names_the_client(self):
        cert, key = self.pki.alice
        ok = https_get(self.jsrv.port, client_context(self.root2, cert=cert, key=key))
        try:
            https_get(self.jsrv.port, client_context(self.root2))
        except ssl.SSLError:
            pass
        self.assertIsNotNone(self.jsrv.wait_log(lambda l: '"ok":false' in l), self.jsrv.stderr())
        objs = self.jsrv.json_log()
        mine = [o for o in objs if o["peer"] == ok.local]
        self.assertEqual(len(mine), 1, self.jsrv.stderr())
        self.assertEqual((mine[0]["client_cert"], mine[0]["ok"]), (self.alice, True))
        refused = [o for o in objs if not o["ok"]]
        self.assertTrue(refused, self.jsrv.stderr())
        self.assertIsNone(refused[0]["client_cert"])
        self.assertRegex(refused[0]["result"], "(?i)certificate")


class RequestClientCert(ServeCase):
    """`--request-client-cert`: asks, accepts clients with or without one."""

    @classmethod
    def setUpClass(cls):
        cls.dir = _dir("mtls-req-")
        cls.pki = ClientPKI(cls.dir)
        cls.root = os.path.join(cls.dir, "root.pem")
        cls.srv = cls.class_serve("--listen", "127.0.0.1:0", "--write-ca", cls.root,
                                  "--client-ca", cls.pki.ca, "--request-client-cert")

    def test_curl_with_client_cert(self):
        require_tools("curl")
        cert, key = self.pki.alice
        r = curl(self.srv.port, self.root, "--cert", cert, "--key", key)
        self.assertEqual(r.rc, 0, r.err)
        self.assertEqual(body_fields(r.out)["client cert"], Pki.subject_rfc4514(cert))

    def test_curl_without_client_cert(self):
        require_tools("curl")
        r = curl(self.srv.port, self.root)
        self.assertEqual(r.rc, 0, "curl exit %d: %s\nserver log: %s" % (
            r.rc, r.err, self.srv.stderr()[-600:]))
        self.assertEqual(body_fields(r.out)["client cert"], "none")

    def test_python_with_and_without_client_cert(self):
        cert, key = self.pki.alice
        r = https_get(self.srv.port, client_context(self.root, cert=cert, key=key))
        self.assertEqual(body_fields(r.body)["client cert"], Pki.subject_rfc4514(cert))
        r = https_get(self.srv.port, client_context(self.root))
        self.assertEqual(body_fields(r.body)["client cert"], "none")

    def test_tlsprobe_probe_without_client_cert_is_ok(self):
        r = probe_json("localhost:%d" % self.srv.port, "--ca-file", self.root, "--no-system-ca")
        self.assertEqual((r.rc, r.obj["status"]), (0, "ok"), dump(r.obj))
        self.assertTrue(r.obj["tls"]["client_cert_requested"], dump(r.obj))

    def test_a_certificate_that_does_not_verify_is_still_refused(self):
        # Asking is optional; a certificate that is sent must verify.
        cert, key = self.pki.rogue
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            https_get(self.srv.port, client_context(self.root, cert=cert, key=key))


class OwnCertificate(ServeCase):
    """--cert/--key: serves an openssl-made chain instead of a scenario."""

    def test_curl_trusts_the_issuing_ca(self):
        require_tools("curl")
        pki = ClientPKI(_dir("own-"))
        cert, key = pki.serveronly      # serverAuth, SAN DNS:localhost, by pki.ca
        srv = self.serve("--cert", cert, "--key", key, "--listen", "127.0.0.1:0")
        self.assertEqual(srv.listening, [("127.0.0.1", srv.port, "your certificate")])
        r = curl(srv.port, pki.ca)
        self.assertEqual(r.rc, 0, r.err)
        self.assertEqual(body_fields(r.out)["scenario"], "(certificate files)")


class RefusesToStart(ServeCase):
    """Bad setups: exit 3 at once with one line on stderr naming the problem,
    and nothing listening."""

    @classmethod
    def setUpClass(cls):
        cls.dir = _dir("refuse-")
        cls.cert, cls.key = self_signed(cls.dir, "a")
        cls.other_cert, cls.other_key = self_signed(cls.dir, "b")

    def assertRefused(self, args, *words):
        rc, out, err, took = serve_fails(*args)
        ctx = "tlsprobe serve %s -> exit %d in %.1fs\nstdout: %r\nstderr: %r" % (
            " ".join(map(str, args)), rc, took, out, err)
        self.assertEqual(rc, 3, ctx)
        self.assertTrue(err.endswith("\n") and err.count("\n") == 1, "not one line\n" + ctx)
        self.assertTrue(err.startswith("tlsprobe: "), ctx)
        for w in words:
            self.assertIn(w, err, ctx)
        self.assertNotIn("listening on", out, ctx)
        self.assertLess(took, 10, ctx)
        return err

    def test_key_does_not_match_certificate(self):
        self.assertRefused(["--cert", self.cert, "--key", self.other_key, "--listen",
                            "127.0.0.1:0"], "does not belong", self.cert, self.other_key)

    def test_port_taken(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = s.getsockname()[1]
            self.assertRefused(["--listen", "127.0.0.1:%d" % port], str(port), "taken")
            self.assertRefused(["--cert", self.cert, "--key", self.key, "--listen",
                                "127.0.0.1:%d" % port], str(port), "taken")

    def test_missing_files(self):
        nope = os.path.join(self.dir, "nope.pem")
        self.assertRefused(["--cert", nope, "--key", self.key, "--listen", "127.0.0.1:0"],
                           nope, "No such file")
        self.assertRefused(["--cert", self.cert, "--key", nope, "--listen", "127.0.0.1:0"],
                           nope, "No such file")
        self.assertRefused(["--client-ca", nope, "--listen", "127.0.0.1:0"], nope,
                           "No such file")

    def test_directory_instead_of_a_certificate(self):
        self.assertRefused(["--cert", self.dir, "--key", self.key, "--listen", "127.0.0.1:0"],
                           self.dir)

    def test_file_without_permission(self):
        d = _dir("perm-")
        os.chmod(d, 0o755)
        cert, key = self_signed(d, "c")
        os.chmod(cert, 0o644)
        os.chmod(key, 0o600)
        pre = None
        if os.geteuid() == 0:
            # root reads anything: run the server as nobody instead, with
            # the certificate readable by all and the key by root only
            def pre():
                os.setgid(65534)
                os.setuid(65534)
            os.chmod(scratch_dir(), 0o711)
            parent = os.path.dirname(scratch_dir())
            while parent != os.path.dirname(parent):
                if not os.stat(parent).st_mode & 0o001:
                    self.skipTest("%s is not searchable by nobody" % parent)
                parent = os.path.dirname(parent)
            p = run_tlsprobe("--version", preexec_fn=pre)
            if p.returncode != 0:
                self.skipTest("cannot run tlsprobe as nobody here")
        else:
            os.chmod(key, 0)
        p = run_tlsprobe("serve", "--cert", cert, "--key", key, "--listen", "127.0.0.1:0",
                         preexec_fn=pre, timeout=15, errors="strict")
        err = p.stderr
        self.assertEqual(p.returncode, 3, err)
        self.assertEqual(err.count("\n"), 1, err)
        self.assertIn(key, err)
        self.assertIn("Permission denied", err)

    def test_cert_without_key_and_key_without_cert(self):
        self.assertRefused(["--cert", self.cert, "--listen", "127.0.0.1:0"], "--key")
        self.assertRefused(["--key", self.key, "--listen", "127.0.0.1:0"], "--cert")

    def test_unknown_scenario(self):
        self.assertRefused(["--scenario", "no-such-scenario", "--listen", "127.0.0.1:0"],
                           "no-such-scenario", "--list-scenarios")

    def test_client_ca_file_without_certificates(self):
        self.assertRefused(["--client-ca", self.key, "--listen", "127.0.0.1:0"], self.key)


class WritesFilesSafely(ServeCase):
    """--write-ca and --write-client-cert write as `tlsprobe ca` does: a new
    file renamed into place, with its mode from the start.  A symbolic link,
    a directory or someone else's file is never written into: exit 3 with one
    line naming the path and what to do."""

    def assertRefused(self, args, path, *words):
        rc, out, err, took = serve_fails("--listen", "127.0.0.1:0", *args)
        ctx = "tlsprobe serve %s -> exit %d\nstdout: %r\nstderr: %r" % (" ".join(args), rc, out, err)
        self.assertEqual(rc, 3, ctx)
        self.assertEqual(err.count("\n"), 1, ctx)
        self.assertTrue(err.startswith("tlsprobe: cannot write %s: " % path), ctx)
        for w in words:
            self.assertIn(w, err, ctx)
        self.assertNotIn("listening on", out, ctx)

    def assertUntouched(self, path, content, mode):
        st = os.lstat(path)
        self.assertEqual(oct(st.st_mode & 0o7777), oct(mode), path)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), content, path)

    def assertNoTemporaryFiles(self, d):
        self.assertEqual([f for f in os.listdir(d) if ".tmp-" in f], [], d)

    def test_write_ca_through_a_symbolic_link_is_refused(self):
        d = _dir("link-")
        victim, link = os.path.join(d, "victim"), os.path.join(d, "ca.pem")
        with open(victim, "wb") as f:
            f.write(b"secret\n")
        os.chmod(victim, 0o600)
        os.symlink("victim", link)
        self.assertRefused(["--write-ca", link], link, "symbolic link", "remove it or give another path")
        self.assertUntouched(victim, b"secret\n", 0o600)
        self.assertEqual(os.readlink(link), "victim")
        # a dangling link would have created its target
        dangling = os.path.join(d, "dangling.pem")
        os.symlink("made-through-the-link", dangling)
        self.assertRefused(["--write-ca", dangling], dangling, "symbolic link")
        self.assertFalse(os.path.lexists(os.path.join(d, "made-through-the-link")))
        # and the client certificate's files: nothing written, not even the other one
        os.symlink("victim", os.path.join(d, "client.key"))
        prefix = os.path.join(d, "client")
        self.assertRefused(["--write-client-cert", prefix], prefix + ".key", "symbolic link")
        self.assertUntouched(victim, b"secret\n", 0o600)
        self.assertFalse(os.path.lexists(prefix + ".pem"))
        self.assertNoTemporaryFiles(d)

    def test_write_ca_to_a_directory_is_refused(self):
        d = _dir("dir-")
        self.assertRefused(["--write-ca", d], d, "a directory", "give another path")

    def test_someone_elses_key_file_in_a_sticky_directory_is_refused(self):
        if os.geteuid() != 0:
            self.skipTest("making a file of another user needs root")
        d = _dir("sticky-")
        os.chmod(d, 0o1777)
        prefix = os.path.join(d, "client")
        with open(prefix + ".key", "wb"):
            pass
        os.chmod(prefix + ".key", 0o666)
        os.chown(prefix + ".key", 65534, 65534)
        self.assertRefused(["--write-client-cert", prefix], prefix + ".key", "another user",
                           "remove it or give another path")
        self.assertUntouched(prefix + ".key", b"", 0o666)
        self.assertEqual(os.stat(prefix + ".key").st_uid, 65534)
        self.assertFalse(os.path.lexists(prefix + ".pem"))
        self.assertNoTemporaryFiles(d)

    def test_own_files_are_replaced_with_the_modes_they_must_have(self):
        d = _dir("own-")
        os.chmod(d, 0o1777)
        ca, prefix = os.path.join(d, "ca.pem"), os.path.join(d, "client")
        for path in (ca, prefix + ".key", prefix + ".pem"):
            with open(path, "wb") as f:
                f.write(b"old\n")
            os.chmod(path, 0o666)
        self.serve("--listen", "127.0.0.1:0", "--write-ca", ca, "--write-client-cert", prefix)
        for path, mode, pem in ((ca, 0o644, b"-----BEGIN CERTIFICATE-----"),
                                (prefix + ".pem", 0o644, b"-----BEGIN CERTIFICATE-----"),
                                (prefix + ".key", 0o600, b"-----BEGIN PRIVATE KEY-----")):
            st = os.lstat(path)
            self.assertEqual(oct(st.st_mode & 0o7777), oct(mode), path)
            with open(path, "rb") as f:
                self.assertTrue(f.read().startswith(pem), path)
        self.assertNoTemporaryFiles(d)


class Lifecycle(ServeCase):
    """Stopping, signals, IPv6."""

    def test_sigterm_with_open_connections_exits_0_promptly(self):
        root = os.path.join(_dir("life-"), "root.pem")
        # Idle connections would hold a server that waits for them until the
        # handshake timeout (60 s here); it must exit within STOP_GRACE.
        srv = Serve("--listen", "127.0.0.1:0", "--write-ca", root,
                       "--handshake-timeout", "60")
        socks = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(20)]
        tls = tls_connect(srv.port, client_context(root))   # mid-request, after the handshake
        try:
            rc, took = srv.stop()
        finally:
            for s in socks:
                s.close()
            tls.close()
        self.assertEqual(rc, 0, "exit status %r after %.1fs\n%s" % (rc, took, srv.stderr()))

    def test_sigterm_as_soon_as_it_listens_exits_0(self):
        # A client may send it the moment it reads the listening line (and
        # the --write-ca line after it): the signal is caught from before.
        for _ in range(10):
            srv = Serve("--listen", "127.0.0.1:0", "--write-ca",
                        os.path.join(_dir("early-"), "root.pem"))
            rc, took = srv.stop()
            self.assertEqual(rc, 0, "exit status %r after %.1fs\n%s" % (rc, took, srv.stderr()))

    def test_sigint_exits_0(self):
        srv = Serve("--listen", "127.0.0.1:0")
        srv.proc.send_signal(2)
        self.assertEqual(srv.proc.wait(STOP_GRACE), 0)
        srv.stop()

    def test_ipv6_loopback(self):
        harness.require_ipv6()
        require_tools("curl")
        root = os.path.join(_dir("v6-"), "root.pem")
        srv = self.serve("--listen", "[::1]:0", "--write-ca", root)
        self.assertEqual(srv.listening, [("::1", srv.port, "good")])
        r = run_client(["curl", "-sS", "--max-time", "10", "--cacert", root,
                    "https://[::1]:%d/" % srv.port])
        self.assertEqual(r.rc, 0, r.err)
        self.assertEqual(body_fields(r.out)["your address"].split("]:")[0], "[::1")


class Robustness(ServeCase):
    """200 hostile clients at once against `--handshake-timeout 2`, while good
    clients keep being served: TCP and then nothing (stall), half a ClientHello
    (partial), a ClientHello one byte every 0.25 s (trickle), 4 KB of random
    bytes (garbage), a TCP RST before or after a whole ClientHello (reset)."""

    TIMEOUT = 2.0
    KINDS = (["stall"] * 40 + ["partial"] * 60 + ["trickle"] * 20 + ["garbage"] * 40 +
             ["reset"] * 40)
    STALLED = ("stall", "partial", "trickle")
    RSS_LIMIT_KB = 64 * 1024
    RSS_SLACK_KB = 8 * 1024

    def test_hostile_clients(self):
        root = os.path.join(_dir("robust-"), "root.pem")
        srv = self.serve("--listen", "127.0.0.1:0", "--write-ca", root,
                         "--handshake-timeout", "%g" % self.TIMEOUT)
        ctx = client_context(root)
        for _ in range(10):
            https_get(srv.port, ctx)
        base = srv.rss_kb()
        hello = client_hello_bytes()
        self.assertGreater(len(hello), 100)

        # good clients, in threads, for the whole attack
        done = threading.Event()
        results, lock = [], threading.Lock()

        def good():
            while not done.is_set():
                t0 = time.monotonic()
                try:
                    r = https_get(srv.port, ctx, timeout=10)
                    ok = r.status == 200 and "scenario:     good" in r.body
                    err = None
                except Exception as e:      # recorded, asserted below
                    ok, err = False, repr(e)
                with lock:
                    results.append((ok, time.monotonic() - t0, err))
        threads = [threading.Thread(target=good, daemon=True) for _ in range(4)]
        for t in threads:
            t.start()

        sel = selectors.DefaultSelector()
        opened, closed, peak = {}, {}, base
        t_attack = time.monotonic()
        for i, kind in enumerate(self.KINDS):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            opened[s] = (kind, time.monotonic())
            if kind == "partial":
                s.sendall(hello[:len(hello) // 2])
            elif kind == "garbage":
                s.sendall(os.urandom(4096))
            elif kind == "reset":
                if i % 2:
                    s.sendall(hello)
                rst_close(s)
                del opened[s]
                continue
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
        limit = self.TIMEOUT + 2.0
        deadline = time.monotonic() + limit + 1.0
        trickle = {s: 0 for s, (kind, _) in opened.items() if kind == "trickle"}
        next_drip = time.monotonic()
        while sel.get_map() and time.monotonic() < deadline:
            if time.monotonic() >= next_drip:
                next_drip += 0.25
                for s in trickle:
                    if s not in closed and trickle[s] < len(hello) - 1:
                        try:
                            s.send(hello[trickle[s]:trickle[s] + 1])
                            trickle[s] += 1
                        except OSError:
                            pass
            for key, _ in sel.select(0.05):
                s = key.fileobj
                try:
                    data = s.recv(65536)
                except (ConnectionError, OSError):
                    data = b""
                if not data:
                    closed[s] = time.monotonic()
                    sel.unregister(s)
            peak = max(peak, srv.rss_kb())
        stuck = [opened[s][0] for s in opened if s not in closed]
        early = sorted((closed[s] - t0, kind) for s, (kind, t0) in opened.items()
                       if s in closed and kind in self.STALLED
                       and closed[s] - t0 < self.TIMEOUT - 0.2)
        late = sorted((closed[s] - t0, kind) for s, (kind, t0) in opened.items()
                      if s in closed and closed[s] - t0 > limit)
        # keep the good clients going a moment after the last close
        time.sleep(0.3)
        done.set()
        for t in threads:
            t.join(15)
        for s in opened:
            s.close()
        attack_time = time.monotonic() - t_attack

        self.assertEqual(stuck, [], "connections the server never closed")
        self.assertEqual(late, [], "closed later than handshake-timeout + 2 s")
        self.assertEqual(early, [], "stalled clients dropped before handshake-timeout")
        failures = [r for r in results if not r[0]]
        self.assertEqual(failures, [], "good clients failed")
        self.assertGreaterEqual(len(results), 20, "too few good requests in %.1fs" % attack_time)
        # A good request queued behind the stalled clients would wait for
        # their handshake timeout: every one must have finished before it.
        slowest = max(r[1] for r in results)
        self.assertLess(slowest, self.TIMEOUT,
                        "a good request took %.2fs during the attack: it waited for the "
                        "stalled clients' timeout" % slowest)
        # AddressSanitizer keeps freed memory in quarantine and adds shadow
        # memory: the bound is about tlsprobe, so it is checked without it.
        sanitized = os.environ.get("TLSPROBE_SANITIZED", "") not in ("", "none")
        if not sanitized:
            self.assertLess(peak, self.RSS_LIMIT_KB, "peak RSS %d KB (baseline %d KB)" % (peak, base))

        # still serving, memory back near the baseline, every stall logged
        r = https_get(srv.port, ctx)
        self.assertEqual(r.status, 200)
        after = srv.rss_kb()
        if not sanitized:
            self.assertLess(after, base + self.RSS_SLACK_KB,
                            "RSS %d KB after, baseline %d KB, peak %d KB" % (after, base, peak))
        n_stalled = sum(self.KINDS.count(k) for k in self.STALLED)
        timeouts = [l for l in srv.log_lines() if "timeout: the handshake did not finish" in l]
        self.assertGreaterEqual(len(timeouts), n_stalled, srv.stderr()[-2000:])
        print_stats = os.environ.get("SERVE_TEST_STATS")
        if print_stats:
            closes = sorted(closed[s] - t0 for s, (kind, t0) in opened.items()
                            if s in closed and kind != "garbage")
            print("# rss base %d peak %d after %d KB; %d good requests, slowest %.3fs; "
                  "stalled closed after %.2f..%.2fs" % (base, peak, after, len(results),
                                                         slowest, closes[0], closes[-1]))


class SlowRequests(ServeCase):
    """Slowloris: clients that finish the handshake, then send a request that
    never ends, one byte a second.  Each byte restarts the idle timer (10 s),
    never the whole request's deadline (--request-timeout, counted from
    accept), and a quarter of each worker's slots is kept for handshakes: a
    new client's handshake makes room by dropping the oldest connection past
    its own.  Good clients are served meanwhile, within a timeout shorter
    than the deadline that would release the slow ones' slots; every slow
    client is cut at that deadline, or dropped earlier to make room.

    One worker, its cap made small through RLIMIT_NOFILE: tlsprobe keeps 64
    descriptors spare and gives the workers the rest (so, before, a slow
    client held its slot for as long as it kept trickling)."""

    SLOTS = 8
    SLOW_CLIENTS = 24
    REQUEST_TIMEOUT = 5.0
    GOOD_TIMEOUT = 3.0   # less than REQUEST_TIMEOUT: no good client waits for a deadline
    SLACK = 2.0
    DEADLINE_RESULT = "timeout: the request did not finish within 5 s of connecting"
    DROPPED_RESULT = "dropped to make room for a new client"

    @classmethod
    def small_limits(cls):
        die_with_parent()
        resource.setrlimit(resource.RLIMIT_NOFILE, (64 + cls.SLOTS, 64 + cls.SLOTS))

    def slow_client(self, port, ctx, rec, stop):
        """Handshake, then one byte of a request that never ends every second,
        until the server closes: rec gets port, handshake and closed times."""
        try:
            s = tls_connect(port, ctx, timeout=30)
        except (OSError, ssl.SSLError) as e:
            rec["error"] = repr(e)
            return
        rec["port"], rec["handshake"] = s.getsockname()[1], time.monotonic()
        request = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 4000
        s.settimeout(1.0)
        try:
            for i in range(len(request)):
                if stop.is_set():
                    return
                try:
                    if s.recv(1024) == b"":
                        break
                except socket.timeout:
                    s.sendall(request[i:i + 1])
        except (OSError, ssl.SSLError):
            pass
        finally:
            s.close()
        rec["closed"] = time.monotonic()

    def test_slow_requests_are_cut_at_the_deadline_and_good_clients_are_served(self):
        root = os.path.join(_dir("slow-"), "root.pem")
        srv = self.serve("--listen", "127.0.0.1:0", "--write-ca", root, "--workers", "1", "--log-json",
                         "--request-timeout", "%g" % self.REQUEST_TIMEOUT, preexec_fn=self.small_limits)
        ctx = client_context(root)
        stop = threading.Event()
        recs = [{} for _ in range(self.SLOW_CLIENTS)]
        threads = [threading.Thread(target=self.slow_client, args=(srv.port, ctx, r, stop), daemon=True)
                   for r in recs]
        for t in threads:
            t.start()
        # the slow clients hold every slot for requests (or, before, every slot)
        wait_for(lambda: sum("handshake" in r for r in recs) >= self.SLOTS, 10)

        good = []
        end = time.monotonic() + self.REQUEST_TIMEOUT + self.SLACK + 1
        while time.monotonic() < end and any("closed" not in r and "error" not in r for r in recs):
            try:
                r = https_get(srv.port, ctx, timeout=self.GOOD_TIMEOUT)
                good.append(r.status == 200 and "scenario:     good" in r.body or r.status)
            except (OSError, ssl.SSLError) as e:
                good.append(repr(e))
            time.sleep(0.1)
        stop.set()
        for t in threads:
            t.join(10)

        ctx_msg = "slow clients: %r\ngood: %r\nlog tail: %s" % (recs, good[-5:], srv.stderr()[-1500:])
        self.assertGreater(len(good), 0, ctx_msg)
        self.assertEqual([g for g in good if g is not True], [], "good clients not served\n" + ctx_msg)
        self.assertEqual([r for r in recs if "closed" not in r], [],
                         "slow clients the server did not cut\n" + ctx_msg)
        late = [r for r in recs if r["closed"] - r["handshake"] > self.REQUEST_TIMEOUT + self.SLACK]
        self.assertEqual(late, [], "slow clients held past the request deadline\n" + ctx_msg)
        # the server's word for each: cut at the deadline, or dropped to make room
        results = {int(l["peer"].rsplit(":", 1)[1]): l["result"] for l in srv.json_log()}
        said = [results.get(r["port"], "no log line") for r in recs]
        self.assertEqual([w for w in said if not (w == self.DEADLINE_RESULT or w.startswith(self.DROPPED_RESULT))],
                         [], ctx_msg)
        self.assertIn(self.DEADLINE_RESULT, said, ctx_msg)


class Demo(unittest.TestCase):
    def test_demo_diagnoses_every_scenario_as_expected(self):
        p = run_tlsprobe("demo", "--color", "never", timeout=120, errors=None)
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, out[-2000:] + p.stderr.decode()[-1000:])
        last = out.rstrip("\n").splitlines()[-1]
        n = len(scenarios())
        self.assertEqual(last, "%d of %d scenarios diagnosed as expected." % (n, n), out[-2000:])
