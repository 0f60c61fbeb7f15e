"""tlsprobe fetch: an HTTPS request through libcurl, against real servers on loopback.

Peers:
* `tlsprobe serve` scenarios (good, missing-intermediate, untrusted-root,
  wrong-host, client-cert-required, and good with a client CA made by openssl);
  each writes its root with --write-ca, which the fetch trusts with
  --ca-file --no-system-ca.
* nginx, configured by harness.servers.Nginx in a temporary directory: TLS with
  HTTP/2 (leaf + intermediate made by openssl for localhost), redirects, a 404,
  a header, a slow location and an echo location proxied to a Python backend,
  and a plain-HTTP port.  Skipped when nginx is not installed.

The JSON is checked against tlsprobe/1 with the fetch additions
(harness.schema.check_fetch_schema) on every run.
"""

import os
import re
import socket
import time
import unittest

import harness
from harness import Pki, ProbeCase, Serve, dump, fetch_json, hostport, run_tlsprobe
from harness.pki import leaf_ext
from harness.schema import FETCH_TIMING_KEYS
from harness import servers
from harness.servers import FINAL_BODY, ROOT_BODY, SLOW_SECONDS

PKI = None
CURL_VERIFY_CODES = (51, 60)   # CURLE_PEER_FAILED_VERIFICATION (60; 51 in old libcurl)


def setUpModule():
    global PKI
    PKI = fetch_pki()


def fetch_pki():
    """root -> inter -> leaf (localhost); client_ca -> client.  EC P-256,
    validity shortening down the chain: no expires-soon, no outlives-issuer."""
    harness.require_tools("openssl")
    pki = Pki(harness.new_dir("pki-"))
    org = "/O=tlsprobe fetch tests/CN="
    pki.root = pki.issue("root", org + "tlsprobe fetch test root", "v3_root", days=3650)
    pki.inter = pki.issue("inter", org + "tlsprobe fetch test intermediate", "v3_inter",
                          pki.root, days=1825)
    pki.leaf = pki.issue("leaf", org + "localhost", leaf_ext(), pki.inter, days=365)
    pki.client_ca = pki.issue("client_ca", org + "tlsprobe fetch client CA", "v3_root",
                              days=3650)
    pki.client = pki.issue("client", org + "tlsprobe fetch client", "v3_client",
                           pki.client_ca, days=365)
    return pki


def serve(scenario, extra=(), host="127.0.0.1", port=0):
    """`tlsprobe serve --scenario NAME --listen HOST:PORT --write-ca FILE` (+ extra)."""
    return Serve("--scenario", scenario, "--listen", hostport(host, port), *extra, write_ca=True)


class FetchCase(ProbeCase):
    def assertTimingsOrdered(self, r):
        tm = r.obj["timing_ms"]
        for k in FETCH_TIMING_KEYS:
            self.assertIsInstance(tm[k], (int, float), "timing_ms.%s\n%s" % (k, dump(r.obj)))
        values = [tm[k] for k in FETCH_TIMING_KEYS]
        self.assertEqual(values, sorted(values),
                         "timings are cumulative: dns <= connect <= tls <= ttfb <= total\n"
                         + dump(r.obj))
        self.assertGreater(tm["total"], 0, dump(r.obj))
        self.assertLess(tm["total"], r.elapsed * 1000 + 1, "total longer than the run\n"
                        + dump(r.obj))

    def assertHttp(self, r, **want):
        got = {k: r.obj["http"][k] for k in want}
        self.assertEqual(got, want, dump(r.obj))

    def assertCurlFailed(self, r, codes=None):
        """curl's own code and message are kept next to the probe's diagnosis."""
        h = r.obj["http"]
        if codes:
            self.assertIn(h["curl_code"], codes, dump(r.obj))
        else:
            self.assertNotEqual(h["curl_code"], 0, dump(r.obj))
        self.assertIsInstance(h["curl_error"], str, dump(r.obj))
        self.assertNotEqual(h["curl_error"].strip(), "", dump(r.obj))
        self.assertIsNone(h["status"], dump(r.obj))
        self.assertEqual(h["hops"], [], dump(r.obj))

    def verdict(self, out):
        self.assertTrue(out, "no output")
        return out.splitlines()[0]


