"""Real TLS clients against the peers: curl, ``openssl s_client``,
``gnutls-cli`` (through runner.run, with a timeout) and Python's ssl
(``https_get`` with http.client, ``https_get_raw`` and ``tls_connect`` on a
socket); misbehaving ones for the robustness tests."""

import http.client
import socket
import ssl
from collections import namedtuple

from .env import require_tools
from .runner import run

CLIENT_TIMEOUT = 20       # seconds, for one client subprocess

HTTP_GET = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def run_client(argv, input=None, timeout=CLIENT_TIMEOUT):
    """Run a client -> runner.Run (str, undecodable bytes replaced); stdin
    is `input` or empty."""
    return run(argv, input=input or b"", timeout=timeout, errors="replace", signals_ok=True)


def curl_is_openssl():
    return "OpenSSL" in run_client(["curl", "--version"]).out.splitlines()[0]


def curl(port, ca=None, *extra, path="/", host="localhost", status=False):
    """curl -sS https://HOST:PORT/PATH (HOST pinned to 127.0.0.1, no proxy)
    trusting ca; status: stdout ends with a line holding the HTTP status."""
    require_tools("curl")
    argv = ["curl", "-sS", "--noproxy", "*", "--max-time", "10"]
    if status:
        argv += ["-w", "\n%{http_code}\n"]
    if ca:
        argv += ["--cacert", ca]
    if host != "127.0.0.1":
        argv += ["--resolve", "%s:%d:127.0.0.1" % (host, port)]
    return run_client(argv + list(extra) + ["https://%s:%d%s" % (host, port, path)])


def s_client(port, ca, *extra, request=True):
    """openssl s_client verifying chain and name 'localhost' (-verify_return_error);
    sends an HTTP request and reads until the server closes (-ign_eof)."""
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", "localhost",
            "-CAfile", ca, "-verify_return_error", "-verify_hostname", "localhost",
            "-ign_eof"] + list(extra)
    return run_client(argv, input=HTTP_GET if request else None)


def gnutls_cli(port, ca, *extra, request=True):
    """gnutls-cli trusting only the root (it verifies chain and name by default)."""
    argv = ["gnutls-cli", "--x509cafile", ca, "localhost", "-p", str(port)] + list(extra)
    return run_client(argv, input=HTTP_GET if request else None)


def client_context(ca=None, cert=None, key=None, alpn=None, minv=None, maxv=None):
    """A verifying ssl context (chain and host name) trusting ca."""
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if minv:
        ctx.minimum_version = minv
    if maxv:
        ctx.maximum_version = maxv
    return ctx


Response = namedtuple("Response", "status headers body version cipher alpn local")


def https_get(port, ctx, host="localhost", headers=None, timeout=10):
    """GET / through http.client.HTTPSConnection -> Response (raises ssl errors)."""
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=timeout)
    try:
        conn.connect()
        s = conn.sock
        facts = (s.version(), s.cipher()[0], s.selected_alpn_protocol(),
                 "%s:%d" % s.getsockname()[:2])
        conn.request("GET", "/", headers=headers or {})
        r = conn.getresponse()
        body = r.read().decode("utf-8")
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, body, *facts)
    finally:
        conn.close()


def https_get_raw(port, ctx, server_hostname, timeout=10):
    """GET / on a TLS socket, read until the server closes -> (status line,
    whole response bytes, peer certificate dict)."""
    with tls_connect(port, ctx, server_hostname=server_hostname, timeout=timeout) as s:
        peer = s.getpeercert()
        s.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                  % server_hostname.encode())
        data = recv_all(s)
    return data.split(b"\r\n", 1)[0].decode(errors="replace"), data, peer


def body_fields(body):
    """The text body 'key:   value' lines -> dict."""
    out = {}
    for line in body.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def tls_connect(port, ctx, host="127.0.0.1", server_hostname="localhost", timeout=10):
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        return ctx.wrap_socket(sock, server_hostname=server_hostname)
    except BaseException:
        sock.close()
        raise


def recv_all(sock, limit=1 << 20):
    """Read until the peer closes (or resets) or `limit` bytes came."""
    chunks = []
    while sum(map(len, chunks)) < limit:
        try:
            b = sock.recv(65536)
        except (ssl.SSLZeroReturnError, ConnectionResetError):
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


def client_hello_bytes():
    """A real TLS ClientHello (made by Python's ssl through a memory BIO)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()
