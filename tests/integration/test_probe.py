"""Successful probes: what tlsprobe reports about a healthy server.

Peers: openssl s_server and gnutls-serv on loopback, serving leaf+intermediate
made by harness.Fixtures; the root is trusted with --ca-file --no-system-ca.
"""

import math
import os
import time
import unittest

import harness
from harness import trust_root
from harness import ProbeCase, dump, probe_json, probe_json_lines, run_tlsprobe
from harness.schema import ndjson

F = None


def setUpModule():
    global F
    F = harness.fixtures()


class GoodChainOpenSSL(ProbeCase):
    """openssl s_server sending leaf + intermediate (ALPN h2/http1.1, X25519)."""

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(harness.s_server(
            F.leaf.cert, F.leaf.key, chain=F.inter.cert,
            extra=["-alpn", "h2,http/1.1", "-groups", "X25519"]))
        cls.target = "localhost:%d" % cls.srv.port

    def probe(self, *extra, target=None):
        return probe_json(target or self.target, *trust_root(), *extra)

    def test_good_chain_exits_0_with_status_ok_and_no_problems(self):
        r = self.probe()
        self.assertOutcome(r, 0, "ok", None)
        o = r.obj
        self.assertIsNone(o["error"], dump(o))
        self.assertTrue(o["verify"]["trusted"], dump(o))
        self.assertTrue(o["verify"]["hostname_ok"], dump(o))
        self.assertEqual(o["verify"]["name"], "localhost")
        self.assertEqual(o["verify"]["problems"], [])

    def test_target_fields_describe_input_host_port_sni_and_address(self):
        o = self.probe().obj
        self.assertEqual(o["target"], {"input": self.target, "host": "localhost",
                                       "port": self.srv.port, "sni": "localhost",
                                       "address": "127.0.0.1", "address_total": 1, "proxy": None})

    def test_chain_lists_leaf_then_intermediate_in_the_order_sent(self):
        before = time.time()
        o = self.probe().obj
        after = time.time()
        chain = o["chain"]
        self.assertEqual(len(chain), 2, dump(o))
        leaf, inter = chain
        self.assertEqual(leaf["subject"], F.leaf.subject)
        self.assertEqual(leaf["issuer"], F.inter.subject)
        self.assertEqual(inter["subject"], F.inter.subject)
        self.assertEqual(inter["issuer"], F.root.subject)
        self.assertEqual([leaf["is_ca"], inter["is_ca"]], [False, True])
        self.assertEqual([leaf["self_signed"], inter["self_signed"]], [False, False])
        for c, info in ((leaf, F.leaf), (inter, F.inter)):
            self.assertEqual(int(c["serial"], 16), F.serial(info.cert), "serial")
            self.assertEqual(c["sha256"], F.sha256(info.cert), "sha256")
            self.assertEqual(c["not_before"], harness.iso(info.not_before))
            self.assertEqual(c["not_after"], harness.iso(info.not_after))
            left = info.not_after.timestamp()
            self.assertGreaterEqual(c["days_remaining"], math.floor((left - after) / 86400))
            # whole-second clocks (time(NULL)) may see up to 1 s less elapsed
            self.assertLessEqual(c["days_remaining"],
                                 math.floor((left - math.floor(before)) / 86400))
            self.assertEqual(c["key"], {"type": "ECDSA", "bits": 256, "curve": "SECP256R1"})
            self.assertIn("SHA256", c["sig_alg"].upper())
            self.assertIn("ECDSA", c["sig_alg"].upper())
        self.assertEqual(sorted(leaf["sans"]), sorted(["localhost", "127.0.0.1", "::1"]))
        self.assertEqual(inter["sans"], [])
        self.assertEqual(leaf["ca_issuers"], ["http://127.0.0.1:9/inter.crt"])
        self.assertEqual(inter["ca_issuers"], [])

    def test_tls_parameters_are_reported(self):
        tls = self.probe().obj["tls"]
        self.assertIsNotNone(tls)
        self.assertEqual(tls["version"], "TLSv1.3")
        self.assertTrue(tls["cipher"].startswith("TLS_"), tls)
        self.assertEqual(tls["kx_group"], "X25519")
        self.assertIs(tls["resumed"], False)
        self.assertIs(tls["client_cert_requested"], False)
        self.assertIsNone(tls["alpn"], "no ALPN offered -> null")

    def test_alpn_offer_is_negotiated(self):
        self.assertEqual(self.probe("--alpn", "h2").obj["tls"]["alpn"], "h2")
        self.assertEqual(self.probe("--alpn", "spdy/1,http/1.1").obj["tls"]["alpn"],
                         "http/1.1")

    def test_tls_max_1_2_negotiates_tls_1_2(self):
        r = self.probe("--tls-max", "1.2")
        self.assertOutcome(r, 0, "ok", None)
        self.assertEqual(r.obj["tls"]["version"], "TLSv1.2")
        self.assertTrue(r.obj["tls"]["cipher"].startswith("TLS_"), r.obj["tls"])

    def test_timing_fields_are_numbers_and_total_covers_each_stage(self):
        tm = self.probe().obj["timing_ms"]
        for k in ("dns", "connect", "handshake", "total"):
            self.assertIsInstance(tm[k], (int, float), tm)
            self.assertGreaterEqual(tm[k], 0, tm)
        for k in ("dns", "connect", "handshake"):
            self.assertGreaterEqual(tm["total"], tm[k], tm)

    def test_text_output_starts_with_an_ok_verdict_line(self):
        rc, out, err, _ = run_tlsprobe(self.target, *trust_root())
        self.assertEqual(rc, 0, out + err)
        self.assertTrue(out.strip(), "no text output")
        self.assertIn("OK", out.splitlines()[0], out)

    def test_json_to_a_pipe_is_one_compact_line(self):
        r = self.probe()
        self.assertEqual(r.stdout.count("\n"), 1, r.stdout)

    def test_json_on_a_tty_is_pretty_printed(self):
        rc, out, err = harness.run_tlsprobe_tty(self.target, *trust_root(), "--json")
        self.assertEqual(rc, 0, err)
        text = out.decode("utf-8")
        self.assertGreater(text.strip().count("\n"), 5, "not pretty-printed: %r" % text)
        obj = harness.parse_json_line(text)
        harness.check_schema(obj)
        self.assertEqual(obj["status"], "ok")

    def test_text_to_a_pipe_has_no_colour(self):
        rc, out, err, _ = harness.run_tlsprobe_raw(self.target, *trust_root())
        self.assertEqual(rc, 0, err)
        self.assertNotIn(b"\x1b", out + err)

    def test_color_always_colours_text_even_on_a_pipe(self):
        rc, out, err, _ = harness.run_tlsprobe_raw(self.target, *trust_root(),
                                                   "--color", "always")
        self.assertEqual(rc, 0, err)
        self.assertIn(b"\x1b[", out)

    def test_color_never_on_a_tty_has_no_escapes(self):
        rc, out, err = harness.run_tlsprobe_tty(self.target, *trust_root(), "--color", "never")
        self.assertEqual(rc, 0, err)
        self.assertIn(b"OK", out.split(b"\n")[0])
        self.assertNotIn(b"\x1b", out)

    def test_priority_string_is_passed_to_gnutls(self):
        r = self.probe("--priority", "NORMAL:-VERS-TLS1.3")
        self.assertOutcome(r, 0, "ok", None)
        self.assertEqual(r.obj["tls"]["version"], "TLSv1.2")

    def test_format_json_is_the_same_as_json(self):
        r = probe_json_lines("--format", "json", "--json", self.target, *trust_root())
        self.assertEqual(len(r.objs), 1, r.stdout)
        rc, out, err, _ = run_tlsprobe("--format", "json", self.target, *trust_root())
        self.assertEqual(rc, 0, err)
        obj = harness.parse_json_line(out.strip())
        harness.check_schema(obj)
        self.assertEqual(obj["status"], "ok")

    def test_https_url_target_uses_host_and_port_from_url(self):
        url = "https://localhost:%d/some/path?q=1" % self.srv.port
        r = probe_json(url, *trust_root())
        self.assertOutcome(r, 0, "ok", None)
        self.assertEqual(r.obj["target"]["input"], url)
        self.assertEqual(r.obj["target"]["host"], "localhost")
        self.assertEqual(r.obj["target"]["port"], self.srv.port)
        self.assertEqual(r.obj["target"]["sni"], "localhost")

    def test_ipv4_literal_sends_no_sni_and_verifies_against_ip_san(self):
        target = "127.0.0.1:%d" % self.srv.port
        r = probe_json(target, *trust_root())
        self.assertOutcome(r, 0, "ok", None)
        self.assertIsNone(r.obj["target"]["sni"], dump(r.obj))
        self.assertEqual(r.obj["target"]["address"], "127.0.0.1")
        self.assertEqual(r.obj["verify"]["name"], "127.0.0.1")

    def test_explicit_connect_keyword_is_accepted(self):
        r = harness.probe_json("connect", self.target, *trust_root())
        self.assertOutcome(r, 0, "ok", None)

    def second_server(self):
        # a separate peer for the second target: s_server handles one
        # connection at a time, so probes running in parallel could queue
        return self.server(harness.s_server(F.leaf.cert, F.leaf.key, chain=F.inter.cert))

    def test_several_targets_give_one_json_object_per_line_and_the_worst_exit(self):
        bad = "127.0.0.1:%d" % harness.closed_port()
        ok2 = "127.0.0.1:%d" % self.second_server().port
        r = probe_json_lines(self.target, bad, ok2, *trust_root())
        self.assertEqual(len(r.objs), 3, r.stdout)
        self.assertEqual(len(r.stdout.splitlines()), 3, r.stdout)
        by_input = {o["target"]["input"]: o for o in r.objs}
        self.assertEqual(set(by_input), {self.target, bad, ok2}, r.stdout)
        self.assertEqual(by_input[self.target]["status"], "ok")
        self.assertEqual(by_input[ok2]["status"], "ok")
        self.assertEqual(by_input[bad]["status"], "critical")
        self.assertEqual(by_input[bad]["reason"], "connection-refused")
        self.assertEqual(r.rc, 2, "worst of ok/critical/ok")

    def test_several_good_targets_exit_0(self):
        r = probe_json_lines(self.target, "127.0.0.1:%d" % self.second_server().port,
                             *trust_root())
        self.assertEqual([o["status"] for o in r.objs], ["ok", "ok"], r.stdout)
        self.assertEqual(r.rc, 0)

    def test_root_sent_in_band_is_fine_when_trusted(self):
        with harness.s_server(F.leaf.cert, F.leaf.key, chain=F.inter_root) as s:
            r = probe_json("localhost:%d" % s.port, *trust_root())
        self.assertOutcome(r, 0, "ok", None)
        self.assertEqual(len(r.obj["chain"]), 3, dump(r.obj))
        self.assertTrue(r.obj["chain"][2]["self_signed"])
        self.assertTrue(r.obj["chain"][2]["is_ca"])