# --------------------------------------------------------------------------
# tlsprobe serve
# --------------------------------------------------------------------------

class ServeScenarios(FetchCase):
    """One `tlsprobe serve` per scenario for the class."""

    SCENARIOS = ("good", "missing-intermediate", "untrusted-root", "wrong-host",
                 "client-cert-required")

    @classmethod
    def setUpClass(cls):
        cls.srv = {s: cls.class_server(serve(s, extra=["--log-json"]))
                   for s in cls.SCENARIOS}

    def fetch(self, scenario, *extra, path="/"):
        srv = self.srv[scenario]
        return fetch_json(srv.url(path), "--ca-file", srv.ca, "--no-system-ca", *extra)

    def test_good_is_ok_200_over_http11_with_a_chain_of_2(self):
        srv = self.srv["good"]
        r = self.fetch("good")
        self.assertOutcome(r, 0, "ok", None)
        self.assertHttp(r, status=200, reason="OK", http_version="HTTP/1.1",
                        final_url=srv.url(), curl_code=0, curl_error=None,
                        hops=[{"status": 200, "url": srv.url()}])
        self.assertGreater(r.obj["http"]["size"], 0, dump(r.obj))
        self.assertTrue(r.obj["http"]["content_type"].startswith("text/plain"), dump(r.obj))
        self.assertIn(r.obj["tls"]["version"], ("TLSv1.2", "TLSv1.3"), dump(r.obj))
        self.assertEqual(r.obj["tls"]["alpn"], "http/1.1", dump(r.obj))
        self.assertEqual(len(r.obj["chain"]), 2, dump(r.obj))
        self.assertIn("localhost", self.leaf(r)["sans"])
        self.assertTrue(r.obj["chain"][1]["is_ca"], dump(r.obj))
        v = r.obj["verify"]
        self.assertEqual((v["trusted"], v["hostname_ok"], v["name"], v["problems"]),
                         (True, True, "localhost", []), dump(r.obj))
        self.assertIsNone(r.obj["error"], dump(r.obj))
        t = r.obj["target"]
        self.assertEqual((t["host"], t["port"], t["address"]),
                         ("localhost", srv.port, "127.0.0.1"), dump(r.obj))

    def test_good_timings_are_all_there_and_cumulative(self):
        self.assertTimingsOrdered(self.fetch("good"))

    def test_good_reports_the_sni_that_curl_sent(self):
        # target.sni: "the server name sent (SNI): --sni, else the host name;
        # null for an address" (tlsprobe-json(7)); curl sends "localhost".
        srv = self.srv["good"]
        before = len(srv.connections())
        r = self.fetch("good")
        logged = srv.wait_connections(before + 1)
        self.assertGreater(len(logged), before, "serve logged no connection")
        self.assertEqual(logged[-1]["sni"], "localhost", logged[-1])
        self.assertEqual(r.obj["target"]["sni"], "localhost",
                         "the server received SNI 'localhost'\n" + dump(r.obj))

    def test_good_text_verdict_names_the_status_and_http_version(self):
        srv = self.srv["good"]
        rc, out, err, _ = run_tlsprobe("fetch", srv.url(), "--ca-file", srv.ca, "--no-system-ca")
        self.assertEqual(rc, 0, out + err)
        line = self.verdict(out)
        self.assertTrue(line.startswith("OK"), line)
        self.assertIn("localhost:%d" % srv.port, line)
        self.assertIn("200 OK, HTTP/1.1", line)

    def test_good_quiet_prints_only_the_verdict(self):
        srv = self.srv["good"]
        rc, out, err, _ = run_tlsprobe("fetch", srv.url(), "--ca-file", srv.ca, "--no-system-ca",
                                 "-q")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(len(out.splitlines()), 1, out)
        self.assertIn("200 OK, HTTP/1.1", out)

    def assertTlsFinding(self, scenario, code, chain_len):
        r = self.fetch(scenario)
        self.assertOutcome(r, 2, "critical", code)
        self.assertProblem(r, code, severity="critical")
        self.assertIsNone(r.obj["error"], "a finding, not a probe error\n" + dump(r.obj))
        self.assertCurlFailed(r, CURL_VERIFY_CODES)
        self.assertEqual(len(r.obj["chain"]), chain_len, dump(r.obj))
        self.assertIsNotNone(r.obj["tls"], dump(r.obj))
        return r

    def test_missing_intermediate(self):
        self.assertTlsFinding("missing-intermediate", "missing-intermediate", 1)

    def test_untrusted_root(self):
        self.assertTlsFinding("untrusted-root", "untrusted-root", 2)

    def test_wrong_host_is_hostname_mismatch(self):
        r = self.assertTlsFinding("wrong-host", "hostname-mismatch", 2)
        self.assertFalse(r.obj["verify"]["hostname_ok"], dump(r.obj))
        self.assertEqual(r.obj["verify"]["name"], "localhost", dump(r.obj))

    def test_missing_intermediate_text_verdict(self):
        srv = self.srv["missing-intermediate"]
        rc, out, err, _ = run_tlsprobe("fetch", srv.url(), "--ca-file", srv.ca, "--no-system-ca")
        self.assertEqual(rc, 2, out + err)
        line = self.verdict(out)
        self.assertTrue(line.startswith("CRITICAL"), line)
        self.assertIn("(missing-intermediate)", line)

    def test_client_cert_required_without_a_client_cert(self):
        r = self.fetch("client-cert-required")
        self.assertError(r, "client-cert-required")
        self.assertCurlFailed(r)
        self.assertIn(r.obj["http"]["curl_error"], r.obj["error"]["message"],
                      "curl's message is kept in the error\n" + dump(r.obj))


