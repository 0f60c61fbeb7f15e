"""Probes that cannot complete (the "error" object) and bad command lines (exit 3)."""

import os
import unittest

import harness
from harness import trust_root
from harness import ProbeCase, dump, probe_json, run_tlsprobe
from harness.schema import check_failure, parse_json_line

F = None


def setUpModule():
    global F
    F = harness.fixtures()


class ConnectionLevel(ProbeCase):
    def assertNoHandshake(self, r):
        self.assertIsNone(r.obj["tls"], dump(r.obj))
        self.assertIsNone(r.obj["verify"], dump(r.obj))
        self.assertEqual(r.obj["chain"], [], dump(r.obj))

    def test_closed_port_is_connection_refused(self):
        port = harness.closed_port()
        r = probe_json("127.0.0.1:%d" % port, *trust_root())
        self.assertError(r, "connection-refused")
        self.assertNoHandshake(r)
        self.assertEqual(r.obj["target"]["address"], "127.0.0.1")
        self.assertEqual(r.obj["target"]["port"], port)

    def test_closed_port_text_output_exits_2(self):
        rc, out, err, _ = run_tlsprobe("127.0.0.1:%d" % harness.closed_port())
        self.assertEqual(rc, 2, out + err)

    def test_silent_server_times_out_within_the_timeout(self):
        srv = self.server(harness.silent_server())
        r = probe_json("127.0.0.1:%d" % srv.port, *trust_root(), "--timeout", "1", timeout=10)
        self.assertError(r, "timeout")
        self.assertLess(r.elapsed, 2.0, "--timeout 1 must finish within 2 s of wall time")
        self.assertGreaterEqual(r.elapsed, 0.9, "gave up before the timeout")
        self.assertIsNone(r.obj["verify"], dump(r.obj))
        self.assertEqual(r.obj["chain"], [])

    def test_decimal_timeout_is_honoured(self):
        srv = self.server(harness.silent_server())
        r = probe_json("127.0.0.1:%d" % srv.port, *trust_root(), "--timeout", "0.5",
                       timeout=10)
        self.assertError(r, "timeout")
        self.assertLess(r.elapsed, 1.5)
        self.assertGreaterEqual(r.elapsed, 0.4)

    def test_plain_http_server_is_not_tls_and_says_http(self):
        srv = self.server(harness.http_server())
        r = probe_json("127.0.0.1:%d" % srv.port, *trust_root(), "--timeout", "5")
        self.assertError(r, "not-tls")
        self.assertIn("HTTP", r.obj["error"]["message"])
        self.assertNoHandshake(r)
        self.assertLess(r.elapsed, 4, "should not wait for the timeout")

    def test_garbage_answer_is_handshake_failure_or_not_tls(self):
        srv = self.server(harness.garbage_server())
        r = probe_json("127.0.0.1:%d" % srv.port, *trust_root(), "--timeout", "5")
        self.assertEqual((r.rc, r.obj["status"]), (2, "critical"), dump(r.obj))
        self.assertIn(r.obj["reason"], ("handshake-failure", "not-tls"), dump(r.obj))
        self.assertEqual(r.obj["error"]["code"], r.obj["reason"])
        self.assertNoHandshake(r)

    def record_flood(self, record):
        def handler(conn):
            conn.recv(4096)
            try:
                conn.sendall(record * 5000)
                conn.recv(100)
            except OSError:
                pass
        srv = self.server(harness.ThreadServer(handler))
        r = probe_json("127.0.0.1:%d" % srv.port, *trust_root(), "--timeout", "5")
        self.assertError(r, "handshake-failure")
        self.assertNoHandshake(r)
        return r.obj["error"]

    def test_flood_of_warning_alerts_is_named_not_an_internal_error(self):
        e = self.record_flood(bytes([21, 3, 3, 0, 2, 1, 112]))
        self.assertRegex(e["message"], r"the server sent \d+ alerts \(the first: warning unrecognized_name\)")
        self.assertIn("ServerHello", e["fix"])

    def test_empty_records_instead_of_a_handshake_are_named(self):
        for record in (bytes([22, 3, 3, 0, 0]), bytes([23, 3, 3, 0, 0])):
            with self.subTest(content_type=record[0]):
                e = self.record_flood(record)
                self.assertIn("the server sent an empty record instead of a handshake", e["message"])

    def test_reset_during_handshake_is_handshake_failure(self):
        srv = self.server(harness.reset_server())
        r = probe_json("127.0.0.1:%d" % srv.port, *trust_root(), "--timeout", "5")
        self.assertError(r, "handshake-failure")
        self.assertNoHandshake(r)
        self.assertGreaterEqual(srv.connections, 1)

    def test_server_only_tls12_with_tls_min_13_is_protocol_version(self):
        srv = self.server(harness.s_server(F.leaf.cert, F.leaf.key, chain=F.inter.cert,
                                           extra=["-tls1_2"]))
        r = probe_json("localhost:%d" % srv.port, *trust_root(), "--tls-min", "1.3")
        self.assertError(r, "protocol-version")

    def test_server_only_tls13_with_tls_max_12_is_protocol_version(self):
        srv = self.server(harness.s_server(F.leaf.cert, F.leaf.key, chain=F.inter.cert,
                                           extra=["-tls1_3"]))
        r = probe_json("localhost:%d" % srv.port, *trust_root(), "--tls-max", "1.2")
        self.assertError(r, "protocol-version")

    def test_name_the_server_does_not_serve_says_so_and_how_to_probe(self):
        # a server with a site for localhost (-cert2) and a fatal alert for any other name
        srv = self.server(harness.s_server(F.wronghost.cert, F.wronghost.key, extra=[
            "-servername", "localhost", "-cert2", F.leaf.cert, "-key2", F.leaf.key,
            "-servername_fatal"]))
        r = probe_json("127.0.0.1:%d" % srv.port, "--sni", "other.test", *trust_root())
        self.assertError(r, "handshake-failure")
        self.assertIn("does not serve the name other.test", r.obj["error"]["message"])
        self.assertIn("unrecognized_name", r.obj["error"]["message"])
        self.assertIn("--sni NAME", r.obj["error"]["fix"])
        r = probe_json("localhost:%d" % srv.port, *trust_root(), "--ca-file", F.inter.cert)
        self.assertEqual(r.obj["status"], "ok", dump(r.obj))

    def test_unresolvable_name_is_dns_failure(self):
        # A 64-character label cannot be put in a DNS query: the resolver
        # fails it at once and no packet leaves the machine (only loopback).
        name = "a" * 64 + ".invalid"
        r = probe_json("%s:443" % name, "--timeout", "8", timeout=20)
        self.assertError(r, "dns-failure")
        self.assertIsNone(r.obj["target"]["address"], dump(r.obj))
        self.assertEqual(r.obj["target"]["host"], name)
        self.assertIsNone(r.obj["tls"])
        self.assertIsNone(r.obj["verify"])

    def test_target_without_port_defaults_to_443(self):
        if harness.port_open("127.0.0.1", 443):
            self.skipTest("something listens on 127.0.0.1:443")
        r = probe_json("127.0.0.1", "--timeout", "5")
        self.assertEqual(r.obj["target"]["port"], 443)
        self.assertError(r, "connection-refused")

    def test_bare_ipv6_address_defaults_to_443(self):
        harness.require_ipv6()
        if harness.port_open("::1", 443):
            self.skipTest("something listens on [::1]:443")
        r = probe_json("::1", "--timeout", "5")
        self.assertEqual((r.obj["target"]["host"], r.obj["target"]["port"]), ("::1", 443))
        self.assertError(r, "connection-refused")


