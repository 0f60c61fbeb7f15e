"""Self-tests of the harness (no tlsprobe needed): the fixtures are what they
claim to be and the peers behave as the other modules assume, checked with
openssl s_client / gnutls-cli / Python's ssl module."""

import socket
import ssl
import unittest

import harness

F = None


def setUpModule():
    global F
    F = harness.fixtures()


def output(argv, input=b"", timeout=20):
    """Run a tool -> (exit code, its stdout and stderr as one text)."""
    r = harness.run(argv, input=input, timeout=timeout, merge=True, errors="replace",
                    signals_ok=True)
    return r.rc, r.out


def s_client(target, *extra, cafile=None):
    """openssl s_client -> (exit code, output text)."""
    return output(["openssl", "s_client", "-connect", target, "-verify_return_error",
                   "-servername", "localhost", "-CAfile", cafile or F.root.cert] + list(extra))


def openssl_verify(*args):
    return output(["openssl", "verify"] + list(args), input=None)


class FixtureFacts(unittest.TestCase):
    def test_leaf_chain_verifies_with_openssl(self):
        for info in (F.leaf, F.rsa, F.wronghost, F.short):
            rc, out = openssl_verify("-CAfile", F.root.cert, "-untrusted", F.inter.cert,
                                     info.cert)
            self.assertEqual(rc, 0, out)

    def test_leaf_is_not_valid_without_the_intermediate(self):
        rc, out = openssl_verify("-CAfile", F.root.cert, F.leaf.cert)
        self.assertNotEqual(rc, 0, out)

    def test_dates_are_as_recorded(self):
        for info in (F.root, F.inter, F.leaf, F.short, F.wronghost):
            self.assertEqual(F.read_date(info.cert, "startdate"), info.not_before, info.name)
            self.assertEqual(F.read_date(info.cert, "enddate"), info.not_after, info.name)

    def test_subjects_are_as_recorded(self):
        out = harness.run(["openssl", "x509", "-in", F.leaf.cert, "-noout", "-subject",
                           "-nameopt", "RFC2253"], errors="strict").out
        self.assertEqual(out.strip(), "subject=" + F.leaf.subject)

    def test_sha1_leaf_is_signed_with_sha1(self):
        out = harness.run(["openssl", "x509", "-in", F.sha1.cert, "-noout", "-text"],
                          errors="strict").out
        self.assertIn("ecdsa-with-SHA1", out)

    def test_defective_leaves_fail_openssl_verify_for_the_intended_reason(self):
        for info, untrusted, why in (
                (F.clientonly, F.inter.cert, "unsuitable certificate purpose"),
                (F.notca_child, F.notca_extra, "certificate signing"),
                (F.badsig, F.inter.cert, "signature failure"),
                (F.wronghost, F.inter.cert, None)):
            rc, out = openssl_verify("-CAfile", F.root.cert, "-untrusted", untrusted,
                                     "-purpose", "sslserver", info.cert)
            if why is None:
                self.assertEqual(rc, 0, out)
            else:
                self.assertNotEqual(rc, 0, out)
                self.assertIn(why, out, info.name)

    def test_hostile_cert_holds_the_raw_bytes(self):
        with open(F.hostile.cert, "rb") as f:
            der = harness.pki.pem_to_der(f.read())
        for raw in (harness.HOSTILE_CN, harness.HOSTILE_O, harness.HOSTILE_SAN):
            self.assertIn(raw, der)

    def test_hostile_cert_verifies_with_gnutls(self):
        harness.require_tools("certtool")
        p = harness.run(["certtool", "--verify", "--load-ca-certificate", F.root.cert,
                         "--infile", F.hostile.chain], merge=True, errors=None)
        self.assertIn(b"Chain verification output: Verified", p.stdout)