class MutualTls(FetchCase):
    """`tlsprobe serve --scenario good --client-ca clientca.pem
    --require-client-cert`, the client CA and certificate made by openssl."""

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(serve("good", extra=[
            "--client-ca", PKI.client_ca.cert, "--require-client-cert", "--log-json"]))

    def fetch(self, *extra):
        return fetch_json(self.srv.url(), "--ca-file", self.srv.ca, "--no-system-ca", *extra)

    def with_cert(self):
        return self.fetch("--client-cert", PKI.client.cert, "--client-key", PKI.client.key)

    def test_with_the_client_cert_gets_200(self):
        before = len(self.srv.connections())
        r = self.with_cert()
        self.assertOutcome(r, 0, "ok", None)
        self.assertHttp(r, status=200, curl_code=0)
        logged = self.srv.wait_connections(before + 1)
        self.assertGreater(len(logged), before, "serve logged no connection")
        self.assertIn("tlsprobe fetch client", logged[-1]["client_cert"] or "", logged[-1])

    def test_with_the_client_cert_reports_the_request(self):
        # the server asked for (and got) a certificate: tls.client_cert_requested
        r = self.with_cert()
        self.assertHttp(r, status=200)
        self.assertTrue(r.obj["tls"]["client_cert_requested"],
                        "the server required a client certificate\n" + dump(r.obj))

    def test_without_a_client_cert_is_client_cert_required(self):
        r = self.fetch()
        self.assertError(r, "client-cert-required")
        self.assertCurlFailed(r)

    def test_a_client_cert_from_another_ca_is_refused(self):
        # the nginx leaf is a server certificate from another CA: never accepted
        r = self.fetch("--client-cert", PKI.leaf.cert, "--client-key", PKI.leaf.key)
        self.assertEqual((r.rc, r.obj["status"]), (2, "critical"), dump(r.obj))
        self.assertIsNone(r.obj["http"]["status"], dump(r.obj))
        self.assertNotEqual(r.obj["http"]["curl_code"], 0, dump(r.obj))