class FailuresInJson(unittest.TestCase):
    """With --json, a command that cannot run writes one object on stdout
    (status unknown, the error's code, message and fix) besides its line on
    stderr, and exits 3."""

    def check(self, code, input, *args):
        r = run_tlsprobe(*args, timeout=10)
        ctx = "args %r -> exit %d\nstdout: %r\nstderr: %r" % (args, r.rc, r.out, r.err)
        self.assertEqual(r.rc, 3, ctx)
        lines = r.out.splitlines()
        self.assertEqual(len(lines), 1, ctx)
        obj = parse_json_line(lines[0])
        try:
            check_failure(obj, input)
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, ctx)) from None
        self.assertEqual(obj["error"]["code"], code, ctx)
        self.assertEqual(r.err, "tlsprobe: %s\n" % obj["error"]["message"], ctx)
        return obj

    def test_bad_usage(self):
        closed = "127.0.0.1:%d" % harness.closed_port()
        for args in (("--json", closed, "--timeout", "abc"), (closed, "--timeout", "abc", "--json"),
                     ("--format", "json", closed, "--no-such-option"), ("--format=json", "fecth", "x"),
                     ("fetch", "--json"), ("ca", "check", "--json"), ("ca", "frobnicate", "--json"),
                     ("serve", "--json")):
            with self.subTest(args=args):
                self.check("bad-usage", None, *args)

    def test_malformed_target_names_it(self):
        obj = self.check("invalid-target", "localhost:0", "--json", "localhost:0")
        self.assertIn("invalid port '0'", obj["error"]["message"])

    def test_files(self):
        d = harness.scratch_dir()
        missing = os.path.join(d, "no-such-dir", "x.pem")
        closed = "127.0.0.1:%d" % harness.closed_port()
        self.check("bad-file", None, closed, "--ca-file", missing, "--json")
        self.check("bad-file", F.leaf.key, "cert", F.leaf.key, "--json")
        self.check("bad-file", missing, "ca", "check", "--cert", missing, "--json")
        self.check("bad-file", missing, "ca", "check", "--cert", F.leaf.cert, "--ca", missing, "--json")
        self.check("bad-file", missing, "batch", missing, "--json")

    def test_cert_writes_one_object_per_file_good_or_not(self):
        r = run_tlsprobe("cert", F.leaf.cert, F.leaf.key, F.root.cert, "--json")
        objs = [parse_json_line(l) for l in r.out.splitlines()]
        self.assertEqual([o["status"] for o in objs], ["ok", "unknown", "ok"], r.out)
        check_failure(objs[1], F.leaf.key)
        self.assertEqual(r.rc, 3)