class Peers(unittest.TestCase):
    def test_s_server_serves_many_connections_and_stops(self):
        with harness.s_server(F.leaf.cert, F.leaf.key, chain=F.inter.cert) as s:
            for _ in range(3):
                rc, out = s_client(s.target)
                self.assertEqual(rc, 0, out)
                self.assertIn("Verify return code: 0 (ok)", out)
            proc = s.proc
        self.assertIsNotNone(proc.poll(), "s_server still running after stop")
        self.assertFalse(harness.port_open("127.0.0.1", s.port))

    def test_s_server_without_chain_fails_verification(self):
        with harness.s_server(F.leaf.cert, F.leaf.key) as s:
            rc, out = s_client(s.target)
        self.assertNotEqual(rc, 0, out)

    def test_s_server_on_ipv6_loopback(self):
        harness.require_ipv6()
        with harness.s_server(F.leaf.cert, F.leaf.key, chain=F.inter.cert, host="::1") as s:
            rc, out = s_client(s.target)
        self.assertEqual(rc, 0, out)

    def test_s_server_requiring_client_cert_rejects_client_without_one(self):
        with harness.s_server(F.leaf.cert, F.leaf.key, chain=F.inter.cert,
                              extra=["-Verify", "1", "-verify_return_error",
                                     "-CAfile", F.root.cert]) as s:
            rc, out = s_client(s.target, "-tls1_2")
            self.assertNotEqual(rc, 0, out)
            rc, out = s_client(s.target, "-cert", F.client.cert, "-key", F.client.key)
            self.assertEqual(rc, 0, out)

    def test_gnutls_serv_serves_chain(self):
        harness.require_tools("gnutls-serv")
        with harness.gnutls_serv(F.leaf.chain, F.leaf.key) as s:
            rc, out = s_client(s.target)
            proc = s.proc
        self.assertEqual(rc, 0, out)
        self.assertIsNotNone(proc.poll())

    def test_gnutls_serv_serves_hostile_cert(self):
        harness.require_tools("gnutls-serv", "gnutls-cli")
        with harness.gnutls_serv(F.hostile.chain, F.hostile.key) as s:
            p = harness.run(["gnutls-cli", "--x509cafile", F.root.cert, "-p", str(s.port),
                             "localhost"], input=b"", merge=True, errors=None, timeout=20)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn(b"Handshake was completed", p.stdout)

    def test_gnutls_serv_serves_sha1_leaf(self):
        harness.require_tools("gnutls-serv")
        with harness.gnutls_serv(F.sha1.chain, F.sha1.key) as s:
            rc, out = s_client(s.target)
        self.assertIn("too weak", out)


class HandwrittenServers(unittest.TestCase):
    def tls_connect(self, port, timeout=2):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
            with ctx.wrap_socket(c, server_hostname="localhost"):
                pass

    def test_silent_server_never_answers(self):
        with harness.silent_server() as s:
            with self.assertRaises((socket.timeout, TimeoutError)):
                self.tls_connect(s.port, timeout=0.5)

    def test_garbage_server_is_not_tls(self):
        with harness.garbage_server() as s:
            with self.assertRaises(ssl.SSLError):
                self.tls_connect(s.port)

    def test_reset_server_resets(self):
        with harness.reset_server() as s:
            with self.assertRaises(ConnectionResetError):
                self.tls_connect(s.port)

    def test_http_server_answers_http_to_a_client_hello(self):
        with harness.http_server() as s:
            with socket.create_connection(("127.0.0.1", s.port), timeout=2) as c:
                c.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40))
                self.assertTrue(c.recv(100).startswith(b"HTTP/1.1 400"))
            with socket.create_connection(("127.0.0.1", s.port), timeout=2) as c:
                c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertTrue(c.recv(100).startswith(b"HTTP/1.1 200"))

    def test_closed_port_refuses(self):
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", harness.closed_port()), timeout=2)

    def test_stopped_server_releases_port(self):
        s = harness.silent_server()
        port = s.port
        s.stop()
        self.assertFalse(harness.port_open("127.0.0.1", port))


if __name__ == "__main__":
    unittest.main()
