"""Verification diagnoses: each reason code of verify.problems, with exit codes.

Time-dependent cases use --at (all three forms: YYYY-MM-DD, ISO with Z, @EPOCH)
against certificates whose validity dates the fixtures set explicitly, so no
test depends on sleeping or on the day it runs.
"""

import datetime
import unittest

import harness
from harness import trust_root
from harness import ProbeCase, at_date, at_epoch, dump, iso, probe_json, run_tlsprobe

F = None
DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)
MINUTE = datetime.timedelta(minutes=1)


def setUpModule():
    global F
    F = harness.fixtures()


class MissingIntermediate(ProbeCase):
    """Server sends only the leaf; the root is trusted, the intermediate is nowhere."""

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(harness.s_server(F.leaf.cert, F.leaf.key))

    def test_leaf_without_intermediate_is_missing_intermediate(self):
        r = probe_json("localhost:%d" % self.srv.port, *trust_root())
        self.assertOutcome(r, 2, "critical", "missing-intermediate")
        self.assertProblems(r, ["missing-intermediate"])
        p = self.assertProblem(r, "missing-intermediate", severity="critical")
        self.assertIn(harness.INTER_CN, p["message"], "message names the missing issuer")
        self.assertEqual(len(r.obj["chain"]), 1, dump(r.obj))
        self.assertIs(r.obj["verify"]["trusted"], False)
        self.assertIs(r.obj["verify"]["hostname_ok"], True)
        self.assertIsNone(r.obj["error"])

    def test_missing_intermediate_also_without_any_trusted_root(self):
        r = probe_json("localhost:%d" % self.srv.port, "--no-system-ca")
        self.assertOutcome(r, 2, "critical", "missing-intermediate")
        self.assertIn(harness.INTER_CN,
                      self.assertProblem(r, "missing-intermediate")["message"])

    def test_intermediate_given_as_ca_file_makes_it_trusted(self):
        # trusting the intermediate directly is a valid (if unusual) setup
        r = probe_json("localhost:%d" % self.srv.port, "--ca-file", F.inter_root,
                       "--no-system-ca")
        self.assertOutcome(r, 0, "ok", None)