class BadUsage(unittest.TestCase):
    """Bad usage: exit 3, exactly one line "tlsprobe: ..." on stderr, stdout empty."""

    def check(self, *args):
        rc, out, err, _ = run_tlsprobe(*args, timeout=10)
        ctx = "args %r -> exit %d\nstdout: %r\nstderr: %r" % (args, rc, out, err)
        self.assertEqual(rc, 3, ctx)
        self.assertEqual(out, "", ctx)
        self.assertTrue(err.endswith("\n"), ctx)
        self.assertEqual(len(err.splitlines()), 1, ctx)
        self.assertTrue(err.startswith("tlsprobe: "), ctx)
        self.assertFalse(err.startswith("tlsprobe: tlsprobe "), "says tlsprobe twice\n" + ctx)
        return err

    def test_wrong_number_of_words_says_tlsprobe_once(self):
        for args, said in ((("ca",), "ca needs init, issue, revoke, crl or check"),
                           (("fetch",), "fetch takes one URL"),
                           (("batch", "a.txt", "b.txt"), "batch reads one list"),
                           (("serve", "extra"), "serve takes no target ('extra')")):
            with self.subTest(args=args):
                self.assertIn("tlsprobe: " + said, self.check(*args))

    def test_files_that_are_not_what_was_asked_say_what_they_are(self):
        closed = "127.0.0.1:%d" % harness.closed_port()
        d = harness.scratch_dir()
        for args, said in (
                (("--ca-file", d), "cannot read CA file %s: it is a directory" % d),
                (("--ca-file", F.leaf.key), "holds a private key, not a certificate"),
                (("--crl", d), "cannot read CRL file %s: it is a directory" % d),
                (("--client-cert", d, "--client-key", F.leaf.key), "it is a directory")):
            self.assertIn(said, self.check(closed, *args))
        csr = os.path.join(d, "leaf.csr")
        harness.openssl("req", "-new", "-key", F.leaf.key, "-subj", "/CN=localhost", "-out", csr)
        self.assertIn("holds a certificate request (CSR), not a certificate; give the certificate "
                      "the CA issued for it", self.check("cert", csr))

    def test_a_command_mistyped_is_bad_usage_not_a_host_name(self):
        # refused before any lookup: no DNS query leaves for "fecth"
        for args, meant in ((("fecth", "https://localhost/"), "fetch"), (("serv",), "serve"),
                            (("-q", "serv"), "serve"), (("crt", "x.pem"), "cert"),
                            (("bacth",), "batch"), (("deom",), "demo")):
            with self.subTest(args=args):
                err = self.check(*args)
                word = args[-1] if args[0] == "-q" else args[0]
                self.assertIn("unknown command '%s': did you mean '%s'?" % (word, meant), err)
                self.assertIn("tlsprobe connect %s (or %s:443)" % (word, word), err)

    def test_host_names_near_a_command_are_probed_when_meant(self):
        # connect named, a port, a dot, a word far enough or too short to be
        # a typo: a target. --connect-to keeps the name from DNS.
        closed = "127.0.0.1:%d" % harness.closed_port()
        for args in (("connect", "serv"), ("serv:443",), ("serv.test",), ("cat",), ("db",),
                     ("demonstration",)):
            with self.subTest(args=args):
                r = probe_json(*args, "--connect-to", closed)
                self.assertEqual((r.rc, r.obj["reason"]), (2, "connection-refused"), dump(r.obj))

    def test_an_option_mistyped_names_the_nearest(self):
        closed = "127.0.0.1:%d" % harness.closed_port()
        for args, meant in (((closed, "--colour", "never"), "--color"),
                            ((closed, "--timout", "3"), "--timeout"),
                            (("fetch", "https://%s/" % closed, "--colour=never"), "--color"),
                            (("batch", "--paralel", "3"), "--parallel")):
            with self.subTest(args=args):
                err = self.check(*args)
                self.assertIn("unknown option '%s': did you mean %s?" % (
                    [a for a in args if a.startswith("--")][0], meant), err)
        self.assertNotIn("did you mean", self.check(closed, "--cs", "x"))

    def test_port_0_is_bad_usage(self):
        self.check("localhost:0")

    def test_port_70000_is_bad_usage(self):
        self.check("localhost:70000")

    def test_unclosed_ipv6_bracket_is_bad_usage(self):
        self.check("[::1")

    def test_empty_target_is_bad_usage(self):
        self.check("")

    def test_empty_host_with_port_is_bad_usage(self):
        self.check(":443")

    def test_unreadable_ca_file_is_bad_usage(self):
        missing = os.path.join(harness.scratch_dir(), "no-such-dir", "ca.pem")
        self.check("127.0.0.1:%d" % harness.closed_port(), "--ca-file", missing)

    def test_non_numeric_timeout_is_bad_usage(self):
        self.check("127.0.0.1:%d" % harness.closed_port(), "--timeout", "abc")

    def test_unknown_option_is_bad_usage(self):
        self.check("127.0.0.1:%d" % harness.closed_port(), "--no-such-option")

    def test_bad_tls_version_is_bad_usage(self):
        self.check("127.0.0.1:%d" % harness.closed_port(), "--tls-min", "1.4")

    def test_bad_format_is_bad_usage(self):
        self.check("127.0.0.1:%d" % harness.closed_port(), "--format", "xml")

    def test_bad_at_time_is_bad_usage(self):
        self.check("127.0.0.1:%d" % harness.closed_port(), "--at", "yesterday")

    def test_no_target_is_bad_usage(self):
        self.check()

    def test_more_malformed_values_are_bad_usage(self):
        closed = "127.0.0.1:%d" % harness.closed_port()
        missing = os.path.join(harness.scratch_dir(), "no-such-dir", "client.pem")
        for args in (["localhost:"], ["localhost:abc"], ["localhost:-1"], ["[::1]x"],
                     ["https://"], ["https://:443/"],
                     [closed, "--warn-days", "abc"], [closed, "--crit-days", "x"],
                     [closed, "--color", "sometimes"], [closed, "--timeout", "0"],
                     [closed, "--at", "2026-13-45"], [closed, "--at", "@abc"],
                     [closed, "--client-cert", missing, "--client-key", missing],
                     [closed, "--timeout"]):
            with self.subTest(args=args):
                self.check(*args)

    def test_without_json_stdout_stays_empty(self):
        self.check("localhost:0", "--format", "text")
        self.check("--sni", "--json", "localhost:0")     # --json is --sni's value here


