"""tlsprobe scan against servers configured here: what each accepts must be
what the test configured, and what Debian's sslscan (`sslscan --xml=-`,
2.0.7 on the system OpenSSL) reports on the same server, where sslscan can
see it: it cannot offer SSLv2, SSLv3 or the suites OpenSSL 3 left out, nor
the post-quantum groups (so a minimal server here answers those with a
HelloRetryRequest, as the real ones do).

Certificates are made with openssl (harness.Pki), never with tlsprobe.
"""

import os
import shutil
import socket
import struct
import tempfile
import threading
import unittest
import xml.etree.ElementTree as ET

import harness
from harness import have, run, s_server
from harness.servers import nginx_path, recv_some, require_nginx
from harness.pki import Pki, ca_ext, leaf_ext, subject

P = None  # dict: rsa, ecdsa (CertInfo), root (the CA file), dh1024
D = None


def setUpModule():
    global P, D
    harness.require_tools("openssl")
    D = tempfile.mkdtemp(prefix="tlsprobe-scan-")
    unittest.addModuleCleanup(shutil.rmtree, D, True)
    p = Pki(D)
    root = p.issue("root", subject("Scan Root"), ca_ext(), None, days=3650)
    P = {"root": root.cert,
         "rsa": p.issue("rsa", subject("localhost"), leaf_ext("digitalSignature,keyEncipherment",
                                                              san="DNS:localhost"), root, days=300, rsa_bits=2048),
         "ecdsa": p.issue("ecdsa", subject("localhost"), leaf_ext(san="DNS:localhost"), root, days=300)}
    ed_key = p.p("ed25519.key")
    harness.openssl("genpkey", "-algorithm", "ed25519", "-out", ed_key)
    P["ed25519"] = p.issue("ed25519", subject("localhost"), leaf_ext(san="DNS:localhost"), root, days=300, key=ed_key)
    P["other"] = p.issue("other", subject("default.test"), leaf_ext(san="DNS:default.test"), root, days=300)
    P["dh1024"] = p.p("dh1024.pem")
    harness.openssl("dhparam", "-out", P["dh1024"], "1024")


def scan(port, *extra, timeout=60):
    return harness.probe_json("scan", "localhost:%d" % port, "--connect-to", "127.0.0.1", "--no-system-ca",
                              "--ca-file", P["root"], *extra, timeout=timeout)


def sslscan(port):
    """What sslscan reports: {"versions": set, "ciphers": {version: [id...]},
    "groups": {version: set}, "sigalgs": {version: set}}."""
    r = run(["sslscan", "--show-sigs", "--no-colour", "--xml=-", "127.0.0.1:%d" % port], timeout=120)
    root = ET.fromstring(r.out[r.out.index("<?xml"):])
    out = {"versions": set(), "ciphers": {}, "groups": {}, "sigalgs": {}}
    for e in root.iter("protocol"):
        if e.get("enabled") == "1":
            out["versions"].add(("SSLv" if e.get("type") == "ssl" else "TLSv") + e.get("version"))
    for e in root.iter("cipher"):
        out["ciphers"].setdefault(e.get("sslversion"), []).append(e.get("id").upper().replace("0X", "0x"))
    for e in root.iter("group"):
        out["groups"].setdefault(e.get("sslversion"), set()).add(int(e.get("id"), 16))
    for e in root.iter("connection-signature-algorithm"):
        out["sigalgs"].setdefault(e.get("sslversion"), set()).add(e.get("name"))
    return out


def facts(obj):
    s = obj["scan"]
    return {"versions": {p["version"] for p in s["protocols"] if p["accepted"]},
            "ciphers": {v: [c["id"] for c in s["ciphers"] if c["version"] == v]
                        for v in {c["version"] for c in s["ciphers"]}},
            "groups": {v: {int(g["id"], 16) for g in s["groups"] if g["version"] == v}
                       for v in {g["version"] for g in s["groups"]}},
            "sigalgs": {v: {a["name"] for a in s["sigalgs"] if a["version"] == v}
                        for v in {a["version"] for a in s["sigalgs"]}},
            "codes": {p["code"] for p in s["problems"]}}


