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
