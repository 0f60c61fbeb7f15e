"""--starttls: the clear-text dialogue before TLS. Every protocol against
its real server from Debian, started on loopback (Postfix, Dovecot, vsftpd,
PostgreSQL, MariaDB, slapd, Prosody, INN, InspIRCd), with TLS on and off;
hand-written servers (handing the socket to Python's ssl) only for what no
real server does: refusals, silence, floods, broken replies."""
import os
import re
import ssl
import unittest

import harness
from harness import ThreadServer, fixtures, probe_json, run_tlsprobe


def trust():
    return ("--ca-file", fixtures().p("root.pem"), "--no-system-ca")


def tls_context():
    f = fixtures()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(f.leaf.chain, f.leaf.key)
    return ctx


def line(conn):
    buf = b""
    while not buf.endswith(b"\n"):
        b = conn.recv(1)
        if not b:
            break
        buf += b
    return buf


def upgrade(conn):
    """Take the TLS handshake over; the probe closes right after it."""
    try:
        tls = tls_context().wrap_socket(conn, server_side=True)
        tls.close()
    except (OSError, ssl.SSLError):
        pass


def smtp(offer=True, accept=True):
    def handler(conn):
        conn.sendall(b"220 mail.test ESMTP\r\n")
        if not line(conn).upper().startswith(b"EHLO"):
            return
        conn.sendall(b"250-mail.test\r\n" + (b"250-STARTTLS\r\n" if offer else b"") + b"250 SIZE 1000\r\n")
        if not line(conn).upper().startswith(b"STARTTLS"):
            return
        if not accept:
            conn.sendall(b"454 TLS not available due to temporary reason\r\n")
            return
        conn.sendall(b"220 2.0.0 Ready to start TLS\r\n")
        upgrade(conn)
    return handler