class Scan(unittest.TestCase):
    maxDiff = None

    def same_as_sslscan(self, port, mine, what=("versions", "ciphers", "groups", "sigalgs"), order=True):
        if not have("sslscan"):
            self.skipTest("sslscan is not installed")
        theirs = sslscan(port)
        for key in what:
            a, b = mine[key], theirs[key]
            if key == "ciphers" and not order:
                a = {v: sorted(x) for v, x in a.items()}
                b = {v: sorted(x) for v, x in b.items()}
            self.assertEqual(a, b, "%s: tlsprobe scan and sslscan differ" % key)

    def test_tls12_suites_in_the_servers_order(self):
        """-serverpref: the suites configured, in that order, and the same as sslscan's"""
        suites = "ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:AES128-SHA:ECDHE-RSA-AES256-SHA"
        with s_server(P["rsa"].cert, P["rsa"].key, extra=["-tls1_2", "-cipher", suites, "-serverpref"]) as srv:
            r = scan(srv.port)
            f = facts(r.obj)
            self.assertEqual(f["versions"], {"TLSv1.2"})
            self.assertEqual(r.obj["scan"]["preferred_version"], "TLSv1.2")
            self.assertEqual(f["ciphers"], {"TLSv1.2": ["0xC02F", "0x009F", "0x002F", "0xC014"]})
            v12 = [p for p in r.obj["scan"]["protocols"] if p["version"] == "TLSv1.2"][0]
            self.assertIs(v12["server_order"], True)
            names = [c["openssl"] for c in r.obj["scan"]["ciphers"]]
            self.assertEqual(names, suites.split(":"))
            self.assertIn("no-forward-secrecy", f["codes"])
            self.assertIn("no-tls13", f["codes"])
            self.assertEqual(r.obj["scan"]["dh_bits"], 2048)
            # s_server knows no names: the same chain whatever the SNI
            certs = {c["asked"]: c["sha256"] for c in r.obj["scan"]["certificates"]}
            self.assertEqual(certs["no SNI"], certs["RSA"])
            self.assertEqual(certs["unknown SNI"], certs["RSA"])
            self.same_as_sslscan(srv.port, f)

    def test_client_order_is_seen(self):
        """without -serverpref the server takes the client's first: order false"""
        suites = "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA"
        with s_server(P["rsa"].cert, P["rsa"].key, extra=["-tls1_2", "-cipher", suites]) as srv:
            r = scan(srv.port)
            v12 = [p for p in r.obj["scan"]["protocols"] if p["version"] == "TLSv1.2"][0]
            self.assertIs(v12["server_order"], False)
            self.assertIn("client-cipher-order", facts(r.obj)["codes"])
            self.same_as_sslscan(srv.port, facts(r.obj), order=False)

    def test_tls13_suites_and_groups(self):
        """TLS 1.3 only: the suites and groups configured, as sslscan sees them"""
        with s_server(P["ecdsa"].cert, P["ecdsa"].key,
                      extra=["-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
                             "-groups", "X25519:secp384r1"]) as srv:
            r = scan(srv.port)
            f = facts(r.obj)
            self.assertEqual(f["versions"], {"TLSv1.3"})
            self.assertEqual(r.obj["scan"]["preferred_version"], "TLSv1.3")
            self.assertEqual(sorted(f["ciphers"]["TLSv1.3"]), ["0x1302", "0x1303"])
            self.assertEqual(f["groups"], {"TLSv1.3": {29, 24}})
            self.assertEqual(r.obj["status"], "ok", harness.dump(r.obj))
            self.same_as_sslscan(srv.port, f, order=False)

    def test_signature_schemes(self):
        """-sigalgs: the TLS 1.2 and 1.3 schemes the server signs with"""
        with s_server(P["rsa"].cert, P["rsa"].key, extra=["-sigalgs", "rsa_pss_rsae_sha256:rsa_pkcs1_sha384"]) as srv:
            r = scan(srv.port)
            f = facts(r.obj)
            self.assertEqual(f["sigalgs"], {"TLSv1.3": {"rsa_pss_rsae_sha256"},
                                            "TLSv1.2": {"rsa_pss_rsae_sha256", "rsa_pkcs1_sha384"}})
            self.same_as_sslscan(srv.port, f, what=("sigalgs", "versions"))

    def test_legacy_setup(self):
        """@SECLEVEL=0 with TLS 1.0 only, CBC, RSA key exchange and a 1024-bit DH group:
        each is a finding, and the probe speaks TLS 1.0 to get the chain"""
        # (Debian's OpenSSL 3 no longer has 3DES, RC4 or export suites to serve.)
        with s_server(P["rsa"].cert, P["rsa"].key,
                      extra=["-tls1", "-cipher", "AES128-SHA:DHE-RSA-AES128-SHA:@SECLEVEL=0",
                             "-dhparam", P["dh1024"]]) as srv:
            r = scan(srv.port)
            f = facts(r.obj)
            self.assertEqual(f["versions"], {"TLSv1.0"})
            self.assertEqual(sorted(f["ciphers"]["TLSv1.0"]), ["0x002F", "0x0033"])
            self.assertEqual(r.obj["scan"]["dh_bits"], 1024)
            for code in ("obsolete-protocol", "weak-cipher", "weak-dh", "no-forward-secrecy", "no-tls13"):
                self.assertIn(code, {p["code"] for p in r.obj["verify"]["problems"]}, harness.dump(r.obj))
            by_id = {c["id"]: c for c in r.obj["scan"]["ciphers"]}
            self.assertEqual(by_id["0x0033"]["rating"], "weak")
            self.assertIn("TLS 1.0", by_id["0x0033"]["why"])
            self.assertEqual(r.obj["tls"]["version"], "TLSv1.0")
            self.assertEqual(len(r.obj["chain"]), 1)
            self.same_as_sslscan(srv.port, f, what=("versions", "ciphers"), order=False)

    def test_gnutls_serv_priority(self):
        """gnutls-serv with a priority string: its suites and versions"""
        prio = ("NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305:-KX-ALL:+ECDHE-ECDSA")
        both = harness.write(os.path.join(D, "ecdsa-both.pem"), open(P["ecdsa"].cert).read())
        with harness.gnutls_serv(both, P["ecdsa"].key, extra=("--disable-client-cert", "--priority", prio)) as srv:
            r = scan(srv.port)
            f = facts(r.obj)
            self.assertEqual(f["versions"], {"TLSv1.2"})
            self.assertEqual(sorted(f["ciphers"]["TLSv1.2"]), ["0xC02C", "0xCCA9"])
            self.same_as_sslscan(srv.port, f, what=("versions", "ciphers"), order=False)

    def test_features(self):
        """what the ServerHello says and what resumes: with -alpn, then without tickets or a cache"""
        with s_server(P["ecdsa"].cert, P["ecdsa"].key, extra=["-alpn", "h2,http/1.1"]) as srv:
            feats = scan(srv.port).obj["scan"]["features"]
            self.assertEqual(feats["alpn"], ["h2", "http/1.1"])
            for k in ("secure_renegotiation", "extended_master_secret", "fallback_scsv", "session_ticket",
                      "resumption_id", "resumption_ticket", "resumption_psk"):
                self.assertIs(feats[k], True, k)
            self.assertIs(feats["compression"], False)
            self.assertIs(feats["early_data"], False)
        with s_server(P["ecdsa"].cert, P["ecdsa"].key, extra=["-early_data", "-alpn", "http/1.1"], www=False) as srv:
            self.assertIs(scan(srv.port).obj["scan"]["features"]["early_data"], True)
        with s_server(P["ecdsa"].cert, P["ecdsa"].key, extra=["-tls1_2", "-no_ticket", "-no_cache"]) as srv:
            feats = scan(srv.port).obj["scan"]["features"]
            self.assertIs(feats["session_ticket"], False)
            self.assertIs(feats["resumption_id"], False)
            self.assertIs(feats["resumption_ticket"], False)
            self.assertIsNone(feats["resumption_psk"])

    def test_batch_line_scan(self):
        """a batch line's --scan: that line's record has the scan, the other line's has none"""
        with s_server(P["rsa"].cert, P["rsa"].key, extra=["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"]) as srv:
            lines = harness.write(os.path.join(D, "batch.txt"),
                                  "localhost:%d --scan\nlocalhost:%d\n" % (srv.port, srv.port))
            r = harness.probe_json_lines("batch", lines, "--ordered", "--connect-to", "127.0.0.1",
                                         "--no-system-ca", "--ca-file", P["root"])
            self.assertEqual(len(r.objs), 2)
            self.assertEqual([c["id"] for c in r.objs[0]["scan"]["ciphers"]], ["0xC02F"])
            self.assertNotIn("scan", r.objs[1])

    def test_prometheus(self):
        """--format prometheus: the scan's series, in a format promtool accepts"""
        with s_server(P["rsa"].cert, P["rsa"].key, extra=["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"]) as srv:
            r = harness.run_tlsprobe("scan", "localhost:%d" % srv.port, "--connect-to", "127.0.0.1",
                                     "--no-system-ca", "--ca-file", P["root"], "--format", "prometheus")
            self.assertIn('tlsprobe_scan_protocol_accepted{target="localhost:%d",version="TLSv1.2"} 1' % srv.port,
                          r.out)
            self.assertIn('tlsprobe_scan_protocol_accepted{target="localhost:%d",version="TLSv1.3"} 0' % srv.port,
                          r.out)
            self.assertIn('id="0xC02F",cipher="TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",rating="strong"} 1', r.out)
            self.assertIn('tlsprobe_scan_client_connects{target="localhost:%d",client="chrome"} 1' % srv.port, r.out)
            if have("promtool"):
                check = run(["promtool", "check", "metrics"], input=r.out.encode(), timeout=30)
                self.assertEqual(check.rc, 0, check.out + check.err)

    def test_text_report(self):
        """the text report: versions, then the suites of each"""
        with s_server(P["rsa"].cert, P["rsa"].key, extra=["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"]) as srv:
            r = harness.run_tlsprobe("scan", "localhost:%d" % srv.port, "--connect-to", "127.0.0.1",
                                     "--no-system-ca", "--ca-file", P["root"], "--color", "never")
            self.assertIn("What the server accepts", r.out)
            self.assertIn("versions     TLSv1.2 (not TLSv1.3, TLSv1.1, TLSv1.0, SSLv3, SSLv2)", r.out)
            self.assertIn("ECDHE-RSA-AES128-GCM-SHA256", r.out)