class GoodChainGnuTLS(ProbeCase):
    """gnutls-serv --echo sending leaf + intermediate."""

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(harness.gnutls_serv(F.leaf.chain, F.leaf.key))
        cls.target = "localhost:%d" % cls.srv.port

    def test_good_chain_from_gnutls_serv_is_ok(self):
        r = probe_json(self.target, *trust_root())
        self.assertOutcome(r, 0, "ok", None)
        self.assertEqual([c["subject"] for c in r.obj["chain"]],
                         [F.leaf.subject, F.inter.subject])
        self.assertEqual(r.obj["tls"]["version"], "TLSv1.3")
        self.assertIs(r.obj["tls"]["client_cert_requested"], False)

    def test_text_output_starts_with_an_ok_verdict_line(self):
        rc, out, err, _ = run_tlsprobe(self.target, *trust_root())
        self.assertEqual(rc, 0, out + err)
        self.assertIn("OK", out.splitlines()[0], out)


class OtherKeysAndNames(ProbeCase):
    def test_rsa_leaf_key_is_reported_as_rsa_2048(self):
        with harness.s_server(F.rsa.cert, F.rsa.key, chain=F.inter.cert) as s:
            r = probe_json("localhost:%d" % s.port, *trust_root())
        self.assertOutcome(r, 0, "ok", None)
        self.assertEqual(self.leaf(r)["key"], {"type": "RSA", "bits": 2048,
                                                    "curve": None})

    def test_ca_file_is_repeatable(self):
        with harness.s_server(F.leaf.cert, F.leaf.key, chain=F.inter.cert) as s:
            r = probe_json("localhost:%d" % s.port, "--ca-file", F.rogue_ca.cert,
                           "--ca-file", F.root.cert, "--no-system-ca")
        self.assertOutcome(r, 0, "ok", None)

    def test_sni_option_sets_name_sent_and_verified(self):
        with harness.s_server(F.wronghost.cert, F.wronghost.key, chain=F.inter.cert) as s:
            r = probe_json("127.0.0.1:%d" % s.port, "--sni", "other.example", *trust_root())
        self.assertOutcome(r, 0, "ok", None)
        self.assertEqual(r.obj["target"]["sni"], "other.example")
        self.assertEqual(r.obj["verify"]["name"], "other.example")
        self.assertTrue(r.obj["verify"]["hostname_ok"])

    def test_tls_1_2_only_server_is_ok_with_tls_1_2(self):
        with harness.s_server(F.leaf.cert, F.leaf.key, chain=F.inter.cert,
                              extra=["-tls1_2"]) as s:
            r = probe_json("localhost:%d" % s.port, *trust_root())
        self.assertOutcome(r, 0, "ok", None)
        self.assertEqual(r.obj["tls"]["version"], "TLSv1.2")