class DiagnosisWhereCurlWent(FetchCase):
    """When curl fails in TLS, the probe that explains it must look at the
    server curl talked to.  Two servers share port P: a good one at the address
    localhost resolves to first, an untrusted-root one at the other loopback
    address, where --resolve sends curl."""

    @classmethod
    def setUpClass(cls):
        harness.require_ipv6()
        first = socket.getaddrinfo("localhost", 443, type=socket.SOCK_STREAM)[0][4][0]
        if first not in ("127.0.0.1", "::1"):
            raise unittest.SkipTest("localhost resolves to %s first" % first)
        cls.good_addr = first
        cls.bad_addr = "::1" if first == "127.0.0.1" else "127.0.0.1"
        for _ in range(10):
            port = harness.free_port(cls.good_addr)
            try:
                good = serve("good", host=cls.good_addr, port=port)
            except RuntimeError:
                continue
            cls.class_server(good)
            try:
                bad = serve("untrusted-root", host=cls.bad_addr, port=port)
            except RuntimeError:
                good.stop()
                continue
            cls.class_server(bad)
            cls.port = port
            break
        else:
            raise unittest.SkipTest("no port free on both 127.0.0.1 and ::1")
        cls.roots = os.path.join(harness.scratch_dir(), "two-roots-%d.pem" % port)
        with open(cls.roots, "wb") as f:
            for path in (good.ca, bad.ca):
                with open(path, "rb") as g:
                    f.write(g.read())

    def fetch(self, addr):
        return fetch_json("https://localhost:%d/" % self.port, "--ca-file", self.roots,
                          "--no-system-ca", "--resolve", "localhost:%d:%s" % (self.port, addr))

    def test_resolve_to_the_good_server_is_ok(self):
        r = self.fetch(self.good_addr)
        self.assertOutcome(r, 0, "ok", None)
        self.assertEqual(r.obj["target"]["address"], self.good_addr, dump(r.obj))

    def test_resolve_to_the_untrusted_server_is_untrusted_root(self):
        r = self.fetch(self.bad_addr)
        self.assertEqual(r.obj["target"]["address"], self.bad_addr, dump(r.obj))
        self.assertIn(r.obj["http"]["curl_code"], CURL_VERIFY_CODES, dump(r.obj))
        self.assertOutcome(r, 2, "critical", "untrusted-root")


class MisbehavingPeers(FetchCase):
    """Hand-written peers from harness: silent, reset, slow plain HTTP."""

    def test_silent_server_times_out_within_max_time(self):
        srv = self.server(harness.silent_server())
        r = fetch_json("https://localhost:%d/" % srv.port, "--max-time", "1", timeout=15)
        self.assertError(r, "timeout")
        self.assertEqual(r.obj["http"]["curl_code"], 28, dump(r.obj))
        self.assertLess(r.elapsed, 2.0, "--max-time 1 must end within 2 s")
        self.assertGreaterEqual(r.elapsed, 0.9, "gave up before --max-time")

    def test_reset_during_handshake_is_handshake_failure(self):
        srv = self.server(harness.reset_server())
        r = fetch_json("https://localhost:%d/" % srv.port, timeout=15)
        self.assertError(r, "handshake-failure")
        self.assertCurlFailed(r)

    def test_max_time_bounds_the_explaining_probe_too(self):
        # The server answers the ClientHello in plain HTTP after 1.5 s.  curl
        # fails then; the probe that explains the failure must use what is left
        # of --max-time 2, not start a new 1.5 s wait (--max-time "bounds the
        # whole request").
        srv = self.server(harness.ThreadServer(_late_http_handler))
        r = fetch_json("https://localhost:%d/" % srv.port, "--max-time", "2", timeout=15)
        self.assertEqual((r.rc, r.obj["status"]), (2, "critical"), dump(r.obj))
        self.assertIn(r.obj["reason"], ("not-tls", "timeout"), dump(r.obj))
        # Bounded: about 2 s. A new wait would take 2 + 1.5 s. (Elapsed time
        # also holds the process's start, slow under a sanitizer or load.)
        self.assertLess(r.obj["timing_ms"]["total"], 3000, "--max-time 2 must bound the probe too\n" + dump(r.obj))
        self.assertLess(r.elapsed, 3.4, "--max-time 2 must end well before 3.5 s\n" + dump(r.obj))