class UntrustedRoot(ProbeCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(harness.s_server(F.leaf.cert, F.leaf.key,
                                                    chain=F.inter.cert))
        cls.full = cls.class_server(harness.s_server(F.leaf.cert, F.leaf.key,
                                                     chain=F.inter_root))

    def test_complete_chain_to_unknown_root_is_untrusted_root(self):
        r = probe_json("localhost:%d" % self.srv.port, "--no-system-ca")
        self.assertOutcome(r, 2, "critical", "untrusted-root")
        self.assertProblems(r, ["untrusted-root"])
        p = self.assertProblem(r, "untrusted-root", severity="critical")
        self.assertIn(harness.ROOT_CN, p["message"], "message names the root")
        self.assertIs(r.obj["verify"]["trusted"], False)
        self.assertIs(r.obj["verify"]["hostname_ok"], True)

    def test_root_sent_in_band_but_not_trusted_is_untrusted_root(self):
        r = probe_json("localhost:%d" % self.full.port, "--no-system-ca")
        self.assertOutcome(r, 2, "critical", "untrusted-root")
        self.assertProblems(r, ["untrusted-root"])
        self.assertIn(harness.ROOT_CN, self.assertProblem(r, "untrusted-root")["message"])
        self.assertEqual(len(r.obj["chain"]), 3, dump(r.obj))
        self.assertIs(r.obj["chain"][2]["self_signed"], True)

    def test_other_trusted_ca_does_not_help(self):
        r = probe_json("localhost:%d" % self.srv.port, "--ca-file", F.rogue_ca.cert,
                       "--no-system-ca")
        self.assertOutcome(r, 2, "critical", "untrusted-root")


class SelfSigned(ProbeCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(harness.s_server(F.selfsigned.cert, F.selfsigned.key))

    def test_single_untrusted_self_signed_cert_is_self_signed(self):
        r = probe_json("localhost:%d" % self.srv.port, "--no-system-ca")
        self.assertOutcome(r, 2, "critical", "self-signed")
        self.assertProblems(r, ["self-signed"])
        self.assertProblem(r, "self-signed", severity="critical")
        self.assertEqual(len(r.obj["chain"]), 1)
        self.assertIs(self.leaf(r)["self_signed"], True)
        self.assertIs(r.obj["verify"]["trusted"], False)
        self.assertIs(r.obj["verify"]["hostname_ok"], True)

    def test_self_signed_cert_given_as_ca_file_is_ok(self):
        r = probe_json("localhost:%d" % self.srv.port, "--ca-file", F.selfsigned.cert,
                       "--no-system-ca")
        self.assertOutcome(r, 0, "ok", None)

    def test_insecure_exits_0_but_still_lists_the_problem(self):
        r = probe_json("localhost:%d" % self.srv.port, "--no-system-ca", "--insecure")
        self.assertEqual((r.rc, r.obj["status"]), (0, "ok"), dump(r.obj))
        self.assertIn("self-signed", harness.problem_codes(r.obj), dump(r.obj))
        self.assertIs(r.obj["verify"]["trusted"], False)

    def test_insecure_text_output_exits_0(self):
        rc, out, err, _ = run_tlsprobe("localhost:%d" % self.srv.port, "--no-system-ca",
                                       "--insecure")
        self.assertEqual(rc, 0, out + err)


class HostnameMismatch(ProbeCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(harness.s_server(F.wronghost.cert, F.wronghost.key,
                                                    chain=F.inter.cert))

    def test_wrong_name_is_hostname_mismatch_listing_covered_names(self):
        r = probe_json("localhost:%d" % self.srv.port, *trust_root())
        self.assertOutcome(r, 2, "critical", "hostname-mismatch")
        self.assertProblems(r, ["hostname-mismatch"])
        p = self.assertProblem(r, "hostname-mismatch", severity="critical")
        self.assertIn("other.example", p["message"])
        v = r.obj["verify"]
        self.assertEqual((v["trusted"], v["hostname_ok"], v["name"]),
                         (True, False, "localhost"), dump(r.obj))
        self.assertEqual(self.leaf(r)["sans"], ["other.example"])

    def test_ip_literal_not_in_sans_is_hostname_mismatch(self):
        r = probe_json("127.0.0.1:%d" % self.srv.port, *trust_root())
        self.assertOutcome(r, 2, "critical", "hostname-mismatch")
        self.assertEqual(r.obj["verify"]["name"], "127.0.0.1")

    def test_expired_and_mismatched_reports_both(self):
        at = at_epoch(F.wronghost.not_after + DAY)
        r = probe_json("localhost:%d" % self.srv.port, *trust_root(), "--at", at)
        self.assertEqual((r.rc, r.obj["status"]), (2, "critical"), dump(r.obj))
        self.assertProblems(r, ["expired", "hostname-mismatch"])
        self.assertIn(r.obj["reason"], ("expired", "hostname-mismatch"))
        self.assertProblem(r, "expired", cert_index=0)

    def test_insecure_with_expired_and_mismatched_exits_0_listing_both(self):
        at = at_epoch(F.wronghost.not_after + DAY)
        r = probe_json("localhost:%d" % self.srv.port, *trust_root(), "--at", at,
                       "--insecure")
        self.assertEqual((r.rc, r.obj["status"]), (0, "ok"), dump(r.obj))
        self.assertProblems(r, ["expired", "hostname-mismatch"])


class Validity(ProbeCase):
    """Short-lived leaf: valid from now-1d to now+1d; CAs valid long before/after."""

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(harness.s_server(F.short.cert, F.short.key,
                                                    chain=F.inter.cert))
        cls.target = "localhost:%d" % cls.srv.port

    def test_at_date_after_not_after_is_expired_on_the_leaf(self):
        r = probe_json(self.target, *trust_root(), "--at", at_date(F.short.not_after + 2 * DAY))
        self.assertOutcome(r, 2, "critical", "expired")
        self.assertProblems(r, ["expired"])
        self.assertProblem(r, "expired", severity="critical", cert_index=0)
        self.assertLess(self.leaf(r)["days_remaining"], 0)

    def test_days_remaining_is_rounded_toward_zero_relative_to_at(self):
        # one hour after notAfter: -1/24 day -> 0 (the status says expired);
        # the text report says so in words
        at = at_epoch(F.short.not_after + HOUR)
        r = probe_json(self.target, *trust_root(), "--at", at)
        self.assertOutcome(r, 2, "critical", "expired")
        self.assertEqual(self.leaf(r)["days_remaining"], 0, dump(r.obj))
        t = run_tlsprobe(self.target, *trust_root(), "--at", at)
        self.assertIn("(expired less than a day ago)", " ".join(t.out.split()))
        t = run_tlsprobe(self.target, *trust_root(), "--at", at_epoch(F.short.not_after - HOUR))
        self.assertIn("(less than a day left)", " ".join(t.out.split()))

    def test_days_ago_in_words_and_days_remaining_agree(self):
        # 30 days and 5 hours after notAfter: the message says "30 days ago",
        # so days_remaining is -30 in JSON, perfdata, TSV and the chain block
        at = at_epoch(F.short.not_after + 30 * DAY + 5 * HOUR)
        r = probe_json(self.target, *trust_root(), "--at", at)
        self.assertIn(", 30 days ago", self.assertProblem(r, "expired", cert_index=0)["message"])
        self.assertEqual(self.leaf(r)["days_remaining"], -30, dump(r.obj))
        n = run_tlsprobe(self.target, *trust_root(), "--at", at, "--format", "nagios")
        self.assertIn(" days_remaining=-30;", n.out)
        tsv = run_tlsprobe(self.target, *trust_root(), "--at", at, "--format", "tsv")
        self.assertEqual(tsv.out.split("\n")[1].split("\t")[3], "-30", tsv.out)
        t = run_tlsprobe(self.target, *trust_root(), "--at", at)
        text = " ".join(t.out.split())
        self.assertIn("(expired 30 days ago)", text)
        self.assertIn(", 30 days ago", text)

    def test_how_long_ago_and_how_soon_read_in_the_right_unit(self):
        for at, words in ((F.short.not_after + 5 * MINUTE, "expired on %s, 5 minutes ago"),
                          (F.short.not_after + HOUR, "expired on %s, 1 hour ago"),
                          (F.short.not_after + 3 * DAY + HOUR, "expired on %s, 3 days ago"),
                          (F.short.not_before - 2 * MINUTE, "2 minutes from now"),
                          (F.short.not_before - 30 * HOUR, "30 hours from now")):
            r = probe_json(self.target, *trust_root(), "--at", at_epoch(at))
            code = "expired" if at > F.short.not_after else "not-yet-valid"
            m = self.assertProblem(r, code, cert_index=0)["message"]
            if "%s" in words:
                words = words % F.short.not_after.strftime("%Y-%m-%d %H:%M UTC")
            self.assertIn(words, m)

    def test_at_before_not_before_is_not_yet_valid_on_the_leaf(self):
        r = probe_json(self.target, *trust_root(), "--at", iso(F.short.not_before - 2 * DAY))
        self.assertOutcome(r, 2, "critical", "not-yet-valid")
        self.assertProblems(r, ["not-yet-valid"])
        self.assertProblem(r, "not-yet-valid", severity="critical", cert_index=0)

    def test_at_inside_validity_window_checks_expiry_from_that_time(self):
        # 1 day before notAfter: well inside --crit-days 14 -> critical expires-soon
        r = probe_json(self.target, *trust_root(), "--at", at_epoch(F.short.not_after - DAY))
        self.assertOutcome(r, 2, "critical", "expires-soon")

    def test_without_at_a_cert_ending_tomorrow_is_critical_expires_soon(self):
        r = probe_json(self.target, *trust_root())
        self.assertOutcome(r, 2, "critical", "expires-soon")
        self.assertProblem(r, "expires-soon", severity="critical", cert_index=0)
        self.assertIn(self.leaf(r)["days_remaining"], (0, 1))


class ExpiresSoon(ProbeCase):
    """Good leaf (notAfter = now+365d) judged --at shortly before its notAfter."""

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(harness.s_server(F.leaf.cert, F.leaf.key,
                                                    chain=F.inter.cert))
        cls.target = "localhost:%d" % cls.srv.port

    def probe_before_end(self, delta, *extra):
        return probe_json(self.target, *trust_root(), "--at",
                          at_epoch(F.leaf.not_after - delta), *extra)

    def test_within_warn_days_is_warning_exit_1(self):
        r = self.probe_before_end(20 * DAY - HOUR)
        self.assertOutcome(r, 1, "warning", "expires-soon")
        self.assertProblems(r, ["expires-soon"])
        self.assertProblem(r, "expires-soon", severity="warning", cert_index=0)
        self.assertEqual(self.leaf(r)["days_remaining"], 19, "floor(19d23h)")
        self.assertIs(r.obj["verify"]["trusted"], True)

    def test_within_crit_days_is_critical_exit_2(self):
        r = self.probe_before_end(5 * DAY)
        self.assertOutcome(r, 2, "critical", "expires-soon")
        self.assertProblem(r, "expires-soon", severity="critical", cert_index=0)

    def test_outside_warn_days_is_ok(self):
        r = self.probe_before_end(40 * DAY)
        self.assertOutcome(r, 0, "ok", None)

    def test_warn_days_option_moves_the_threshold(self):
        r = self.probe_before_end(20 * DAY - HOUR, "--warn-days", "10", "--crit-days", "5")
        self.assertOutcome(r, 0, "ok", None)
        r = self.probe_before_end(50 * DAY, "--warn-days", "60")
        self.assertOutcome(r, 1, "warning", "expires-soon")

    def test_crit_days_option_moves_the_threshold(self):
        r = self.probe_before_end(20 * DAY - HOUR, "--crit-days", "25")
        self.assertOutcome(r, 2, "critical", "expires-soon")

    def test_iso_at_form_is_accepted(self):
        r = probe_json(self.target, *trust_root(), "--at", iso(F.leaf.not_after - 5 * DAY))
        self.assertOutcome(r, 2, "critical", "expires-soon")

    def test_text_output_exit_code_matches_json(self):
        at = at_epoch(F.leaf.not_after - 20 * DAY)
        rc, out, err, _ = run_tlsprobe(self.target, *trust_root(), "--at", at)
        self.assertEqual(rc, 1, out + err)


class ClientCertRequired(ProbeCase):
    """openssl s_server -Verify 1 -verify_return_error: a client certificate is
    mandatory and must verify against the root (without -verify_return_error
    s_server would accept any certificate)."""

    def check_required(self, tls_flags, client_args=(), code="client-cert-required"):
        with harness.s_server(F.leaf.cert, F.leaf.key, chain=F.inter.cert,
                              extra=["-Verify", "1", "-verify_return_error",
                                     "-CAfile", F.root.cert] + list(tls_flags)) as s:
            r = probe_json("localhost:%d" % s.port, *trust_root(), *client_args)
        self.assertError(r, code)
        if r.obj["tls"] is not None:
            self.assertIs(r.obj["tls"]["client_cert_requested"], True, dump(r.obj))

    def test_no_client_cert_tls13_is_client_cert_required(self):
        self.check_required([])

    def test_no_client_cert_tls12_is_client_cert_required(self):
        self.check_required(["-tls1_2"])

    def test_rejected_client_cert_tls13_is_client_cert_rejected(self):
        self.check_required([], ["--client-cert", F.rogue_client.cert,
                                 "--client-key", F.rogue_client.key], "client-cert-rejected")

    def test_rejected_client_cert_tls12_is_client_cert_rejected(self):
        self.check_required(["-tls1_2"], ["--client-cert", F.rogue_client.cert,
                                          "--client-key", F.rogue_client.key], "client-cert-rejected")


class OtherChainDefects(ProbeCase):
    """Spec codes beyond the common ones: issuer-not-ca, signature-failure,
    purpose-mismatch (all critical, exit 2)."""

    def test_certificate_issued_by_a_non_ca_is_issuer_not_ca(self):
        # leaf (CA:FALSE) signs another certificate; the server sends both + inter
        with harness.s_server(F.notca_child.cert, F.notca_child.key,
                              chain=F.notca_extra) as s:
            r = probe_json("localhost:%d" % s.port, *trust_root())
        self.assertOutcome(r, 2, "critical", "issuer-not-ca")
        self.assertProblem(r, "issuer-not-ca", severity="critical")

    def test_corrupted_signature_is_signature_failure(self):
        with harness.s_server(F.badsig.cert, F.badsig.key, chain=F.inter.cert) as s:
            r = probe_json("localhost:%d" % s.port, *trust_root())
        self.assertOutcome(r, 2, "critical", "signature-failure")
        self.assertProblems(r, ["signature-failure"])
        self.assertProblem(r, "signature-failure", severity="critical", cert_index=0)

    def test_leaf_without_server_auth_is_purpose_mismatch(self):
        with harness.s_server(F.clientonly.cert, F.clientonly.key, chain=F.inter.cert) as s:
            r = probe_json("localhost:%d" % s.port, *trust_root())
        self.assertOutcome(r, 2, "critical", "purpose-mismatch")
        self.assertProblems(r, ["purpose-mismatch"])
        self.assertProblem(r, "purpose-mismatch", severity="critical", cert_index=0)


class InsecureAlgorithm(ProbeCase):
    """Leaf signed with ecdsa-with-SHA1 by the intermediate, served by gnutls-serv
    (OpenSSL 3 refuses to serve it: "ca md too weak")."""

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(harness.gnutls_serv(F.sha1.chain, F.sha1.key))

    def test_sha1_signed_leaf_is_insecure_algorithm(self):
        r = probe_json("localhost:%d" % self.srv.port, *trust_root())
        self.assertOutcome(r, 2, "critical", "insecure-algorithm")
        self.assertProblems(r, ["insecure-algorithm"])
        self.assertProblem(r, "insecure-algorithm", severity="critical", cert_index=0)
        self.assertIn("SHA1", self.leaf(r)["sig_alg"].upper().replace("-", ""))


if __name__ == "__main__":
    unittest.main()