NGINX_CONF = """daemon off;
{user}error_log {dir}/error.log;
pid {dir}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp;
    proxy_temp_path {dir}/tmp;
    fastcgi_temp_path {dir}/tmp;
    uwsgi_temp_path {dir}/tmp;
    scgi_temp_path {dir}/tmp;
    server {{
        listen 127.0.0.1:{port} ssl default_server;
        server_name default.test;
        ssl_certificate {other};
        ssl_certificate_key {other_key};
        return 200 "default\\n";
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate {rsa};
        ssl_certificate_key {rsa_key};
        ssl_certificate {ecdsa};
        ssl_certificate_key {ecdsa_key};
        return 200 "localhost\\n";
    }}
}}
"""


class Certificates(unittest.TestCase):
    def test_nginx_rsa_and_ecdsa_and_a_default_server(self):
        """nginx with an RSA and an ECDSA certificate for localhost and another default server:
        each key type's chain, and what a client without SNI (or with an unknown name) gets"""
        require_nginx()
        d = tempfile.mkdtemp(prefix="nginx-", dir=D)
        os.makedirs(os.path.join(d, "tmp"))
        user = ""
        if os.geteuid() == 0:
            import grp
            import pwd
            user = "user %s %s;\n" % (pwd.getpwuid(0).pw_name, grp.getgrgid(os.getegid()).gr_name)

        def argv(port):
            conf = harness.write(os.path.join(d, "nginx.conf"), NGINX_CONF.format(
                user=user, dir=d, port=port, other=P["other"].cert, other_key=P["other"].key,
                rsa=P["rsa"].cert, rsa_key=P["rsa"].key, ecdsa=P["ecdsa"].cert, ecdsa_key=P["ecdsa"].key))
            return [nginx_path(), "-p", d + "/", "-c", conf]

        with harness.ProcessServer("nginx", argv) as srv:
            r = scan(srv.port)
            certs = {c["asked"]: c for c in r.obj["scan"]["certificates"]}
            self.assertEqual(certs["RSA"]["key_type"], "RSA", harness.dump(r.obj))
            self.assertEqual(certs["ECDSA"]["key_type"], "ECDSA")
            self.assertIn("CN=localhost", certs["RSA"]["subject"])
            self.assertIn("CN=localhost", certs["ECDSA"]["subject"])
            self.assertEqual(certs["RSA"]["status"], "ok")
            self.assertNotIn("EdDSA", certs)
            self.assertIn("CN=default.test", certs["no SNI"]["subject"])
            self.assertEqual(certs["no SNI"]["reason"], "hostname-mismatch")
            self.assertIn("CN=default.test", certs["unknown SNI"]["subject"])
            self.assertIsNone(certs["unknown SNI"]["status"])
            # both kinds of suite, as the two keys allow
            auths = {c["au"] for c in r.obj["scan"]["ciphers"] if c["version"] == "TLSv1.2"}
            self.assertEqual(auths, {"RSA", "ECDSA"})


