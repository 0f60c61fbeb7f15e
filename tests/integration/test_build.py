"""What the binary is made of, where that matters to users."""
import shutil
import subprocess
import unittest

import harness


class Linking(unittest.TestCase):
    def test_libcurl_is_not_loaded_by_every_probe(self):
        # Linked in, libcurl's dependencies (Kerberos, LDAP, SSH, libcrypto)
        # cost each probe milliseconds and megabytes: only fetch loads it.
        if not shutil.which("ldd"):
            self.skipTest("ldd is not installed")
        out = subprocess.run(["ldd", harness.tlsprobe_path()], capture_output=True, text=True).stdout
        self.assertNotIn("libcurl", out)
        self.assertIn("libgnutls", out)

    def test_version_names_the_libraries_it_runs_with(self):
        rc, out, err = harness.run_tlsprobe("--version")[:3]
        self.assertEqual(rc, 0, err)
        for name in ("tlsprobe", "GnuTLS", "libcurl", "jansson"):
            self.assertIn(name, out)
        self.assertNotIn("not found", out)


if __name__ == "__main__":
    unittest.main()


class GnutlsWords(unittest.TestCase):
    """verify.gnutls_status keeps GnuTLS's own words beside the diagnosis."""

    def test_unknown_issuer_in_gnutls_words_and_missing_intermediate_in_ours(self):
        f = harness.fixtures()
        with harness.s_server(f.leaf.cert, f.leaf.key) as s:
            r = harness.probe_json("localhost:%d" % s.port, "--ca-file", f.p("root.pem"), "--no-system-ca")
        self.assertEqual(r.obj["reason"], "missing-intermediate")
        self.assertIn("issuer is unknown", r.obj["verify"]["gnutls_status"])

    def test_null_when_the_chain_verifies(self):
        f = harness.fixtures()
        with harness.s_server(f.leaf.cert, f.leaf.key, chain=f.p("inter.pem")) as s:
            r = harness.probe_json("localhost:%d" % s.port, "--ca-file", f.p("root.pem"), "--no-system-ca")
        self.assertEqual(r.obj["status"], "ok", r.stdout)
        self.assertIsNone(r.obj["verify"]["gnutls_status"])
