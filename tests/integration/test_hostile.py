"""Hostile certificate contents must not break JSON or reach the terminal raw.

The hostile leaf (see harness.Fixtures) has a subject CN and O whose
UTF8String bytes contain a double quote, a backslash, a newline, terminal
escape sequences (ESC ] ... BEL, ESC [ 31m, ESC [ 2J), DEL and invalid UTF-8
(ff fe, c3 28, a lone 80) next to a valid "é", and a SAN dNSName with a quote,
backslash, newline and ESC.  OpenSSL will not load such a certificate, so the
peer is gnutls-serv.
"""

import re
import unittest

import harness
from harness import trust_root
from harness import ProbeCase, dump, probe_json, run_tlsprobe_raw

F = None


def setUpModule():
    global F
    harness.require_tools("gnutls-serv")
    F = harness.fixtures()


def assert_terminal_safe(testcase, data, what, allow_sgr=False, allow_del=False):
    """No C0 control byte except \\n and \\t, no DEL, valid UTF-8.  With
    allow_sgr, ESC is allowed only as the start of an SGR colour sequence.
    allow_del: for JSON, where a raw DEL (0x7f) is legal and harmless."""
    if allow_sgr:
        stray = re.sub(rb"\x1b\[[0-9;]*m", b"", data)
    else:
        stray = data
    bad = sorted({b for b in stray
                  if (b < 0x20 and b not in (0x0a, 0x09)) or (b == 0x7f and not allow_del)})
    testcase.assertEqual(bad, [], "%s contains raw control bytes %s:\n%r"
                         % (what, ["0x%02x" % b for b in bad], data[:3000]))
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        testcase.fail("%s is not valid UTF-8 (%s): %r" % (what, e, data[:3000]))


class HostileSubject(ProbeCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(harness.gnutls_serv(F.hostile.chain, F.hostile.key))
        cls.leaf_only = cls.class_server(harness.gnutls_serv(F.hostile.cert, F.hostile.key))
        cls.target = "localhost:%d" % cls.srv.port

    def check_subject(self, subject):
        for ch, name in (('"', "double quote"), ("\\", "backslash"), ("\n", "newline"),
                         ("\ufffd", "U+FFFD for invalid UTF-8"), ("caf\u00e9", "valid UTF-8")):
            self.assertIn(ch, subject, "%s missing from subject %r" % (name, subject))
        self.assertIn("evil", subject)
        self.assertIn("quote", subject)
        self.assertIn("Org", subject)

    def test_json_parses_strictly_and_subject_survives(self):
        r = probe_json(self.target, *trust_root())
        self.assertEqual(len(r.obj["chain"]), 2, dump(r.obj))
        self.check_subject(self.leaf(r)["subject"])
        self.assertEqual(self.leaf(r)["issuer"], F.inter.subject)
        self.assertIn("localhost", self.leaf(r)["sans"])
        # raw stdout: JSON must escape every C0 control character
        assert_terminal_safe(self, r.stdout.rstrip("\n").encode("utf-8"), "JSON stdout",
                             allow_del=True)

    def test_hostile_cert_otherwise_verifies(self):
        r = probe_json(self.target, *trust_root())
        self.assertOutcome(r, 0, "ok", None)

    def test_problem_subject_with_hostile_bytes_is_valid_json(self):
        r = probe_json("localhost:%d" % self.leaf_only.port, *trust_root())
        self.assertOutcome(r, 2, "critical", "missing-intermediate")
        self.check_subject(self.leaf(r)["subject"])
        p = self.assertProblem(r, "missing-intermediate")
        if p["subject"] is not None:
            self.check_subject(p["subject"])

    def test_text_output_contains_no_raw_control_bytes(self):
        rc, out, err, _ = run_tlsprobe_raw(self.target, *trust_root())
        self.assertTrue(out, "no text output")
        assert_terminal_safe(self, out, "text stdout")
        assert_terminal_safe(self, err, "stderr")

    def test_verbose_text_output_contains_no_raw_control_bytes(self):
        rc, out, err, _ = run_tlsprobe_raw(self.target, *trust_root(), "-v")
        assert_terminal_safe(self, out, "text stdout (-v)")
        assert_terminal_safe(self, err, "stderr (-v)")

    def test_text_problem_report_contains_no_raw_control_bytes(self):
        rc, out, err, _ = run_tlsprobe_raw("localhost:%d" % self.leaf_only.port,
                                           "--no-system-ca")
        self.assertEqual(rc, 2)
        assert_terminal_safe(self, out, "text stdout")
        assert_terminal_safe(self, err, "stderr")

    def test_colour_output_has_only_sgr_escapes(self):
        for target in (self.target, "localhost:%d" % self.leaf_only.port):
            rc, out, err, _ = run_tlsprobe_raw(target, *trust_root(), "--color", "always")
            assert_terminal_safe(self, out, "coloured stdout", allow_sgr=True)
            assert_terminal_safe(self, err, "coloured stderr", allow_sgr=True)


if __name__ == "__main__":
    unittest.main()