class KeyTypes(unittest.TestCase):
    def test_ecdsa_and_ed25519(self):
        """s_server with an ECDSA and an Ed25519 certificate (-dcert): both chains found, each judged"""
        with s_server(P["ecdsa"].cert, P["ecdsa"].key,
                      extra=["-dcert", P["ed25519"].cert, "-dkey", P["ed25519"].key]) as srv:
            r = scan(srv.port)
            certs = {c["asked"]: c for c in r.obj["scan"]["certificates"]}
            self.assertEqual(certs["ECDSA"]["key_type"], "ECDSA", harness.dump(r.obj["scan"]))
            self.assertEqual(certs["EdDSA"]["key_type"], "Ed25519")
            self.assertNotEqual(certs["ECDSA"]["sha256"], certs["EdDSA"]["sha256"])
            self.assertEqual(certs["EdDSA"]["status"], "ok")
            self.assertNotIn("RSA", certs)
            self.assertIn("ed25519", {a["name"] for a in r.obj["scan"]["sigalgs"] if a["version"] == "TLSv1.3"})


# ---- a minimal TLS 1.3 server for what no Debian server speaks -------------

HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


def client_hello(data):
    """(suites, groups) of a ClientHello record, or None."""
    if len(data) < 9 or data[0] != 22 or data[5] != 1:
        return None
    b = data[9:]
    i = 2 + 32
    i += 1 + b[i]
    n = struct.unpack(">H", b[i:i + 2])[0]
    suites = [struct.unpack(">H", b[i + 2 + k:i + 4 + k])[0] for k in range(0, n, 2)]
    i += 2 + n
    i += 1 + b[i]
    end = i + 2 + struct.unpack(">H", b[i:i + 2])[0]
    i += 2
    groups = []
    while i + 4 <= end:
        t, ln = struct.unpack(">HH", b[i:i + 4])
        if t == 10:
            groups = [struct.unpack(">H", b[i + 6 + k:i + 8 + k])[0] for k in range(0, ln - 2, 2)]
        i += 4 + ln
    return suites, groups