class SniOnTheWire(ProbeCase):
    """s_server -servername localhost switches to its second certificate
    (other.example) when the client's SNI is "localhost" and serves the first
    (localhost) when no SNI is sent: the served subject shows what was sent."""

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(harness.s_server(
            F.leaf.cert, F.leaf.key, chain=F.inter.cert,
            extra=["-servername", "localhost", "-cert2", F.wronghost.cert,
                   "-key2", F.wronghost.key]))

    def served_subject(self, *args):
        r = probe_json(*args, *trust_root())
        return self.leaf(r)["subject"]

    def test_host_name_target_sends_its_name_as_sni(self):
        self.assertEqual(self.served_subject("localhost:%d" % self.srv.port),
                         F.wronghost.subject)

    def test_ip_literal_target_sends_no_sni(self):
        self.assertEqual(self.served_subject("127.0.0.1:%d" % self.srv.port),
                         F.leaf.subject)

    def test_sni_option_is_sent_for_an_ip_literal_target(self):
        self.assertEqual(self.served_subject("127.0.0.1:%d" % self.srv.port,
                                             "--sni", "localhost"), F.wronghost.subject)


class IPv6(ProbeCase):
    @classmethod
    def setUpClass(cls):
        harness.require_ipv6()
        cls.srv = cls.class_server(harness.s_server(F.leaf.cert, F.leaf.key,
                                                    chain=F.inter.cert, host="::1"))

    def test_bracketed_ipv6_target_connects_to_loopback_and_checks_ip_san(self):
        target = "[::1]:%d" % self.srv.port
        r = probe_json(target, *trust_root())
        self.assertOutcome(r, 0, "ok", None)
        t = r.obj["target"]
        self.assertEqual((t["input"], t["host"], t["port"], t["sni"], t["address"]),
                         (target, "::1", self.srv.port, None, "::1"), dump(r.obj))
        self.assertEqual(r.obj["verify"]["name"], "::1")

    def test_https_url_with_ipv6_literal(self):
        r = probe_json("https://[::1]:%d/" % self.srv.port, *trust_root())
        self.assertOutcome(r, 0, "ok", None)
        self.assertEqual(r.obj["target"]["host"], "::1")