class FileInputs(unittest.TestCase):
    """Only regular files within the size limit are read: a FIFO would block
    past --timeout and /dev/zero would never end."""

    def check(self, *args):
        return BadUsage.check(self, *args)

    def setUp(self):
        self.d = harness.scratch_dir()
        self.fifo = os.path.join(self.d, "fifo-%s" % self.id().rsplit(".", 1)[-1])
        os.mkfifo(self.fifo)
        self.closed = "127.0.0.1:%d" % harness.closed_port()

    def test_fifo_is_refused_at_once_wherever_a_file_is_named(self):
        for args in (("cert", self.fifo), (self.closed, "--ca-file", self.fifo), (self.closed, "--crl", self.fifo),
                     (self.closed, "--client-cert", self.fifo, "--client-key", F.leaf.key),
                     (self.closed, "--client-cert", F.leaf.chain, "--client-key", self.fifo),
                     ("ca", "check", "--cert", self.fifo)):
            with self.subTest(args=args):
                self.assertIn("it is a named pipe (FIFO), not a regular file", self.check(*args))

    def test_character_device_is_refused_not_read_forever(self):
        for args in (("cert", "/dev/zero"), (self.closed, "--ca-file", "/dev/zero"),
                     (self.closed, "--crl", "/dev/zero")):
            with self.subTest(args=args):
                self.assertIn("it is a character device, not a regular file", self.check(*args))

    def test_file_over_the_size_limit_is_refused_with_the_limit(self):
        big = os.path.join(self.d, "big.pem")
        with open(big, "wb") as f:
            f.truncate(65 << 20)  # sparse: no disk space used
        self.assertIn("it is 65 MiB, more than the 64 MiB", self.check("cert", big))
        self.assertIn("it is 65 MiB", self.check(self.closed, "--ca-file", big))

    def test_dangling_symlink_is_named_as_such(self):
        link = os.path.join(self.d, "dangling.pem")
        os.symlink(os.path.join(self.d, "no-such-file.pem"), link)
        self.assertIn("it is a symbolic link to a file that does not exist", self.check("cert", link))


if __name__ == "__main__":
    unittest.main()