def hrr(group, suite=0x1301):
    exts = struct.pack(">HHH", 43, 2, 0x0304) + struct.pack(">HHH", 51, 2, group)
    body = (b"\x03\x03" + HRR_RANDOM + b"\x00" + struct.pack(">HB", suite, 0) + struct.pack(">H", len(exts)) + exts)
    msg = b"\x02" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x03" + struct.pack(">H", len(msg)) + msg


class HybridServer(harness.ThreadServer):
    """Answers a TLS 1.3 hello that offers one of `groups` with a
    HelloRetryRequest for the first of them it prefers, anything else with a
    handshake_failure alert."""

    def __init__(self, groups):
        self.groups = groups
        super().__init__(self._answer, "127.0.0.1")

    def _answer(self, conn):
        data = recv_some(conn)
        hello = client_hello(data) if data else None
        if hello:
            suites, offered = hello
            for g in self.groups:
                if g in offered and 0x1301 in suites:
                    conn.sendall(hrr(g))
                    return
        conn.sendall(b"\x15\x03\x03\x00\x02\x02\x28")


class Hybrids(unittest.TestCase):
    def test_mlkem_hybrid_detected(self):
        """a server that takes X25519MLKEM768: found, named as IANA does, and marked hybrid"""
        with HybridServer([0x11EC, 29]) as srv:
            r = scan(srv.port, "--timeout", "10")
            groups = {g["name"]: g for g in r.obj["scan"]["groups"]}
            self.assertEqual(sorted(groups), ["X25519MLKEM768", "x25519"], harness.dump(r.obj))
            self.assertTrue(groups["X25519MLKEM768"]["hybrid"])
            self.assertEqual(groups["X25519MLKEM768"]["id"], "0x11EC")
            self.assertEqual(groups["X25519MLKEM768"]["order"], 1)

    def test_hybrid_rejected(self):
        """a server without it: only the classical group"""
        with HybridServer([29]) as srv:
            r = scan(srv.port, "--timeout", "10")
            self.assertEqual([g["name"] for g in r.obj["scan"]["groups"]], ["x25519"])