class ClientCertificates(ProbeCase):
    def test_optional_client_cert_request_is_reported_and_still_ok(self):
        with harness.s_server(F.leaf.cert, F.leaf.key, chain=F.inter.cert,
                              extra=["-verify", "1", "-CAfile", F.root.cert]) as s:
            r = probe_json("localhost:%d" % s.port, *trust_root())
        self.assertOutcome(r, 0, "ok", None)
        self.assertIs(r.obj["tls"]["client_cert_requested"], True)

    def test_required_client_cert_supplied_with_client_cert_option_is_ok(self):
        for ver in ([], ["-tls1_2"]):
            with self.subTest(tls=ver or "1.3"):
                with harness.s_server(F.leaf.cert, F.leaf.key, chain=F.inter.cert,
                                      extra=["-Verify", "1", "-verify_return_error",
                                             "-CAfile", F.root.cert] + ver) as s:
                    r = probe_json("localhost:%d" % s.port, *trust_root(),
                                   "--client-cert", F.client.cert,
                                   "--client-key", F.client.key)
                self.assertOutcome(r, 0, "ok", None)
                self.assertIs(r.obj["tls"]["client_cert_requested"], True)

    def test_gnutls_serv_optional_request_sets_client_cert_requested(self):
        with harness.gnutls_serv(F.leaf.chain, F.leaf.key, extra=()) as s:
            r = probe_json("localhost:%d" % s.port, *trust_root())
        self.assertOutcome(r, 0, "ok", None)
        self.assertIs(r.obj["tls"]["client_cert_requested"], True)


class DelayingPath:
    """A TCP relay to port on loopback that passes the server's first flight
    at once and holds everything it sends later (a TLS 1.3 server's verdict
    on the client certificate, its tickets) for delay seconds: a server, or
    a path, slower than a round trip."""

    def __init__(self, port, delay):
        import socket
        import threading
        self.port_to, self.delay = port, delay
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        import socket
        import threading
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.port_to))
            threading.Thread(target=self.pipe, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self.pipe, args=(server, client, True), daemon=True).start()

    def pipe(self, src, dst, hold_later):
        import time
        first = True
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if hold_later and not first:
                    time.sleep(self.delay)
                first = False
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(2)
            except OSError:
                pass

    def close(self):
        self.listener.close()


class LateClientCertVerdict(ProbeCase):
    """TLS 1.3: the server's no to a missing client certificate comes after
    the handshake; here it comes 400 ms late (no session tickets)."""

    def probe(self, *extra):
        with harness.s_server(F.leaf.cert, F.leaf.key, chain=F.inter.cert,
                              extra=["-Verify", "1", "-verify_return_error", "-CAfile", F.root.cert,
                                     "-num_tickets", "0", "-tls1_3"]) as s:
            path = DelayingPath(s.port, 0.4)
            try:
                return probe_json("localhost:%d" % path.port, *trust_root(), *extra)
            finally:
                path.close()

    def test_a_verdict_later_than_the_wait_is_unknown_not_ok(self):
        r = self.probe()
        self.assertOutcome(r, 1, "warning", "client-cert-unconfirmed")
        p = [p for p in r.obj["verify"]["problems"] if p["code"] == "client-cert-unconfirmed"][0]
        self.assertRegex(p["message"], r"none was sent, and then said nothing within \d+ ms")
        self.assertIn("--client-cert-wait", p["fix"])

    def test_a_longer_wait_sees_the_rejection(self):
        r = self.probe("--client-cert-wait", "3000")
        self.assertError(r, "client-cert-required")