def imap(conn):
    conn.sendall(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n")
    if line(conn).startswith(b"a1 STARTTLS"):
        conn.sendall(b"a1 OK Begin TLS negotiation now\r\n")
        upgrade(conn)


def postgres(accept):
    def handler(conn):
        req = conn.recv(8)
        if req != bytes([0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F]):
            return
        conn.sendall(b"S" if accept else b"N")
        if accept:
            upgrade(conn)
    return handler


def lmtp(conn):
    conn.sendall(b"220 lmtp.test LMTP ready\r\n")
    if not line(conn).upper().startswith(b"LHLO"):
        return
    conn.sendall(b"250-lmtp.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n")
    if line(conn).upper().startswith(b"STARTTLS"):
        conn.sendall(b"220 2.0.0 Ready to start TLS\r\n")
        upgrade(conn)


def nntp(accept):
    def handler(conn):
        conn.sendall(b"200 news.test NNRP service ready\r\n")
        if line(conn).upper().startswith(b"STARTTLS"):
            conn.sendall(b"382 Continue with TLS negotiation\r\n" if accept
                         else b"580 Can not initiate TLS negotiation\r\n")
            if accept:
                upgrade(conn)
    return handler


def sieve(offer=True):
    def handler(conn):
        conn.sendall(b'"IMPLEMENTATION" "Dovecot Pigeonhole"\r\n"SIEVE" "fileinto"\r\n' +
                     (b'"STARTTLS"\r\n' if offer else b"") + b'"VERSION" "1.0"\r\nOK "ready."\r\n')
        if line(conn).upper().startswith(b"STARTTLS"):
            conn.sendall(b'OK "Begin TLS negotiation now."\r\n')
            upgrade(conn)
    return handler


def irc(accept):
    def handler(conn):
        conn.sendall(b":irc.test NOTICE * :*** Looking up your hostname...\r\n")
        if line(conn).upper().startswith(b"STARTTLS"):
            if accept:
                conn.sendall(b":irc.test 670 * :STARTTLS successful, go ahead with TLS handshake\r\n")
                upgrade(conn)
            else:
                conn.sendall(b":irc.test 691 * :STARTTLS failed (Wrong moon phase)\r\n")
    return handler


def xmpp(offer=True):
    def handler(conn):
        conn.settimeout(10)
        got = b""
        while b"<stream:stream" not in got or not got.endswith(b">"):
            got += conn.recv(1024)
        if b"to='localhost'" not in got:
            return
        conn.sendall(b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                     b"xmlns:stream='http://etherx.jabber.org/streams' id='x1' from='localhost' "
                     b"version='1.0'><stream:features>" +
                     (b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>" if offer else b"") +
                     b"<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>"
                     b"</mechanisms></stream:features>")
        got = b""
        while b"<starttls" not in got:
            got += conn.recv(1024)
        conn.sendall(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        upgrade(conn)
    return handler


def ldap(result):
    def handler(conn):
        req = conn.recv(64)
        if b"1.3.6.1.4.1.1466.20037" not in req:
            return
        # LDAPMessage { messageID 1, ExtendedResponse { resultCode, matchedDN "", diagnosticMessage "" } }
        conn.sendall(bytes([0x30, 0x0c, 0x02, 0x01, 0x01, 0x78, 0x07, 0x0a, 0x01, result, 0x04, 0x00, 0x04, 0x00]))
        if result == 0:
            upgrade(conn)
    return handler


def mysql(ssl_capable):
    def handler(conn):
        caps = 0xffff if ssl_capable else 0xffff & ~0x800
        body = (bytes([10]) + b"10.11.6-MariaDB\x00" + (7).to_bytes(4, "little") + b"abcdefgh\x00" +
                caps.to_bytes(2, "little") + bytes([45]) + (2).to_bytes(2, "little") + bytes(13) +
                b"ijklmnopqrst\x00" + b"mysql_native_password\x00")
        conn.sendall(len(body).to_bytes(3, "little") + b"\x00" + body)
        if not ssl_capable:
            return
        req = conn.recv(36)
        if len(req) == 36 and req[3] == 1 and int.from_bytes(req[4:6], "little") & 0x800:
            upgrade(conn)
    return handler


def silent_after_greeting(conn):
    """Greets, takes EHLO, then says nothing until the client gives up."""
    conn.sendall(b"220 mail.test ESMTP\r\n")
    conn.settimeout(10)
    try:
        line(conn)
        conn.recv(100)
    except OSError:
        pass


def flood(greeting, command, filler, delay):
    """Greets, takes the command, then streams filler lines (every delay
    seconds, or as fast as it can) and never answers it."""
    import time

    def handler(conn):
        conn.sendall(greeting)
        conn.settimeout(10)
        try:
            while not line(conn).upper().startswith(command):
                pass
            while True:
                conn.sendall(filler * (1 if delay else 64))
                if delay:
                    time.sleep(delay)
        except OSError:
            pass
    return handler


class Starttls(unittest.TestCase):
    def probe(self, handler, proto, *extra):
        with ThreadServer(handler) as s:
            return probe_json("localhost:%d" % s.port, "--starttls", proto, *trust(), *extra)

    def assertVerified(self, r):
        self.assertEqual(r.rc, 0, r.stdout + r.stderr)
        self.assertEqual(r.obj["status"], "ok")
        self.assertTrue(r.obj["verify"]["trusted"])
        t = r.obj["timing_ms"]
        self.assertIsNotNone(t["starttls"])
        self.assertTrue(t["connect"] <= t["starttls"] <= t["handshake"] <= t["total"], t)

    def test_refusals_are_starttls_refused_with_the_servers_words(self):
        for handler, proto, words in ((nntp(False), "nntp", "580 Can not initiate"),
                                      (sieve(False), "sieve", "does not offer STARTTLS"),
                                      (irc(False), "irc", "691"),
                                      (xmpp(False), "xmpp", "does not offer STARTTLS"),
                                      (ldap(2), "ldap", "protocolError"),
                                      (mysql(False), "mysql", "no CLIENT_SSL")):
            with self.subTest(proto=proto):
                r = self.probe(handler, proto)
                self.assertEqual(r.obj["error"]["code"], "starttls-refused", r.stdout)
                self.assertIn(words, r.obj["error"]["message"])

    def test_a_greeting_on_a_port_probed_without_starttls_names_the_protocol(self):
        for handler, proto in ((nntp(True), "nntp"), (sieve(), "sieve"), (irc(True), "irc"),
                               (mysql(True), "mysql"), (lmtp, "lmtp")):
            with self.subTest(proto=proto):
                with ThreadServer(handler) as srv:
                    r = probe_json("localhost:%d" % srv.port, *trust())
                self.assertEqual(r.obj["error"]["code"], "not-tls", r.stdout)
                self.assertRegex(r.obj["error"]["message"], r"--starttls (\w+ \(or )?[\w, ]*%s" % proto)

    def test_smtp_through_an_http_proxy(self):
        """STARTTLS is spoken through the tunnel of Debian's tinyproxy."""
        harness.require_tools("tinyproxy")
        d = harness.scratch_dir()

        def argv(port):
            conf = harness.write(os.path.join(d, "starttls-tinyproxy-%d.conf" % port),
                                 "Port %d\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\n" % port)
            return ["tinyproxy", "-d", "-c", conf]

        with harness.ProcessServer("tinyproxy", argv) as px:
            self.assertVerified(self.probe(smtp(), "smtp", "--proxy", "http://127.0.0.1:%d" % px.port))

    def test_smtp_without_starttls_capability_is_refused(self):
        r = self.probe(smtp(offer=False), "smtp")
        self.assertEqual(r.rc, 2)
        self.assertEqual(r.obj["error"]["code"], "starttls-refused")
        self.assertIn("does not offer STARTTLS", r.obj["error"]["message"])

    def test_smtp_starttls_answered_454_is_refused_with_the_servers_words(self):
        r = self.probe(smtp(accept=False), "smtp")
        self.assertEqual(r.obj["error"]["code"], "starttls-refused")
        self.assertIn("454", r.obj["error"]["message"])

    def test_postgres_without_tls_is_refused(self):
        r = self.probe(postgres(False), "postgres")
        self.assertEqual(r.obj["error"]["code"], "starttls-refused")

    def test_silent_server_after_greeting_times_out_within_the_timeout(self):
        r = self.probe(silent_after_greeting, "smtp", "--timeout", "1")
        self.assertEqual(r.obj["error"]["code"], "timeout")
        self.assertLess(r.elapsed, 2.5)

    def test_imap_server_streaming_untagged_lines_is_cut_off_by_the_line_budget(self):
        r = self.probe(flood(b"* OK ready\r\n", b"A1 STARTTLS", b"* 1 EXISTS\r\n", 0), "imap", "--timeout", "5")
        self.assertEqual(r.obj["error"]["code"], "starttls-refused")
        self.assertRegex(r.obj["error"]["message"], r"sent \d+ lines \(\d+ bytes\) without the tagged answer")
        self.assertLess(r.elapsed, 5)

    def test_smtp_endless_continuation_lines_are_cut_off_by_the_line_budget(self):
        r = self.probe(flood(b"220 mail.test ESMTP\r\n", b"EHLO", b"250-PIPELINING\r\n", 0), "smtp", "--timeout", "5")
        self.assertEqual(r.obj["error"]["code"], "starttls-refused")
        self.assertIn("without the end of its answer to EHLO", r.obj["error"]["message"])
        self.assertLess(r.elapsed, 5)

    def test_imap_server_trickling_lines_past_the_deadline_times_out_saying_what_it_sent(self):
        r = self.probe(flood(b"* OK ready\r\n", b"A1 STARTTLS", b"* 1 EXISTS\r\n", 0.02), "imap", "--timeout", "1")
        self.assertEqual(r.obj["error"]["code"], "timeout")
        self.assertRegex(r.obj["error"]["message"], r"sent \d+ lines .* but not the tagged answer to STARTTLS")
        self.assertLess(r.elapsed, 2.5)

    def test_smtp_reply_without_a_code_is_refused_not_passed(self):
        def handler(conn):
            conn.sendall(b"OK hello\r\n")
            line(conn)
        r = self.probe(handler, "smtp")
        self.assertEqual(r.rc, 2)
        self.assertEqual(r.obj["error"]["code"], "starttls-refused")
        self.assertIn("three-digit code", r.obj["error"]["message"])

    def test_smtp_port_probed_without_starttls_suggests_it(self):
        with ThreadServer(smtp()) as s:
            r = probe_json("localhost:%d" % s.port, *trust())
        self.assertEqual(r.obj["error"]["code"], "not-tls")
        self.assertIn("--starttls smtp", r.obj["error"]["message"])

    def test_unknown_protocol_is_bad_usage(self):
        rc, out, err, _ = run_tlsprobe("localhost:25", "--starttls", "gopher")
        self.assertEqual(rc, 3)
        self.assertEqual(out, "")
        self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_protocol_gives_the_default_port(self):
        # Nothing listens on 127.0.0.1:25 here: the refusal names the port.
        r = probe_json("127.0.0.1", "--starttls", "smtp", "--timeout", "2", *trust())
        self.assertEqual(r.obj["target"]["port"], 25)

    def test_batch_line_may_set_starttls(self):
        with ThreadServer(smtp()) as s, ThreadServer(imap) as i:
            lines = "localhost:%d --starttls smtp\nlocalhost:%d --starttls=imap\n" % (s.port, i.port)
            path = os.path.join(harness.scratch_dir(), "starttls-targets.txt")
            with open(path, "w") as f:
                f.write(lines)
            r = harness.probe_json_lines("batch", path, "--ordered", *trust())
        self.assertEqual(r.rc, 0, r.stdout + r.stderr)
        self.assertEqual([o["status"] for o in r.objs], ["ok", "ok"])



DOVECOT_CONF = """\
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap pop3 lmtp sieve
listen = 127.0.0.1
ssl = {ssl}
ssl_cert = <{chain}
ssl_key = <{key}
mail_location = maildir:{d}/home/Maildir
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
service managesieve-login {{
  inet_listener sieve {{
    port = {sieve}
  }}
}}
passdb {{
  driver = static
  args = password=x
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/home
}}
"""


class RealDovecot(unittest.TestCase):
    """Debian's Dovecot (with Pigeonhole's ManageSieve), started by the test
    on loopback with the fixtures' certificate: imap, pop3, lmtp and sieve
    as a real server speaks them; and with TLS off, its refusal."""

    PROTOS = ("imap", "pop3", "lmtp", "sieve")

    @classmethod
    def setUpClass(cls):
        harness.require_tools("dovecot")
        if os.geteuid() != 0:
            raise unittest.SkipTest("Dovecot's master process needs root to start its services")
        f = fixtures()
        cls.servers = {}
        for ssl_on in (True, False):
            d = harness.new_dir("dovecot-%s-" % ("tls" if ssl_on else "plain"))
            os.makedirs(os.path.join(d, "home"), exist_ok=True)
            ports = {p: harness.free_port() for p in cls.PROTOS}
            conf = harness.write(os.path.join(d, "dovecot.conf"), DOVECOT_CONF.format(
                d=d, ssl="yes" if ssl_on else "no", chain=f.leaf.chain, key=f.leaf.key, **ports))
            srv = harness.ProcessServer("dovecot", lambda port, c=conf: ["dovecot", "-F", "-c", c],
                                        port_for=lambda h, p=ports["imap"]: p, attempts=1)
            for p in cls.PROTOS:
                harness.wait_port("127.0.0.1", ports[p])
            cls.addClassCleanup(srv.stop)
            cls.servers[ssl_on] = ports

    def test_each_protocol_upgrades_and_verifies(self):
        for proto in self.PROTOS:
            with self.subTest(proto=proto):
                r = probe_json("localhost:%d" % self.servers[True][proto], "--starttls", proto, *trust())
                Starttls.assertVerified(self, r)

    def test_scan_over_starttls(self):
        """tlsprobe scan --starttls imap: each hello after the dialogue, and what it finds is
        what sslscan --starttls-imap finds"""
        port = self.servers[True]["imap"]
        r = probe_json("scan", "localhost:%d" % port, "--starttls", "imap", *trust(), timeout=120)
        s = r.obj["scan"]
        versions = {p["version"] for p in s["protocols"] if p["accepted"]}
        self.assertIn("TLSv1.2", versions, harness.dump(r.obj))
        self.assertTrue(s["ciphers"], harness.dump(r.obj))
        self.assertIsNone(r.obj["error"], harness.dump(r.obj))
        if not harness.have("sslscan"):
            self.skipTest("sslscan is not installed")
        out = harness.run(["sslscan", "--no-colour", "--starttls-imap", "--xml=-", "127.0.0.1:%d" % port],
                          timeout=120).out
        theirs = {(m.group(1), m.group(2).upper()) for m in re.finditer(
            r'<cipher status="\w+" sslversion="([^"]+)" bits="\d+" cipher="[^"]+" id="0x([0-9A-Fa-f]+)"', out)}
        mine = {(c["version"], c["id"][2:].upper()) for c in s["ciphers"]}
        self.assertEqual(mine, theirs)

    def test_with_tls_off_dovecot_refuses_in_its_own_words(self):
        for proto in self.PROTOS:
            with self.subTest(proto=proto):
                r = probe_json("localhost:%d" % self.servers[False][proto], "--starttls", proto, *trust())
                self.assertEqual(r.obj["error"]["code"], "starttls-refused", r.stdout)
                self.assertIn("the server said", r.obj["error"]["message"])


class RealPostgres(unittest.TestCase):
    """Debian's PostgreSQL, a cluster made by initdb and started as the
    postgres user on loopback (it refuses to run as root): with ssl on, and
    with it off."""

    @classmethod
    def setUpClass(cls):
        import glob
        import shutil
        import tempfile
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins or not harness.have("runuser"):
            raise unittest.SkipTest("PostgreSQL (Debian package postgresql) is not installed")
        if os.geteuid() != 0:
            raise unittest.SkipTest("the test starts PostgreSQL as its own user, which takes root")
        bindir = os.path.dirname(bins[-1])
        f = fixtures()
        # Under /tmp, owned by postgres: the server reads its key there.
        d = tempfile.mkdtemp(prefix="tlsprobe-pg-")
        cls.addClassCleanup(shutil.rmtree, d, True)
        shutil.copy(f.leaf.chain, os.path.join(d, "server.crt"))
        shutil.copy(f.leaf.key, os.path.join(d, "server.key"))
        os.chmod(os.path.join(d, "server.key"), 0o600)
        harness.run(["chown", "-R", "postgres:", d], check=True)
        harness.run(["runuser", "-u", "postgres", "--", os.path.join(bindir, "initdb"), "-D",
                     os.path.join(d, "data"), "-A", "trust"], timeout=120, check=True)
        cls.ports = {}
        for ssl_on in (True, False):
            def argv(port, ssl_on=ssl_on):
                return ["runuser", "-u", "postgres", "--", os.path.join(bindir, "postgres"), "-D",
                        os.path.join(d, "data"), "-c", "port=%d" % port, "-c", "listen_addresses=127.0.0.1",
                        "-c", "unix_socket_directories=" + d, "-c", "ssl=" + ("on" if ssl_on else "off"),
                        "-c", "ssl_cert_file=" + os.path.join(d, "server.crt"),
                        "-c", "ssl_key_file=" + os.path.join(d, "server.key")]
            srv = harness.ProcessServer("postgres", argv, ready="ready to accept connections", timeout=30)
            cls.ports[ssl_on] = srv.port
            # one cluster, one server at a time: the second starts after the first stops
            if ssl_on:
                cls.verified = probe_json("localhost:%d" % srv.port, "--starttls", "postgres", *trust())
            else:
                cls.refused = probe_json("localhost:%d" % srv.port, "--starttls", "postgres", *trust())
            srv.stop()

    def test_ssl_on_upgrades_and_verifies(self):
        Starttls.assertVerified(self, self.verified)

    def test_ssl_off_is_refused_with_its_answer(self):
        self.assertEqual(self.refused.obj["error"]["code"], "starttls-refused", self.refused.stdout)
        self.assertIn("answered 'N'", self.refused.obj["error"]["message"])


def _root_or_skip(what):
    if os.geteuid() != 0:
        raise unittest.SkipTest("%s is started by the test as root" % what)


class RealSlapd(unittest.TestCase):
    """OpenLDAP's slapd (Debian's), on loopback with the fixtures'
    certificate, and without one: the StartTLS extended operation for real."""

    @classmethod
    def setUpClass(cls):
        harness.require_tools("slapd")
        _root_or_skip("slapd")
        f = fixtures()
        cls.results = {}
        for tls in (True, False):
            d = harness.new_dir("slapd-")
            os.makedirs(os.path.join(d, "db"))
            conf = harness.write(os.path.join(d, "slapd.conf"), "".join([
                "include /etc/ldap/schema/core.schema\n",
                "pidfile %s/slapd.pid\n" % d,
                "modulepath /usr/lib/ldap\nmoduleload back_mdb\n",
                "TLSCertificateFile %s\nTLSCertificateKeyFile %s\n" % (f.leaf.chain, f.leaf.key) if tls else "",
                "database mdb\nsuffix \"dc=test\"\ndirectory %s/db\n" % d]))
            with harness.ProcessServer("slapd", lambda port, c=conf: [
                    "slapd", "-d", "0", "-f", c, "-h", "ldap://127.0.0.1:%d/" % port]) as srv:
                cls.results[tls] = probe_json("localhost:%d" % srv.port, "--starttls", "ldap", *trust())

    def test_starttls_upgrades_and_verifies(self):
        Starttls.assertVerified(self, self.results[True])

    def test_without_a_certificate_slapd_refuses_with_a_result_code(self):
        r = self.results[False]
        self.assertEqual(r.obj["error"]["code"], "starttls-refused", r.stdout)
        self.assertIn("resultCode", r.obj["error"]["message"])


class RealMariaDB(unittest.TestCase):
    """Debian's MariaDB server, a data directory made by mariadb-install-db,
    on loopback with the fixtures' certificate, and with TLS off."""

    @classmethod
    def setUpClass(cls):
        harness.require_tools("mariadbd", "mariadb-install-db")
        _root_or_skip("MariaDB")
        f = fixtures()
        d = harness.new_dir("mariadb-")
        harness.run(["mariadb-install-db", "--no-defaults", "--datadir=" + os.path.join(d, "data"), "--user=root",
                     "--auth-root-authentication-method=normal", "--skip-test-db"], timeout=120, check=True)
        cls.results = {}
        for tls in (True, False):
            def argv(port, tls=tls):
                return ["mariadbd", "--no-defaults", "--datadir=" + os.path.join(d, "data"), "--user=root",
                        "--port=%d" % port, "--bind-address=127.0.0.1", "--socket=" + os.path.join(d, "sock"),
                        "--skip-grant-tables", "--skip-networking=0"] + (
                            ["--ssl-cert=" + f.leaf.chain, "--ssl-key=" + f.leaf.key] if tls else ["--skip-ssl"])
            with harness.ProcessServer("mariadbd", argv, ready="ready for connections", timeout=60) as srv:
                cls.results[tls] = probe_json("localhost:%d" % srv.port, "--starttls", "mysql", *trust())

    def test_ssl_request_upgrades_and_verifies(self):
        Starttls.assertVerified(self, self.results[True])

    def test_with_tls_off_the_handshake_packet_says_so(self):
        r = self.results[False]
        self.assertEqual(r.obj["error"]["code"], "starttls-refused", r.stdout)
        self.assertIn("no CLIENT_SSL", r.obj["error"]["message"])


class RealProsody(unittest.TestCase):
    """Debian's Prosody, on loopback with the fixtures' certificate (xmpp on
    its client port, xmpp-server on its server port), and with none."""

    @classmethod
    def setUpClass(cls):
        harness.require_tools("prosody")
        _root_or_skip("Prosody")
        f = fixtures()
        cls.results = {}
        for tls in (True, False):
            d = harness.new_dir("prosody-")
            os.makedirs(os.path.join(d, "data"))
            c2s, s2s = harness.free_port(), harness.free_port()
            conf = harness.write(os.path.join(d, "prosody.cfg.lua"), "".join([
                'pidfile = "%s/prosody.pid"\ndata_path = "%s/data"\nrun_as_root = true\n' % (d, d),
                'log = { info = "*console" }\ninterfaces = { "127.0.0.1" }\n',
                "c2s_ports = { %d }\ns2s_ports = { %d }\nlegacy_ssl_ports = { }\n" % (c2s, s2s),
                'modules_enabled = { "tls", "saslauth", "disco" }\n',
                'ssl = { certificate = "%s", key = "%s" }\n' % (f.leaf.chain, f.leaf.key) if tls else
                "c2s_require_encryption = false\ns2s_require_encryption = false\n"
                'modules_disabled = { "tls" }\n',
                'VirtualHost "localhost"\n']))
            with harness.ProcessServer("prosody", lambda port, c=conf: ["prosody", "-F", "--config", c],
                                       port_for=lambda h, p=c2s: p, attempts=1) as srv:
                harness.wait_port("127.0.0.1", s2s)
                cls.results[tls] = {proto: probe_json("localhost:%d" % port, "--starttls", proto, *trust())
                                    for proto, port in (("xmpp", c2s), ("xmpp-server", s2s))}

    def test_client_and_server_streams_upgrade_and_verify(self):
        for proto, r in self.results[True].items():
            with self.subTest(proto=proto):
                Starttls.assertVerified(self, r)

    def test_with_tls_off_prosody_refuses(self):
        # the client stream lists its features, without <starttls/>; the
        # server-to-server stream is closed on a peer that cannot do TLS
        for proto, r in self.results[False].items():
            with self.subTest(proto=proto):
                self.assertEqual(r.obj["error"]["code"], "starttls-refused", r.stdout)
        self.assertIn("does not offer STARTTLS", self.results[False]["xmpp"].obj["error"]["message"])



# local_enable=YES: with both it and anonymous_enable off, vsftpd answers every
# connection "500 OOPS: vsftpd: both local and anonymous access disabled!".
# No one logs in: the probe stops after AUTH TLS and the handshake.
VSFTPD_CONF = """\
listen=YES
listen_ipv6=NO
background=NO
listen_address=127.0.0.1
listen_port={port}
anonymous_enable=NO
local_enable=YES
seccomp_sandbox=NO
secure_chroot_dir={d}/empty
ssl_enable={ssl}
rsa_cert_file={chain}
rsa_private_key_file={key}
"""


class RealVsftpd(unittest.TestCase):
    """Debian's vsftpd, in the foreground on loopback with the fixtures'
    certificate (AUTH TLS, explicit FTPS), and with ssl_enable=NO: its
    refusal of AUTH TLS in its own words."""

    @classmethod
    def setUpClass(cls):
        harness.require_tools("vsftpd")
        _root_or_skip("vsftpd")  # it chroots each session
        f = fixtures()
        cls.results = {}
        for tls in (True, False):
            d = harness.new_dir("vsftpd-")
            os.makedirs(os.path.join(d, "empty"))  # secure_chroot_dir: empty, owned by root

            def argv(port, d=d, tls=tls):
                conf = harness.write(os.path.join(d, "vsftpd-%d.conf" % port), VSFTPD_CONF.format(
                    port=port, d=d, ssl="YES" if tls else "NO", chain=f.leaf.chain, key=f.leaf.key))
                return ["vsftpd", conf]

            with harness.ProcessServer("vsftpd", argv) as srv:
                cls.results[tls] = probe_json("localhost:%d" % srv.port, "--starttls", "ftp", *trust())

    def test_auth_tls_upgrades_and_verifies(self):
        Starttls.assertVerified(self, self.results[True])

    def test_with_tls_off_vsftpd_refuses_auth_tls_in_its_own_words(self):
        r = self.results[False]
        self.assertEqual(r.rc, 2, r.stdout + r.stderr)
        self.assertEqual(r.obj["error"]["code"], "starttls-refused", r.stdout)
        self.assertIn("530 Please login with USER and PASS", r.obj["error"]["message"])


# No hostname or ident lookups (resolvehostnames="no", no ident module), and
# the resolver pointed at loopback: it talks to nothing but the probe. With
# TLS off the starttls module is loaded without a TLS provider, so STARTTLS
# gets 691 "STARTTLS is not enabled".
INSPIRCD_CONF = """\
<server name="irc.test" description="tlsprobe test server" network="Test">
<admin name="Test" nick="test" email="test@localhost">
<bind address="127.0.0.1" port="{port}" type="clients">
<connect name="main" allow="*" resolvehostnames="no" timeout="10" localmax="1000" globalmax="1000">
<dns server="127.0.0.1" timeout="1">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="{d}/inspircd.log">
<module name="starttls">
{tls}"""

INSPIRCD_TLS = """\
<module name="ssl_gnutls">
<sslprofile name="Clients" provider="gnutls" certfile="{chain}" keyfile="{key}" requestclientcert="no">
<starttls provider="Clients">
"""


class RealInspircd(unittest.TestCase):
    """Debian's InspIRCd 3 (ngIRCd and ircd-hybrid have no STARTTLS), on
    loopback with the fixtures' certificate, and with no TLS provider:
    IRCv3's STARTTLS upgraded (670), and refused in its words (691)."""

    @classmethod
    def setUpClass(cls):
        if not harness.have("inspircd") or not os.path.exists("/usr/lib/inspircd/modules/m_starttls.so"):
            raise unittest.SkipTest("InspIRCd (Debian package inspircd) is not installed")
        harness.require_tools("prlimit")
        f = fixtures()
        cls.results = {}
        for tls in (True, False):
            d = harness.new_dir("inspircd-")

            def argv(port, d=d, tls=tls):
                conf = harness.write(os.path.join(d, "inspircd.conf"), INSPIRCD_CONF.format(
                    port=port, d=d, tls=INSPIRCD_TLS.format(chain=f.leaf.chain, key=f.leaf.key) if tls else ""))
                # InspIRCd raises its core limit to the hard one and crashes
                # on SIGTERM after unloading ssl_gnutls: no core file, please.
                # --runasroot: it refuses root otherwise.
                return ["prlimit", "--core=0", "inspircd", "--nofork", "--nopid", "--runasroot",
                        "--config", conf]
            with harness.ProcessServer("inspircd", argv) as srv:
                cls.results[tls] = probe_json("localhost:%d" % srv.port, "--starttls", "irc", *trust())

    def test_starttls_upgrades_and_verifies(self):
        Starttls.assertVerified(self, self.results[True])

    def test_without_tls_inspircd_refuses_with_691_in_its_own_words(self):
        r = self.results[False]
        self.assertEqual(r.obj["error"]["code"], "starttls-refused", r.stdout)
        self.assertIn("691", r.obj["error"]["message"])
        self.assertIn("STARTTLS is not enabled", r.obj["error"]["message"])


NNRPD = "/usr/lib/news/bin/nnrpd"
TDX_UTIL = "/usr/lib/news/bin/tdx-util"

# Everything under the test's own directory; the names set so that INN never
# looks its host up; no load limit (a busy test machine would be refused).
INN_CONF = """domain: localdomain
pathhost: localhost
fromhost: localhost
server: localhost
mta: "/bin/false %s"
nnrpdloadlimit: 0
ovmethod: tradindexed
hismethod: hisv6
pathnews: /usr/lib/news
pathbin: /usr/lib/news/bin
pathetc: {d}/etc
pathdb: {d}/db
pathrun: {d}/run
pathlog: {d}/log
pathspool: {d}/spool
pathoverview: {d}/overview
pathtmp: {d}/tmp
"""

INN_READERS_CONF = """auth "local" {
    hosts: "127.0.0.1"
    default: "<local>"
}
access "local" {
    users: "<local>"
    newsgroups: "*"
}
"""

INN_STORAGE_CONF = """method tradspool {
    newsgroups: *
    class: 0
}
"""


class RealInn(unittest.TestCase):
    """INN's nnrpd (Debian's inn2) as a standalone daemon (-D -f) on
    loopback, run as the news user as it always is: with the fixtures'
    certificate in inn.conf, and without one (Debian's default), where it
    still lists STARTTLS among its capabilities but answers it with 580."""

    @classmethod
    def setUpClass(cls):
        import shutil
        if not os.access(NNRPD, os.X_OK):
            raise unittest.SkipTest("INN's nnrpd (Debian package inn2) is not installed")
        _root_or_skip("nnrpd (it runs as the news user)")
        f = fixtures()
        # Under /tmp, owned by news: nnrpd reads its files and key as news.
        d = harness.tempdir(cls, prefix="tlsprobe-inn-")
        for sub in ("etc", "db", "run", "log", "spool", "overview", "tmp"):
            os.makedirs(os.path.join(d, sub))
        harness.write(os.path.join(d, "etc", "readers.conf"), INN_READERS_CONF)
        harness.write(os.path.join(d, "etc", "storage.conf"), INN_STORAGE_CONF)
        shutil.copy(f.leaf.chain, os.path.join(d, "etc", "chain.pem"))
        shutil.copy(f.leaf.key, os.path.join(d, "etc", "key.pem"))
        os.chmod(os.path.join(d, "etc", "key.pem"), 0o600)
        plain = harness.write(os.path.join(d, "inn-plain.conf"), INN_CONF.format(d=d))
        tls = harness.write(os.path.join(d, "inn-tls.conf"), INN_CONF.format(d=d) + (
            "tlscertfile: %s/etc/chain.pem\ntlskeyfile: %s/etc/key.pem\n" % (d, d)))
        harness.run(["chown", "-R", "news:news", d], check=True)
        # nnrpd will not start without an overview database: an empty one
        harness.run(["env", "INNCONF=" + plain, TDX_UTIL, "-c", "-n", "test"], check=True)
        cls.results = {}
        for tls_on, conf in ((True, tls), (False, plain)):
            with harness.ProcessServer("nnrpd", lambda port, c=conf: [
                    "env", "INNCONF=" + c, NNRPD, "-D", "-f", "-n", "-b", "127.0.0.1", "-p", str(port)]) as srv:
                cls.results[tls_on] = probe_json("localhost:%d" % srv.port, "--starttls", "nntp", *trust())

    def test_starttls_upgrades_and_verifies(self):
        Starttls.assertVerified(self, self.results[True])

    def test_without_a_certificate_nnrpd_refuses_in_its_own_words(self):
        r = self.results[False]
        self.assertEqual(r.obj["error"]["code"], "starttls-refused", r.stdout)
        self.assertIn("580 Error initializing TLS", r.obj["error"]["message"])


POSTFIX_MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {d}/spool
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.test
mydestination =
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
alias_maps =
alias_database =
local_recipient_maps =
smtpd_peername_lookup = no
smtpd_banner = $myhostname ESMTP Postfix
maillog_file = /dev/stdout
smtpd_tls_security_level = {level}
smtpd_tls_chain_files = {key}, {chain}
"""

# Only what smtpd needs to answer a client; no chroot (the queue is private).
POSTFIX_MASTER_CF = """\
127.0.0.1:{smtp} inet n - n - - smtpd
postlog unix-dgram n - n - 1 postlogd
tlsmgr unix - - n 1000? 1 tlsmgr
anvil unix - - n - 1 anvil
proxymap unix - - n - - proxymap
rewrite unix - - n - - trivial-rewrite
cleanup unix n - n - 0 cleanup
"""

# as Debian's master.cf has it: TLS required, AUTH only once under TLS
POSTFIX_SUBMISSION_CF = """\
127.0.0.1:{submission} inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
"""


class RealPostfix(unittest.TestCase):
    """Debian's Postfix, its master started by the test on loopback with the
    fixtures' certificate: smtpd as the smtp service and as submission; and
    with TLS off, EHLO without STARTTLS."""

    PROTOS = ("smtp", "submission")

    @classmethod
    def setUpClass(cls):
        import shutil
        import time
        harness.require_tools("postfix", "postconf")
        _root_or_skip("Postfix's master process (it starts smtpd as the postfix user)")
        master = os.path.join(harness.run(["postconf", "-dh", "daemon_directory"], check=True).out.strip(),
                              "master")
        f = fixtures()
        cls.servers = {}
        for tls in (True, False):
            # 0755: the daemons, run as the postfix user, enter the queue directory
            d = harness.tempdir(cls, prefix="tlsprobe-postfix-")
            etc = os.path.join(d, "etc")
            os.makedirs(etc)
            # what master and smtpd use of a queue ("postfix -c etc check" makes
            # them too, and the rest of a queue, but takes seconds)
            for sub, mode, group in (("spool/pid", 0o755, None), ("spool/public", 0o710, "postdrop"),
                                     ("spool/private", 0o700, None), ("data", 0o700, None)):
                os.makedirs(os.path.join(d, sub), mode)
                if sub != "spool/pid":
                    shutil.chown(os.path.join(d, sub), "postfix", group)
            ports = {p: harness.free_port() for p in (cls.PROTOS if tls else ("smtp",))}
            harness.write(os.path.join(etc, "main.cf"), POSTFIX_MAIN_CF.format(
                d=d, level="may" if tls else "none", chain=f.leaf.chain, key=f.leaf.key))
            harness.write(os.path.join(etc, "master.cf"), (POSTFIX_MASTER_CF + (
                POSTFIX_SUBMISSION_CF if tls else "")).format(**ports))
            # Postfix waits (in 0.3 s steps) until a just-written main.cf is
            # a second or two old, in case it is still being edited
            for cf in ("main.cf", "master.cf"):
                os.utime(os.path.join(etc, cf), (time.time() - 60,) * 2)
            srv = harness.ProcessServer("postfix", lambda port, c=etc: [master, "-c", c, "-s"],
                                        port_for=lambda h, p=ports["smtp"]: p, attempts=1)
            cls.addClassCleanup(srv.stop)
            for p in ports.values():
                harness.wait_port("127.0.0.1", p)
            cls.servers[tls] = ports

    def test_smtp_and_submission_upgrade_and_verify(self):
        for proto in self.PROTOS:
            with self.subTest(service=proto):
                r = probe_json("localhost:%d" % self.servers[True][proto], "--starttls", "smtp", *trust())
                Starttls.assertVerified(self, r)

    def test_with_tls_off_postfix_does_not_offer_starttls(self):
        r = probe_json("localhost:%d" % self.servers[False]["smtp"], "--starttls", "smtp", *trust())
        self.assertEqual(r.obj["error"]["code"], "starttls-refused", r.stdout)
        # the last line of Postfix's answer to EHLO, as it said it
        # what Postfix offers instead, and the last line of its answer to EHLO
        self.assertIn("does not offer STARTTLS (its answer to EHLO lists PIPELINING, SIZE", r.obj["error"]["message"])
        self.assertIn('the server said "250 CHUNKING"', r.obj["error"]["message"])


if __name__ == "__main__":
    unittest.main()