class LegacyServer(harness.ThreadServer):
    """What no server Debian 12 ships will still serve: SSL 2.0, SSL 3.0,
    RC4 and export suites. It answers a hello with a ServerHello of the best
    of `versions` the hello allows and the first of `suites` (its order) the
    hello offers, then ServerHelloDone; an SSL 2.0 hello, when "SSLv2" is
    in versions, with a SERVER-HELLO; anything else with an alert. With
    scsv, a hello marked TLS_FALLBACK_SCSV below its best gets
    inappropriate_fallback; with reneg, its ServerHello has
    renegotiation_info."""

    WIRE = {"SSLv3": 0x0300, "TLSv1.0": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303}

    def __init__(self, versions, suites, scsv=False, reneg=False, fragment=False):
        self.versions, self.suites, self.scsv, self.reneg = versions, suites, scsv, reneg
        self.fragment = fragment  # each byte of the handshake in a record of its own
        super().__init__(self._answer, "127.0.0.1")

    def _answer(self, conn):
        data = recv_some(conn)
        if not data:
            return
        if data[0] & 0x80:
            if "SSLv2" in self.versions:
                conn_id = b"\x11" * 16
                body = (b"\x04\x00\x01\x00\x02" + struct.pack(">HHH", 0, 3, len(conn_id)) + b"\x01\x00\x80"
                        + conn_id)
                conn.sendall(struct.pack(">H", 0x8000 | len(body)) + body)
            return
        if len(data) < 11 or data[0] != 22 or data[5] != 1:
            return
        client_version = struct.unpack(">H", data[9:11])[0]
        b = data[9:]
        i = 2 + 32
        i += 1 + b[i]
        n = struct.unpack(">H", b[i:i + 2])[0]
        offered = [struct.unpack(">H", b[i + 2 + k:i + 4 + k])[0] for k in range(0, n, 2)]
        best = max(self.WIRE[v] for v in self.versions if v in self.WIRE)
        allowed = [self.WIRE[v] for v in self.versions if v in self.WIRE and self.WIRE[v] <= client_version]
        if not allowed:
            conn.sendall(b"\x15\x03\x01\x00\x02\x02\x46")  # protocol_version
            return
        version = max(allowed)
        if self.scsv and 0x5600 in offered and version < best:
            conn.sendall(b"\x15\x03\x01\x00\x02\x02\x56")  # inappropriate_fallback
            return
        suite = next((x for x in self.suites if x in offered), None)
        if suite is None:
            conn.sendall(b"\x15\x03\x01\x00\x02\x02\x28")  # handshake_failure
            return
        exts = b"\xff\x01\x00\x01\x00" if self.reneg else b""
        body = struct.pack(">H", version) + b"\x22" * 32 + b"\x00" + struct.pack(">HB", suite, 0)
        if exts:
            body += struct.pack(">H", len(exts)) + exts
        msg = b"\x02" + struct.pack(">I", len(body))[1:] + body + b"\x0e\x00\x00\x00"
        if self.fragment:
            conn.sendall(b"".join(b"\x16" + struct.pack(">HH", version, 1) + msg[i:i + 1] for i in range(len(msg))))
        else:
            conn.sendall(b"\x16" + struct.pack(">HH", version, len(msg)) + msg)