class ClientCertificates(ProbeCase):
    """Mutual TLS against openssl s_server -Verify 1 -verify_return_error,
    which trusts only the fixtures' root for client certificates: what the
    probe says of the certificate it sends, and of the server's no to it.
    Client certificates are made by openssl (harness.Pki), one issued by the
    intermediate so that a file holding it alone lacks its chain."""

    @classmethod
    def setUpClass(cls):
        now, d = F.now, harness.pki.DAYS
        cls.by_inter = F.issue("mtls_inter", harness.pki.subject("mtls by inter"), "v3_client", F.inter,
                               now - d, now + 100 * d)
        cls.by_inter_chain = F.cat("mtls_inter-chain.pem", cls.by_inter.cert, F.inter.cert)
        cls.expired = F.issue("mtls_old", harness.pki.subject("mtls expired"), "v3_client", F.root,
                              now - 100 * d, now - d)
        cls.expiring = F.issue("mtls_soon", harness.pki.subject("mtls expiring"), "v3_client", F.root,
                               now - d, now + 10 * d)
        cls.srv = {}
        for v in ("-tls1_3", "-tls1_2"):
            cls.srv[v] = cls.class_server(harness.s_server(
                F.leaf.cert, F.leaf.key, chain=F.inter.cert,
                extra=["-Verify", "1", "-verify_return_error", "-CAfile", F.root.cert, v]))

    def probe(self, version, *extra):
        return probe_json("localhost:%d" % self.srv[version].port, *trust_root(), *extra)

    def test_a_good_client_cert_is_sent_and_described(self):
        for v in self.srv:
            r = self.probe(v, "--client-cert", F.client.cert, "--client-key", F.client.key)
            self.assertOutcome(r, 0, "ok", None)
            self.assertIs(r.obj["tls"]["client_cert_sent"], True, dump(r.obj))
            cc = r.obj["client_cert"]["chain"]
            self.assertEqual(cc[0]["subject"], F.client.subject, dump(r.obj))
            self.assertEqual(cc[0]["sha256"], harness.X509(F.client.cert).sha256(), dump(r.obj))

    def test_without_a_client_cert_nothing_is_sent(self):
        r = self.probe("-tls1_3")
        self.assertError(r, "client-cert-required")
        self.assertIsNone(r.obj["client_cert"])

    def test_a_cert_from_an_unknown_ca_is_rejected_not_required(self):
        for v in self.srv:
            r = self.probe(v, "--client-cert", F.rogue_client.cert, "--client-key", F.rogue_client.key)
            self.assertError(r, "client-cert-rejected")
            e = r.obj["error"]
            self.assertIn("rogue client", e["message"])
            self.assertIn("unknown_ca", e["message"])

    def test_a_leaf_without_its_chain_gets_the_advice_to_send_the_chain(self):
        r = self.probe("-tls1_3", "--client-cert", self.by_inter.cert, "--client-key", self.by_inter.key)
        self.assertError(r, "client-cert-rejected")
        e = r.obj["error"]
        self.assertIn("unknown_ca", e["message"])
        self.assertIn("send its chain too", e["fix"])
        self.assertIn(self.by_inter.cert, e["fix"])
        # and with its chain in the file, the server takes it
        r = self.probe("-tls1_3", "--client-cert", self.by_inter_chain, "--client-key", self.by_inter.key)
        self.assertOutcome(r, 0, "ok", None)
        self.assertEqual(len(r.obj["client_cert"]["chain"]), 2, dump(r.obj))

    def test_an_expired_client_cert_is_found_before_the_server_says_so(self):
        r = self.probe("-tls1_3", "--client-cert", self.expired.cert, "--client-key", self.expired.key)
        self.assertError(r, "client-cert-rejected")
        e = r.obj["error"]
        self.assertIn("certificate_expired", e["message"])
        self.assertIn("renew", e["fix"])
        p = self.assertProblem(r, "expired", severity="critical", cert_index=None)
        self.assertIn("client certificate 'mtls expired'", p["message"])

    def test_an_expiring_client_cert_follows_the_thresholds(self):
        # 10 days left: under the default critical threshold (14)
        r = self.probe("-tls1_3", "--client-cert", self.expiring.cert, "--client-key", self.expiring.key)
        self.assertOutcome(r, 2, "critical", "expires-soon")
        p = self.assertProblem(r, "expires-soon", severity="critical", cert_index=None)
        self.assertIn("client certificate 'mtls expiring'", p["message"])
        r = self.probe("-tls1_3", "--client-cert", self.expiring.cert, "--client-key", self.expiring.key,
                       "--crit-days", "5")
        self.assertOutcome(r, 1, "warning", "expires-soon")

    def test_a_key_that_is_not_the_certificates_is_refused_before_connecting(self):
        rc, out, err, _ = run_tlsprobe("127.0.0.1:%d" % harness.closed_port(), "--client-cert", F.client.cert,
                                       "--client-key", F.rogue_client.key)
        self.assertEqual(rc, 3, out + err)
        self.assertIn("key-mismatch", err)
        self.assertIn(F.rogue_client.key, err)
        self.assertNotIn("connection refused", out + err)


class NoSni(ProbeCase):
    """--no-sni against openssl s_server with two certificates: the default
    one (other.example) for clients that send no SNI, and the localhost one
    for those that ask for localhost (-servername)."""

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(harness.s_server(
            F.wronghost.cert, F.wronghost.key, chain=F.inter.cert,
            extra=["-servername", "localhost", "-cert2", F.leaf.cert, "-key2", F.leaf.key]))

    @staticmethod
    def trust():
        # s_server sends -cert_chain with the default certificate only: the
        # intermediate is trusted, so that both chains verify
        return ["--ca-file", F.inter_root, "--no-system-ca"]

    def test_with_sni_the_server_sends_the_named_certificate(self):
        r = probe_json("localhost:%d" % self.srv.port, *self.trust())
        self.assertOutcome(r, 0, "ok", None)
        self.assertEqual(r.obj["target"]["sni"], "localhost")

    def test_without_sni_it_is_the_default_certificate_checked_against_the_name(self):
        r = probe_json("localhost:%d" % self.srv.port, *self.trust(), "--no-sni")
        self.assertOutcome(r, 2, "critical", "hostname-mismatch")
        self.assertIsNone(r.obj["target"]["sni"], dump(r.obj))
        self.assertEqual(r.obj["chain"][0]["subject"], F.wronghost.subject, dump(r.obj))
        p = self.assertProblem(r, "hostname-mismatch")
        self.assertIn("other.example", p["message"])
        self.assertIn("default certificate", p["message"])
        self.assertEqual(r.obj["verify"]["name"], "localhost")

    def test_no_sni_checks_the_sni_option_name(self):
        r = probe_json("127.0.0.1:%d" % self.srv.port, *self.trust(), "--no-sni", "--sni", "other.example")
        self.assertOutcome(r, 0, "ok", None)
        self.assertIsNone(r.obj["target"]["sni"], dump(r.obj))
        self.assertEqual(r.obj["verify"]["name"], "other.example")

    def test_no_sni_per_line_in_a_batch(self):
        rc, out, err, _ = run_tlsprobe("batch", "-", "--json", *self.trust(),
                                       input="localhost:%d --no-sni\nlocalhost:%d\n" % (
                                           self.srv.port, self.srv.port))
        got = sorted(((o["target"]["sni"] or ""), o["status"]) for o in ndjson(out))
        self.assertEqual(got, [("", "critical"), ("localhost", "ok")], out + err)