def _https_closing_without_notify(head, body):
    """A TLS server that answers any request with head + body and closes the
    socket without TLS close_notify, as Python's http.server over ssl does."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(PKI.leaf.chain, PKI.leaf.key)

    def handler(conn):
        try:
            tls = ctx.wrap_socket(conn, server_side=True)
            tls.recv(4096)
            tls.sendall(head + body)
        except (OSError, ssl.SSLError):
            pass
        # Closing the raw socket: no close_notify.
    return harness.ThreadServer(handler)


class NoCloseNotify(FetchCase):
    """A response the server ends by closing without close_notify: curl's
    GnuTLS build calls it an error, HTTP's rules may still make it whole."""

    def fetch(self, head, body):
        srv = self.server(_https_closing_without_notify(head, body))
        return fetch_json("https://localhost:%d/" % srv.port, "--ca-file", PKI.root.cert, "--no-system-ca",
                          timeout=15)

    def test_close_delimited_http10_response_is_a_200_with_a_warning(self):
        r = self.fetch(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n", b"hello\n")
        self.assertEqual((r.rc, r.obj["status"], r.obj["reason"]), (1, "warning", "no-close-notify"), dump(r.obj))
        self.assertHttp(r, status=200, size=6)
        self.assertIsNone(r.obj["error"], dump(r.obj))
        p = [p for p in r.obj["verify"]["problems"] if p["code"] == "no-close-notify"][0]
        self.assertIn("delimited by the close", p["message"])

    def test_whole_content_length_is_a_200_with_a_warning_at_most(self):
        r = self.fetch(b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\n", b"hello\n")
        self.assertIn(r.obj["status"], ("ok", "warning"), dump(r.obj))
        self.assertHttp(r, status=200, size=6)

    def test_content_length_cut_short_is_still_a_failure(self):
        r = self.fetch(b"HTTP/1.0 200 OK\r\nContent-Length: 600\r\n\r\n", b"hello\n")
        self.assertEqual((r.rc, r.obj["status"]), (2, "critical"), dump(r.obj))
        self.assertNotIn("no-close-notify", [p["code"] for p in r.obj["verify"]["problems"]], dump(r.obj))


def _late_http_handler(conn):
    harness.servers.recv_some(conn)
    time.sleep(1.5)
    conn.sendall(harness.HTTP_400)


# --------------------------------------------------------------------------
# nginx
# --------------------------------------------------------------------------

class Nginx(FetchCase):
    """nginx with HTTP/2 on loopback, a Python backend behind /slow and /echo."""

    @classmethod
    def setUpClass(cls):
        servers.require_nginx()
        cls.backend = cls.class_server(servers.Backend())
        cls.nginx = cls.class_server(servers.Nginx(PKI.leaf.chain, PKI.leaf.key, cls.backend))

    def trust(self):
        return ["--ca-file", PKI.root.cert, "--no-system-ca"]

    def fetch(self, path="/", *extra, timeout=30):
        return fetch_json(self.nginx.url(path), *self.trust(), *extra, timeout=timeout)

    def text(self, path="/", *extra):
        return run_tlsprobe("fetch", self.nginx.url(path), *self.trust(), *extra)

    # -- protocol ---------------------------------------------------------
    def test_h2_negotiated_by_alpn_and_reported(self):
        r = self.fetch()
        self.assertOutcome(r, 0, "ok", None)
        self.assertEqual(r.obj["tls"]["alpn"], "h2", dump(r.obj))
        self.assertHttp(r, status=200, http_version="HTTP/2", final_url=self.nginx.url(),
                        size=len(ROOT_BODY), curl_code=0, curl_error=None)
        self.assertEqual(len(r.obj["chain"]), 2, dump(r.obj))
        self.assertEqual(r.obj["verify"]["problems"], [], dump(r.obj))

    def test_http2_option_is_h2(self):
        r = self.fetch("/", "--http2")
        self.assertEqual((r.obj["tls"]["alpn"], r.obj["http"]["http_version"]),
                         ("h2", "HTTP/2"), dump(r.obj))

    def test_http11_option_is_http11(self):
        r = self.fetch("/", "--http1.1")
        self.assertOutcome(r, 0, "ok", None)
        self.assertEqual((r.obj["tls"]["alpn"], r.obj["http"]["http_version"]),
                         ("http/1.1", "HTTP/1.1"), dump(r.obj))
        self.assertHttp(r, status=200, reason="OK")

    def test_http2_has_no_reason_phrase(self):
        # HTTP/2 carries no reason phrase: http.reason is "its reason phrase,
        # when the server sent one" (tlsprobe-json(7)), so null, not "".
        r = self.fetch()
        self.assertHttp(r, status=200, http_version="HTTP/2")
        self.assertIsNone(r.obj["http"]["reason"], dump(r.obj))

    def test_http2_text_verdict_has_no_empty_reason(self):
        # "200 OK, HTTP/1.1" over HTTP/1.1; over HTTP/2 "200, HTTP/2", not "200 , HTTP/2"
        rc, out, err, _ = self.text()
        self.assertEqual(rc, 0, out + err)
        line = self.verdict(out)
        self.assertIn("200, HTTP/2", line)
        self.assertNotIn("200 ,", out)

    def test_tls_version_reported(self):
        r = self.fetch()
        self.assertEqual(r.obj["tls"]["version"], "TLSv1.3", dump(r.obj))
        self.assertIsInstance(r.obj["tls"]["cipher"], str, dump(r.obj))

    # -- redirects ----------------------------------------------------------
    def test_location_follows_the_redirect_chain(self):
        r = self.fetch("/redirect1", "-L")
        self.assertOutcome(r, 0, "ok", None)
        hops = r.obj["http"]["hops"]
        self.assertEqual([h["status"] for h in hops], [301, 302, 200], dump(r.obj))
        self.assertEqual([h["url"] for h in hops],
                         [self.nginx.url(p) for p in ("/redirect1", "/redirect2", "/final")],
                         dump(r.obj))
        self.assertTrue(r.obj["http"]["final_url"].endswith("/final"), dump(r.obj))
        self.assertHttp(r, status=200, size=len(FINAL_BODY))
        self.assertTimingsOrdered(r)

    def test_location_over_http11_too(self):
        r = self.fetch("/redirect1", "-L", "--http1.1")
        self.assertEqual([h["status"] for h in r.obj["http"]["hops"]], [301, 302, 200],
                         dump(r.obj))
        self.assertHttp(r, status=200, http_version="HTTP/1.1")

    def test_without_location_the_status_is_301(self):
        r = self.fetch("/redirect1")
        self.assertOutcome(r, 0, "ok", None)
        self.assertHttp(r, status=301, final_url=self.nginx.url("/redirect1"),
                        hops=[{"status": 301, "url": self.nginx.url("/redirect1")}])

    def test_max_redirs_stops_the_chain(self):
        r = self.fetch("/redirect1", "-L", "--max-redirs", "1")
        self.assertEqual((r.rc, r.obj["status"]), (2, "critical"), dump(r.obj))
        self.assertEqual(r.obj["http"]["curl_code"], 47, dump(r.obj))   # TOO_MANY_REDIRECTS
        self.assertEqual([h["status"] for h in r.obj["http"]["hops"]], [301, 302],
                         dump(r.obj))

    def test_expect_body_looks_at_the_final_response(self):
        r = self.fetch("/redirect1", "-L", "--expect-body", FINAL_BODY.strip())
        self.assertOutcome(r, 0, "ok", None)

    # -- checks -------------------------------------------------------------
    def test_expect_status_200_on_404_is_http_status(self):
        r = self.fetch("/missing", "--expect-status", "200")
        self.assertOutcome(r, 2, "critical", "http-status")
        self.assertProblem(r, "http-status", severity="critical", cert_index=None)
        self.assertHttp(r, status=404)

    def test_expect_status_list_with_range_accepts_404(self):
        r = self.fetch("/missing", "--expect-status", "200,400-499")
        self.assertOutcome(r, 0, "ok", None)
        self.assertHttp(r, status=404)

    def test_404_without_expect_status_is_ok(self):
        r = self.fetch("/missing")
        self.assertOutcome(r, 0, "ok", None)
        self.assertHttp(r, status=404)

    def test_expect_status_text_verdict(self):
        rc, out, err, _ = self.text("/missing", "--expect-status", "200")
        self.assertEqual(rc, 2, out + err)
        line = self.verdict(out)
        self.assertTrue(line.startswith("CRITICAL"), line)
        self.assertIn("404", line)
        self.assertIn("HTTP/2", line)
        self.assertIn("(http-status)", line)

    def test_expect_body_present(self):
        r = self.fetch("/", "--expect-body", "hello from nginx")
        self.assertOutcome(r, 0, "ok", None)

    def test_expect_body_absent_is_body_mismatch(self):
        r = self.fetch("/", "--expect-body", "not in the body")
        self.assertOutcome(r, 2, "critical", "body-mismatch")
        self.assertHttp(r, status=200)

    def test_expect_header_present(self):
        r = self.fetch("/hdr", "--expect-header", "X-Test:tlsprobe")
        self.assertOutcome(r, 0, "ok", None)

    def test_expect_header_name_is_case_insensitive_and_name_only_works(self):
        r = self.fetch("/hdr", "--expect-header", "x-test:", "--http1.1")
        self.assertOutcome(r, 0, "ok", None)

    def test_expect_header_wrong_value_is_header_mismatch(self):
        r = self.fetch("/hdr", "--expect-header", "X-Test:something-else")
        self.assertOutcome(r, 2, "critical", "header-mismatch")

    def test_expect_header_missing_is_header_mismatch(self):
        r = self.fetch("/", "--expect-header", "X-Test:tlsprobe")
        self.assertOutcome(r, 2, "critical", "header-mismatch")

    def test_max_time_on_slow_location_is_timeout(self):
        r = self.fetch("/slow", "--max-time", "1", timeout=15)
        self.assertError(r, "timeout")
        self.assertEqual(r.obj["http"]["curl_code"], 28, dump(r.obj))   # OPERATION_TIMEDOUT
        self.assertLess(r.elapsed, 2.0, "--max-time 1 must end within 2 s")
        self.assertGreaterEqual(r.elapsed, 0.9, "gave up before --max-time")
        self.assertIsNone(r.obj["http"]["status"], dump(r.obj))

    def test_slow_location_answers_within_the_default_time(self):
        r = self.fetch("/slow", "--expect-body", "slow answer", timeout=20)
        self.assertOutcome(r, 0, "ok", None)
        self.assertGreaterEqual(r.obj["timing_ms"]["ttfb"], SLOW_SECONDS * 1000 * 0.9,
                                dump(r.obj))
        self.assertTimingsOrdered(r)

    def test_max_ms_1_is_too_slow(self):
        r = self.fetch("/", "--max-ms", "1")
        self.assertOutcome(r, 2, "critical", "too-slow")
        self.assertHttp(r, status=200)

    def test_max_ms_generous_is_ok(self):
        r = self.fetch("/", "--max-ms", "10000")
        self.assertOutcome(r, 0, "ok", None)

    # -- where it connects ----------------------------------------------------
    def test_plain_http_port_is_not_tls(self):
        r = fetch_json("https://localhost:%d/" % self.nginx.plain_port, *self.trust(),
                       timeout=15)
        self.assertError(r, "not-tls")
        self.assertCurlFailed(r)
        self.assertLess(r.elapsed, 5, "should not wait for the timeout")

    def test_closed_port_is_connection_refused(self):
        port = harness.closed_port()
        r = fetch_json("https://localhost:%d/" % port, *self.trust())
        self.assertError(r, "connection-refused")
        self.assertEqual(r.obj["http"]["curl_code"], 7, dump(r.obj))    # COULDNT_CONNECT
        self.assertIsNone(r.obj["tls"], dump(r.obj))

    def test_closed_port_reports_the_address_tried(self):
        # target.address: "the last one tried when none accepted the connection"
        r = fetch_json("https://localhost:%d/" % harness.closed_port(), *self.trust())
        self.assertEqual(r.obj["target"]["address"], "127.0.0.1", dump(r.obj))

    def test_timings_present_and_ordered_h2(self):
        self.assertTimingsOrdered(self.fetch())

    def test_timings_present_and_ordered_http11(self):
        self.assertTimingsOrdered(self.fetch("/", "--http1.1"))

    def test_ip_address_url(self):
        url = "https://127.0.0.1:%d/" % self.nginx.port
        r = fetch_json(url, *self.trust())
        self.assertOutcome(r, 0, "ok", None)
        self.assertEqual(r.obj["verify"]["name"], "127.0.0.1", dump(r.obj))
        self.assertIsNone(r.obj["target"]["sni"], dump(r.obj))
        self.assertTimingsOrdered(r)

    def test_resolve_to_127_0_0_1(self):
        r = self.fetch("/", "--resolve", "localhost:%d:127.0.0.1" % self.nginx.port)
        self.assertOutcome(r, 0, "ok", None)
        self.assertEqual(r.obj["target"]["address"], "127.0.0.1", dump(r.obj))
        self.assertHttp(r, status=200)

    def test_resolve_to_ipv6_loopback(self):
        # localhost resolves to 127.0.0.1 only here; only --resolve leads to ::1
        if not self.nginx.v6:
            self.skipTest("no IPv6 loopback")
        r = self.fetch("/", "--resolve", "localhost:%d:::1" % self.nginx.port)
        self.assertOutcome(r, 0, "ok", None)
        self.assertEqual(r.obj["target"]["address"], "::1", dump(r.obj))
        self.assertEqual(r.obj["verify"]["name"], "localhost", dump(r.obj))

    def test_connect_to_a_closed_port_redirected_to_nginx(self):
        closed = harness.closed_port()
        url = "https://localhost:%d/" % closed
        r = fetch_json(url, *self.trust(), "--connect-to",
                       "localhost:%d:127.0.0.1:%d" % (closed, self.nginx.port))
        self.assertOutcome(r, 0, "ok", None)
        self.assertHttp(r, status=200, final_url=url)
        self.assertEqual(r.obj["verify"]["name"], "localhost", dump(r.obj))

    # -- requests ---------------------------------------------------------------
    def last_backend_request(self, path):
        with self.backend.lock:
            reqs = [q for q in self.backend.requests if q[1] == path]
        self.assertTrue(reqs, "the backend saw no request for %s" % path)
        return reqs[-1]

    def test_post_with_data_reaches_the_backend(self):
        r = self.fetch("/echo/post", "-X", "POST", "--data", "a=1&b=two",
                       "--expect-body", "method=POST body=a=1&b=two")
        self.assertOutcome(r, 0, "ok", None)
        method, _, body, _ = self.last_backend_request("/echo/post")
        self.assertEqual((method, body), ("POST", b"a=1&b=two"))

    def test_data_alone_is_a_post(self):
        r = self.fetch("/echo/data", "--data", "x=1", "--http1.1",
                       "--expect-body", "method=POST body=x=1")
        self.assertOutcome(r, 0, "ok", None)
        self.assertEqual(self.last_backend_request("/echo/data")[0], "POST")

    def test_put_with_data(self):
        r = self.fetch("/echo/put", "-X", "PUT", "--data", "payload")
        self.assertOutcome(r, 0, "ok", None)
        method, _, body, _ = self.last_backend_request("/echo/put")
        self.assertEqual((method, body), ("PUT", b"payload"))

    def test_request_header_reaches_the_backend(self):
        r = self.fetch("/echo/hdr", "-H", "X-From-Test: fetch-header")
        self.assertOutcome(r, 0, "ok", None)
        headers = {k.lower(): v for k, v in self.last_backend_request("/echo/hdr")[3].items()}
        self.assertEqual(headers.get("x-from-test"), "fetch-header", headers)

    def test_head_has_no_body(self):
        r = self.fetch("/", "-X", "HEAD")
        self.assertOutcome(r, 0, "ok", None)
        self.assertHttp(r, status=200, size=0)

    # -- text -------------------------------------------------------------------
    def test_text_verdict_h2(self):
        rc, out, err, _ = self.text()
        self.assertEqual(rc, 0, out + err)
        line = self.verdict(out)
        self.assertTrue(line.startswith("OK"), line)
        self.assertRegex(line, r"\b200\b.*HTTP/2")
        self.assertIn("ALPN", out)
        self.assertRegex(out, r"ALPN\s+h2")

    def test_text_verdict_http11(self):
        rc, out, err, _ = self.text("/", "--http1.1")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("200 OK, HTTP/1.1", self.verdict(out))

    def test_text_redirects_listed(self):
        rc, out, err, _ = self.text("/redirect1", "-L")
        self.assertEqual(rc, 0, out + err)
        for status, path in ((301, "/redirect1"), (302, "/redirect2"), (200, "/final")):
            self.assertRegex(out, r"%d %s" % (status, re.escape(self.nginx.url(path))))


if __name__ == "__main__":
    unittest.main()