class Legacy(unittest.TestCase):
    def test_ssl2_ssl3_rc4_and_export(self):
        """SSLv2, SSLv3 and TLS 1.0 with RC4, export and 3DES suites, no secure
        renegotiation, no downgrade protection: each found, each a finding"""
        suites = [0x0004, 0x0003, 0x000A, 0x002F]
        with LegacyServer(["SSLv2", "SSLv3", "TLSv1.0"], suites) as srv:
            r = scan(srv.port, "--timeout", "20")
            s = r.obj["scan"]
            self.assertEqual({p["version"] for p in s["protocols"] if p["accepted"]}, {"SSLv2", "SSLv3", "TLSv1.0"},
                             harness.dump(s))
            for v in ("SSLv3", "TLSv1.0"):
                self.assertEqual([c["id"] for c in s["ciphers"] if c["version"] == v],
                                 ["0x0004", "0x0003", "0x000A", "0x002F"], v)
            by_id = {c["id"]: c for c in s["ciphers"]}
            self.assertEqual(by_id["0x0004"]["rating"], "insecure")
            self.assertEqual(by_id["0x0004"]["openssl"], "RC4-MD5")
            self.assertEqual(by_id["0x0003"]["why"], "export strength")
            self.assertEqual(by_id["0x0003"]["bits"], 40)
            self.assertIs(s["features"]["secure_renegotiation"], False)
            self.assertIs(s["features"]["fallback_scsv"], False)
            codes = {p["code"]: p for p in r.obj["verify"]["problems"]}
            for code in ("obsolete-protocol", "weak-cipher", "insecure-renegotiation", "no-fallback-scsv",
                         "no-forward-secrecy", "no-tls13"):
                self.assertIn(code, codes, harness.dump(r.obj["verify"]))
            self.assertIn("SSLv2, SSLv3 and TLSv1.0", codes["obsolete-protocol"]["message"])
            self.assertEqual(codes["obsolete-protocol"]["severity"], "critical")
            self.assertEqual(r.obj["status"], "critical")
            # GnuTLS alone still speaks TLS 1.0, with AES128-SHA
            self.assertEqual([c["name"] for c in s["clients"] if c["connects"]], ["gnutls"])

    def test_fallback_scsv_honoured(self):
        """a server that refuses a downgraded retry: fallback_scsv true, no finding"""
        with LegacyServer(["TLSv1.1", "TLSv1.2"], [0xC02F, 0xC013], scsv=True, reneg=True) as srv:
            r = scan(srv.port, "--timeout", "20")
            s = r.obj["scan"]
            self.assertIs(s["features"]["fallback_scsv"], True, harness.dump(s))
            self.assertIs(s["features"]["secure_renegotiation"], True)
            self.assertNotIn("no-fallback-scsv", {p["code"] for p in r.obj["verify"]["problems"]})


class Fragments(unittest.TestCase):
    def test_a_server_hello_in_one_byte_records(self):
        """a ServerHello cut into records of one byte each is read as a whole one"""
        with LegacyServer(["TLSv1.2"], [0xC02F, 0xC013], reneg=True, fragment=True) as srv:
            r = scan(srv.port, "--timeout", "20")
            s = r.obj["scan"]
            self.assertEqual([c["id"] for c in s["ciphers"]], ["0xC02F", "0xC013"], harness.dump(s))
            self.assertIs(s["features"]["secure_renegotiation"], True)


class Hostile(unittest.TestCase):
    def test_plain_http_port(self):
        """a port that answers HTTP: not-tls, nothing accepted, no hang"""
        with harness.http_server() as srv:
            r = scan(srv.port, "--timeout", "5")
            self.assertEqual(r.rc, 2)
            self.assertEqual(r.obj["error"]["code"], "not-tls", harness.dump(r.obj))
            self.assertEqual([p["version"] for p in r.obj["scan"]["protocols"] if p["accepted"]], [])

    def test_silent_server_bounded_by_timeout(self):
        """a server that never answers: the scan ends within --timeout"""
        with harness.silent_server() as srv:
            r = scan(srv.port, "--timeout", "2")
            self.assertEqual(r.rc, 2)
            self.assertLess(r.elapsed, 2 + 4.5)

    def test_refused(self):
        """a closed port: connection-refused"""
        port = harness.free_port()
        r = scan(port, "--timeout", "3")
        self.assertEqual(r.obj["error"]["code"], "connection-refused")

    def test_bad_parallel(self):
        r = harness.run_tlsprobe("scan", "localhost:1", "--parallel", "0")
        self.assertEqual(r.rc, 3)
        self.assertIn("--parallel", r.err)


if __name__ == "__main__":
    unittest.main()