class AllAddresses(ProbeCase):
    """--all-addresses: a name with two addresses, 127.0.0.1 and 127.0.0.2,
    whose servers (openssl s_server on the same port) serve different
    certificates, one expiring in 3 days. The name lives only in a hosts
    file the test bind-mounts over /etc/hosts in a mount namespace of its
    own (unshare -m): it is found there, so no DNS query leaves."""

    NAME = "multi.tlsprobe.test"

    @classmethod
    def setUpClass(cls):
        if harness.run(["unshare", "-m", "true"], timeout=10).rc != 0:
            raise unittest.SkipTest("cannot make a mount namespace here (it takes root)")
        now, d = F.now, harness.pki.DAYS
        ext = harness.pki.leaf_ext(san="DNS:" + cls.NAME)
        cls.good = F.issue("multi_good", harness.pki.subject(cls.NAME), ext, F.inter, now - d, now + 300 * d)
        cls.soon = F.issue("multi_soon", harness.pki.subject(cls.NAME), ext, F.inter, now - d, now + 3 * d)
        port = harness.free_port("127.0.0.2")
        cls.port = port
        for host, cert in (("127.0.0.1", cls.good), ("127.0.0.2", cls.soon)):
            cls.class_server(harness.ProcessServer(
                "s_server", lambda p, h=host, c=cert: ["openssl", "s_server", "-accept", "%s:%d" % (h, p), "-cert",
                                                       c.cert, "-key", c.key, "-cert_chain", F.inter.cert, "-www"],
                host=host, ready="ACCEPT", port_for=lambda h: port))
        cls.hosts = harness.write(os.path.join(harness.scratch_dir(), "multi-hosts"),
                                  "127.0.0.1 %s\n127.0.0.2 %s\n" % (cls.NAME, cls.NAME))

    def probe(self, *extra):
        """tlsprobe --json in a mount namespace whose /etc/hosts knows the name."""
        argv = [harness.tlsprobe_path(), "%s:%d" % (self.NAME, self.port), *trust_root(), "--json", *extra]
        r = harness.run(["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', self.hosts]
                        + argv, timeout=60)
        o = ndjson(r.out)[0]
        harness.check_schema(o)
        return r.rc, o, r.err

    def test_every_address_is_probed_and_the_odd_one_named(self):
        rc, o, err = self.probe("--all-addresses")
        self.assertEqual(rc, 2, dump(o))
        self.assertEqual(o["status"], "critical", dump(o))
        got = sorted((a["address"], a["status"]) for a in o["addresses"])
        self.assertEqual(got, [("127.0.0.1", "ok"), ("127.0.0.2", "critical")], dump(o))
        self.assertEqual(o["target"]["address_total"], 2, dump(o))
        p = self.assertProblem(harness.JsonProbe(rc, o, "", err, 0), "addresses-differ", severity="warning")
        self.assertIn("127.0.0.2 serves a different certificate", p["message"])
        self.assertIn("in 2 days", p["message"])
        # the verdict is the worst address's: the one expiring
        self.assertEqual(o["target"]["address"], "127.0.0.2", dump(o))
        self.assertEqual(o["reason"], "expires-soon", dump(o))

    def test_without_it_the_report_says_how_many_addresses_there_are(self):
        rc, o, err = self.probe()
        self.assertEqual(o["target"]["address_total"], 2, dump(o))
        self.assertIsNone(o["addresses"], dump(o))

    def test_batch_takes_it_per_line(self):
        target = "%s:%d" % (self.NAME, self.port)
        r = harness.run(["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', self.hosts,
                         harness.tlsprobe_path(), "batch", "--json", "--ordered", *trust_root()],
                        input="%s --all-addresses\n%s\n" % (target, target), timeout=60)
        every, first = ndjson(r.out)
        for o in (every, first):
            harness.check_schema(o)
        self.assertEqual(sorted(a["address"] for a in every["addresses"]), ["127.0.0.1", "127.0.0.2"], r.out)
        self.assertEqual(every["status"], "critical", r.out)
        self.assertIsNone(first["addresses"], r.out)


class Proxies(ProbeCase):
    """--proxy: the probe through Debian's tinyproxy (HTTP CONNECT) and
    microsocks (SOCKS5), both on loopback; a proxy that refuses the tunnel, one
    that never answers, and the environment's https_proxy with no_proxy."""

    @classmethod
    def setUpClass(cls):
        harness.require_tools("tinyproxy", "microsocks")
        d = harness.scratch_dir()

        def tinyproxy(port):
            conf = harness.write(os.path.join(d, "tinyproxy-%d.conf" % port),
                                 "Port %d\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\nAllow 127.0.0.1\n"
                                 "LogLevel Info\n" % port)
            return ["tinyproxy", "-d", "-c", conf]

        cls.http = cls.class_server(harness.ProcessServer("tinyproxy", tinyproxy))
        cls.socks = cls.class_server(harness.ProcessServer(
            "microsocks", lambda port: ["microsocks", "-i", "127.0.0.1", "-p", str(port)]))
        cls.srv = cls.class_server(harness.s_server(F.leaf.cert, F.leaf.key, chain=F.inter.cert))
        cls.silent = cls.class_server(harness.silent_server())

    def probe(self, *extra, env=None):
        return probe_json("localhost:%d" % self.srv.port, *trust_root(), *extra, env=env)

    def test_through_each_kind_of_proxy_the_probe_is_as_direct(self):
        direct = self.probe()
        self.assertIsNone(direct.obj["timing_ms"]["proxy"])
        for url in ("http://127.0.0.1:%d" % self.http.port, "socks5://127.0.0.1:%d" % self.socks.port,
                    "socks5h://127.0.0.1:%d" % self.socks.port):
            with self.subTest(proxy=url):
                r = self.probe("--proxy", url)
                self.assertOutcome(r, 0, "ok", None)
                self.assertEqual(r.obj["chain"][0]["sha256"], direct.obj["chain"][0]["sha256"])
                self.assertEqual(r.obj["target"]["sni"], "localhost")
                self.assertEqual(r.obj["target"]["proxy"], url)
                t = r.obj["timing_ms"]
                self.assertTrue(t["connect"] <= t["proxy"] <= t["handshake"] <= t["total"], t)

    def test_a_refused_tunnel_is_proxy_failed_with_the_proxys_words(self):
        port = harness.closed_port()
        r = probe_json("localhost:%d" % port, *trust_root(), "--proxy", "http://127.0.0.1:%d" % self.http.port)
        self.assertError(r, "proxy-failed")
        self.assertIn("refused to connect to localhost:%d: HTTP/1." % port, r.obj["error"]["message"])
        r = probe_json("localhost:%d" % port, *trust_root(), "--proxy", "socks5://127.0.0.1:%d" % self.socks.port)
        self.assertError(r, "proxy-failed")
        self.assertIn("could not connect to localhost:%d" % port, r.obj["error"]["message"])

    def test_an_unreachable_proxy_is_named(self):
        r = self.probe("--proxy", "http://127.0.0.1:%d" % harness.closed_port())
        self.assertError(r, "proxy-failed")
        self.assertIn("that is the proxy", r.obj["error"]["message"])

    def test_a_proxy_that_never_answers_is_bounded_by_the_timeout(self):
        r = self.probe("--proxy", "http://127.0.0.1:%d" % self.silent.port, "--timeout", "1")
        self.assertError(r, "timeout")
        self.assertIn("the proxy", r.obj["error"]["message"])
        self.assertLess(r.elapsed, 5, dump(r.obj))

    def test_the_environments_proxy_and_no_proxy(self):
        env = dict(os.environ, https_proxy="http://127.0.0.1:%d" % harness.closed_port())
        env.pop("no_proxy", None)
        env.pop("NO_PROXY", None)
        self.assertError(self.probe(env=env), "proxy-failed")
        self.assertOutcome(self.probe(env=dict(env, no_proxy="example.test,localhost")), 0, "ok", None)
        self.assertOutcome(self.probe("--noproxy", "*", env=env), 0, "ok", None)
        # --proxy "" turns the environment's off too
        self.assertOutcome(self.probe("--proxy", "", env=env), 0, "ok", None)

    def test_a_bad_proxy_url_is_bad_usage(self):
        rc, out, err, _ = run_tlsprobe("localhost:1", "--proxy", "ftp://127.0.0.1:21")
        self.assertEqual(rc, 3, err)
        self.assertIn("http://, socks5:// or socks5h://", err)


class CommandLineBasics(unittest.TestCase):
    def test_help_exits_0_and_prints_usage(self):
        for flag in ("-h", "--help"):
            rc, out, err, _ = run_tlsprobe(flag)
            self.assertEqual(rc, 0, err)
            self.assertIn("tlsprobe", out + err)

    def test_version_exits_0_and_prints_a_version(self):
        for flag in ("-V", "--version"):
            rc, out, err, _ = run_tlsprobe(flag)
            self.assertEqual(rc, 0, err)
            self.assertTrue(out.strip(), "nothing on stdout")

def der_blocks(pem_text):
    """The certificates of a PEM text as DER bytes (base64 lines joined)."""
    import base64
    import re
    return [base64.b64decode("".join(b.split()))
            for b in re.findall(r"-----BEGIN CERTIFICATE-----\n(.*?)-----END CERTIFICATE-----", pem_text, re.S)]


class SaveChain(ProbeCase):
    """--save-chain FILE: the certificates the server sent, in its order, as
    PEM, written to a new file and renamed into place."""

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(harness.s_server(F.leaf.cert, F.leaf.key, chain=F.inter.cert))
        cls.target = "localhost:%d" % cls.srv.port
        # what s_server sends: its certificate, then the chain file
        cls.sent = der_blocks(harness.read(F.leaf.cert).decode()) + der_blocks(harness.read(F.inter.cert).decode())

    def save(self, path, *extra, target=None):
        return run_tlsprobe(target or self.target, *trust_root(), "--save-chain", path, "-q", *extra)

    def test_writes_exactly_what_the_server_sent_in_order(self):
        d = harness.tempdir(self)
        path = os.path.join(d, "chain.pem")
        r = self.save(path)
        self.assertEqual(r.rc, 0, r.err)
        self.assertEqual(der_blocks(harness.read(path).decode()), self.sent)
        self.assertEqual(os.listdir(d), ["chain.pem"], "a temporary file left behind")
        # and tlsprobe cert reads it back: the same chain as the probe saw
        probe = probe_json(self.target, *trust_root())
        back = probe_json("cert", path, schema_check=harness.schema.check_file_schema)
        self.assertEqual([c["sha256"] for c in back.obj["chain"]], [c["sha256"] for c in probe.obj["chain"]])

    def test_replaces_a_link_instead_of_following_it(self):
        d = harness.tempdir(self)
        path, target = os.path.join(d, "chain.pem"), os.path.join(d, "elsewhere.pem")
        harness.write(target, "keep me\n")
        os.symlink(target, path)
        self.assertEqual(self.save(path).rc, 0)
        self.assertFalse(os.path.islink(path))
        self.assertEqual(der_blocks(harness.read(path).decode()), self.sent)
        self.assertEqual(harness.read(target).decode(), "keep me\n")

    def test_an_existing_file_is_replaced_whole(self):
        d = harness.tempdir(self)
        path = os.path.join(d, "chain.pem")
        harness.write(path, "old\n" * 1000)
        self.assertEqual(self.save(path).rc, 0)
        self.assertEqual(der_blocks(harness.read(path).decode()), self.sent)
        self.assertNotIn("old", harness.read(path).decode())

    def test_no_certificate_no_file(self):
        d = harness.tempdir(self)
        path = os.path.join(d, "chain.pem")
        r = self.save(path, target="127.0.0.1:%d" % harness.closed_port())
        self.assertEqual(r.rc, 2, r.err)
        self.assertIn("the server sent no certificate: %s not written" % path, r.err)
        self.assertEqual(os.listdir(d), [])

    def test_a_file_that_cannot_be_written_is_unknown(self):
        path = os.path.join(harness.tempdir(self), "no-such-dir", "chain.pem")
        r = self.save(path)
        self.assertEqual(r.rc, 3, r.err)
        self.assertIn("cannot write --save-chain %s" % path, r.err)
        r = self.save(path, "--json")
        objs = [harness.parse_json_line(l) for l in r.out.splitlines()]
        self.assertEqual([o["status"] for o in objs], ["ok", "unknown"], r.out)
        self.assertEqual(objs[1]["error"]["code"], "bad-file")

    def test_one_target_only(self):
        r = run_tlsprobe(self.target, self.target, "--save-chain", "x.pem")
        self.assertEqual(r.rc, 3)
        self.assertIn("--save-chain writes the chain of one server", r.err)


if __name__ == "__main__":
    unittest.main()


class InternationalNames(ProbeCase):
    """A name typed in Unicode is looked up, sent as SNI and matched in its
    ASCII (xn--) form, as browsers and curl do; bytes that are not UTF-8 are
    bad usage."""

    NAME, ACE = "bücher.test", "xn--bcher-kva.test"

    @classmethod
    def setUpClass(cls):
        d = os.path.join(harness.scratch_dir(), "idn")
        for args in (("ca", "init", d), ("ca", "issue", d, cls.NAME, "--out", os.path.join(d, "b"))):
            rc, out, err, _ = run_tlsprobe(*args)
            if rc != 0:
                raise RuntimeError("tlsprobe %s: %s%s" % (" ".join(args), out, err))
        cls.root = os.path.join(d, "root.pem")
        cls.srv = cls.class_server(harness.s_server(os.path.join(d, "b.pem"), os.path.join(d, "b.key"),
                                                    chain=os.path.join(d, "intermediate.pem")))

    def trust(self):
        return ("--ca-file", self.root, "--no-system-ca")

    def test_unicode_target_is_probed_by_its_ascii_form(self):
        r = probe_json("%s:%d" % (self.NAME, self.srv.port), "--connect-to", "127.0.0.1",
                       *self.trust())
        self.assertEqual(r.obj["status"], "ok", dump(r.obj))
        self.assertEqual(r.obj["target"]["input"], "%s:%d" % (self.NAME, self.srv.port))
        self.assertEqual((r.obj["target"]["host"], r.obj["target"]["sni"]), (self.ACE, self.ACE))

    def test_unicode_sni(self):
        r = probe_json("127.0.0.1:%d" % self.srv.port, "--sni", self.NAME, *self.trust())
        self.assertEqual(r.obj["status"], "ok", dump(r.obj))
        self.assertEqual(r.obj["target"]["sni"], self.ACE)

    def test_bytes_that_are_not_utf8_are_bad_usage(self):
        for args in ((b"b\xffcher.test:1",), (b"127.0.0.1:1", b"--sni", b"b\xffcher.test"),
                     # U+02DC, which the IDNA mapping would drop: "a.test" is another name
                     (b"a\xcb\x9c.test:1",)):
            rc, out, err, _ = harness.run_tlsprobe_raw(*args)
            self.assertEqual(rc, 3, err)
            self.assertIn(b"invalid international name", err)
            self.assertIn(b"xn--", err)
