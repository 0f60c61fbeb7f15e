"""Peers on loopback, all stopped: use them as context managers, or register
``server.stop`` with ``addCleanup`` / ``addClassCleanup``; a last-resort
``atexit`` hook stops anything left over.

* :class:`ProcessServer`: a program on an ephemeral port (``s_server``,
  ``gnutls-serv``, nginx), ready when a marker appears in its log or its
  ports accept connections, retried on a new port when it exits early.
* :class:`ThreadServer`: a hand-written TCP server in a thread (silent,
  garbage, reset, plain HTTP, the STARTTLS servers, the HTTP backend).
* :class:`Serve`: ``tlsprobe serve``, its ports read from what it prints.
"""

import atexit
import http.server
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import unittest
from collections import OrderedDict, namedtuple

from .env import (can_bind, closed_port, family, free_port, have_ipv6_loopback, hostport, new_dir, port_open,
                  read_text, require_tools, scratch_dir, wait_binary, wait_for)
from .runner import popen, scenarios
from .schema import parse_json_line

_live = set()


@atexit.register
def _stop_all():
    for s in list(_live):
        s.stop()


def die_with_parent():
    """preexec_fn: on Linux, have the kernel send SIGTERM to the peer if the
    test process dies without cleaning up (e.g. killed by a test timeout)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)     # PR_SET_PDEATHSIG
    except Exception:
        pass


def stop_process(p, grace=5):
    """SIGTERM, give it `grace` seconds, then SIGKILL -> (exit status, seconds
    it took); None (or a process already gone) is fine."""
    t0 = time.monotonic()
    if p is not None and p.poll() is None:
        p.terminate()
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
    return (None if p is None else p.returncode), time.monotonic() - t0


class Server:
    """What every peer has: .host, .port, .target, stop(), a context manager."""

    host = "127.0.0.1"
    port = None
    proc = None

    @property
    def target(self):
        return hostport(self.host, self.port)

    def url(self, path="/", name="localhost", port=None):
        return "https://%s:%d%s" % (name, port or self.port, path)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        raise NotImplementedError


# --------------------------------------------------------------------------
# programs
# --------------------------------------------------------------------------

class ProcessServer(Server):
    """A peer program listening on an ephemeral port.

    argv_for(port) builds the command line.  Readiness: `ready` (str) appears
    in its combined output log, ready(), or (if ready is None) a TCP connect
    succeeds.  Retries on a new port (port_for(host), default a free one) if
    the program exits early (e.g. port taken)."""

    def __init__(self, name, argv_for, host="127.0.0.1", ready=None, timeout=10.0,
                 attempts=3, port_for=free_port):
        self.name = name
        self.host = host
        last = ""
        for _ in range(attempts):
            self.port = port_for(host)
            self.log = os.path.join(scratch_dir(), "%s-%d.log" % (name, self.port))
            with open(self.log, "wb") as logf:
                self.proc = popen(argv_for(self.port), stdin=subprocess.PIPE, stdout=logf,
                                  stderr=subprocess.STDOUT, cwd=scratch_dir(),
                                  preexec_fn=die_with_parent)
            _live.add(self)
            if self._wait_ready(ready, timeout):
                return
            last = self.read_log()
            self.stop()
        raise RuntimeError("%s did not start: %s" % (name, last[-2000:]))

    def _wait_ready(self, ready, timeout):
        if ready is None:
            ready = lambda: port_open(self.host, self.port)
        elif isinstance(ready, str):
            marker = ready.encode()
            ready = lambda: marker in self.read_log(raw=True)
        up = wait_for(lambda: "exited" if self.proc.poll() is not None else ready(), timeout)
        return up not in (None, "exited")

    def read_log(self, raw=False):
        try:
            with open(self.log, "rb") as f:
                data = f.read()
        except OSError:
            data = b""
        return data if raw else data.decode(errors="replace")

    def stop(self):
        p = self.proc
        stop_process(p, 3)
        if p is not None and p.stdin:
            try:
                p.stdin.close()
            except OSError:
                pass
        _live.discard(self)


def s_server(cert, key, chain=None, host="127.0.0.1", extra=(), www=True):
    """`openssl s_server` on host:ephemeral (a long-lived server: handles any
    number of sequential connections).  chain: PEM of extra certs to send
    (-cert_chain).  extra: further s_server options (e.g. -tls1_2, -Verify 1)."""
    require_tools("openssl")

    def argv(port):
        a = ["openssl", "s_server", "-accept", hostport(host, port), "-cert", cert,
             "-key", key]
        if chain:
            a += ["-cert_chain", chain]
        if www:
            a += ["-www"]
        return a + list(extra)

    return ProcessServer("s_server", argv, host=host, ready="ACCEPT")


def gnutls_serv(certfile, keyfile, extra=("--disable-client-cert",)):
    """`gnutls-serv --echo` (binds all addresses; tests connect via loopback).
    certfile may hold leaf + chain."""
    require_tools("gnutls-serv")

    def argv(port):
        return (["gnutls-serv", "--echo", "-p", str(port), "--x509certfile", certfile,
                 "--x509keyfile", keyfile] + list(extra))

    return ProcessServer("gnutls-serv", argv, host="127.0.0.1", ready=None)


# --------------------------------------------------------------------------
# hand-written servers
# --------------------------------------------------------------------------

class ThreadServer(Server):
    """A hand-written TCP server in a thread; handler(conn) runs per connection
    in its own thread.  All sockets are closed by stop()."""

    def __init__(self, handler, host="127.0.0.1"):
        self.host = host
        self._handler = handler
        self.stopping = threading.Event()
        self._conns = set()
        self._lock = threading.Lock()
        self.sock = socket.socket(family(host), socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.connections = 0
        self._thread = threading.Thread(target=self._loop, daemon=True)
        _live.add(self)
        self._thread.start()

    def _loop(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            conn.settimeout(10)
            self._handler(conn)
        except OSError:
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def stop(self):
        self.stopping.set()
        try:
            self.sock.close()
        except OSError:
            pass
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass
        self._thread.join(2)
        _live.discard(self)


def recv_some(conn, timeout=5.0):
    conn.settimeout(timeout)
    try:
        return conn.recv(65536)
    except OSError:
        return b""


def silent_server(host="127.0.0.1"):
    """Accepts connections and never writes; holds them open until stopped."""
    def handler(conn):
        conn.settimeout(0.2)
        while True:
            try:
                if not conn.recv(65536):
                    return
            except socket.timeout:
                continue
    return ThreadServer(handler, host)


GARBAGE = bytes(range(0x80, 0x100)) * 2 + b"\x00\x01\x02\x03 this is not TLS \xde\xad\xbe\xef"


def garbage_server(host="127.0.0.1"):
    """Reads the ClientHello, answers with non-TLS, non-HTTP bytes, closes."""
    def handler(conn):
        recv_some(conn)
        conn.sendall(GARBAGE)
    return ThreadServer(handler, host)


def rst_close(sock):
    """Close with SO_LINGER 0: the peer gets a TCP RST."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def reset_server(host="127.0.0.1"):
    """Reads the ClientHello, then closes with SO_LINGER 0 (TCP RST)."""
    def handler(conn):
        recv_some(conn)
        rst_close(conn)
    return ThreadServer(handler, host)


HTTP_400 = (b"HTTP/1.1 400 Bad Request\r\nServer: tlsprobe-test-http\r\n"
            b"Content-Type: text/html\r\nContent-Length: 50\r\nConnection: close\r\n\r\n"
            b"<html><body><h1>400 Bad Request</h1></body></html>")
HTTP_200 = (b"HTTP/1.1 200 OK\r\nServer: tlsprobe-test-http\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 3\r\nConnection: close\r\n\r\nok\n")


class HttpRoutes(ThreadServer):
    """Plain HTTP that answers GET PATH from routes {path: (status, body)}
    (default for any other path); a route of None stays silent until the
    server stops. asked lists the paths requested, in order."""

    def __init__(self, routes=None, default=(404, b"not found\n"), host="127.0.0.1"):
        self.routes = dict(routes or {})
        self.default = default
        self.asked = []
        super().__init__(self._answer, host)

    def _answer(self, conn):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        path = data.split(b" ")[1].decode("latin-1")
        self.asked.append(path)
        route = self.routes.get(path, self.default)
        if route is None:
            self.stopping.wait(30)
            return
        status, body = route
        conn.sendall(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (status, len(body))
                     + body)


def http_server(host="127.0.0.1"):
    """A plain-HTTP server.  Like nginx (and unlike http.server, whose readline
    would wait for a newline that a binary ClientHello may never contain) it
    answers 400 as soon as the first bytes are not a request line."""
    def handler(conn):
        data = recv_some(conn)
        if data[:4] in (b"GET ", b"HEAD") and b"\r\n\r\n" in data:
            conn.sendall(HTTP_200)
        elif data:
            conn.sendall(HTTP_400)
    return ThreadServer(handler, host)


# --------------------------------------------------------------------------
# tlsprobe serve
# --------------------------------------------------------------------------

_LISTEN_RE = re.compile(r"^listening on (\[[^\]]+\]|[^\s:]+):(\d+), (.+)$")
_TABLE_RE = re.compile(r"^(\d+)\s+(\S+)\s+(\S+)\s+(.+)$")

Scenario = namedtuple("Scenario", "name port expect summary")

STOP_GRACE = 5.0          # a server must exit this soon after SIGTERM (its
                          # default handshake timeout is 10 s)


class Serve(Server):
    """A running `tlsprobe serve ARGS` (ARGS name the --listen addresses,
    normally port 0), started in cwd (default: a directory of its own).

    .ports      {scenario (or "your certificate"): port} in the order printed
    .port       the first port, on .host
    .table      with --scenario all: [(port, scenario, expect, setup)]
    .scenarios  with --scenario all: {name: Scenario(name, port, expect, summary)}
    .stdout     what it printed on stdout before serving
    .ca         with write_ca: the root it wrote (--write-ca)

    Raises RuntimeError when it exits before listening.  stop() sends SIGTERM
    and returns (exit status, seconds it took to exit)."""

    def __init__(self, *args, cwd=None, write_ca=False, ready_timeout=15.0,
                 preexec_fn=die_with_parent):
        args = [str(a) for a in args]
        self.dir = new_dir("serve-")
        if write_ca:
            self.ca = os.path.join(self.dir, "ca.pem")
            args += ["--write-ca", self.ca]
        self.args = args
        self.out_path = os.path.join(self.dir, "stdout")
        self.err_path = os.path.join(self.dir, "stderr")
        n_listen = max(1, args.count("--listen"))
        all_mode = "--scenario" in args and args[args.index("--scenario") + 1] == "all"
        want = n_listen * (len(scenarios()) if all_mode else 1)
        self.exit = None
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = popen([wait_binary(), "serve"] + args, stdin=subprocess.DEVNULL,
                              stdout=out, stderr=err, cwd=cwd or self.dir, preexec_fn=preexec_fn)
        _live.add(self)

        def listening():
            self._read_ports()
            got = len(self.table) if all_mode else len(self.listening)
            return (got >= want and self.stdout.endswith("\n")) or self.proc.poll() is not None

        if not wait_for(listening, ready_timeout):
            self.kill()
            raise RuntimeError("tlsprobe serve %s printed no ports in %.0fs\nstdout: %r"
                               % (" ".join(args), ready_timeout, self.stdout))
        if self.proc.poll() is not None:
            self.stop()
            raise RuntimeError("tlsprobe serve %s exited %d before listening\nstdout: %s\n"
                               "stderr: %s" % (" ".join(args), self.proc.returncode,
                                               self.stdout, self.stderr()))
        if all_mode:
            self.ports = {sc: port for port, sc, _, _ in self.table}
            self.port = self.table[0][0]
        else:
            self.ports = {what: port for _, port, what in self.listening}
            self.port = self.listening[0][1]
        # no wait_port: it prints its ports once it listens, and a test
        # connection would be one more line in its connection log
        self.host = self.listening[0][0] if self.listening else "127.0.0.1"

    def _read_ports(self):
        self.stdout = read_text(self.out_path)
        self.table, self.listening = [], []
        self.scenarios = OrderedDict()
        for line in self.stdout.splitlines():
            m = _LISTEN_RE.match(line)
            if m:
                self.listening.append((m.group(1).strip("[]"), int(m.group(2)), m.group(3)))
            m = _TABLE_RE.match(line)
            if m and not line.startswith("PORT"):
                self.table.append((int(m.group(1)), m.group(2), m.group(3), m.group(4)))
                self.scenarios[m.group(2)] = Scenario(m.group(2), int(m.group(1)), m.group(3),
                                                      m.group(4))

    def target_for(self, scenario):
        return hostport(self.host, self.ports[scenario])

    @property
    def pid(self):
        return self.proc.pid

    def stderr(self):
        return read_text(self.err_path)

    def read_log(self):
        """stdout and stderr."""
        return read_text(self.out_path) + self.stderr()

    def log_lines(self):
        return [l for l in self.stderr().splitlines() if l.strip()]

    def json_log(self, strict=True):
        """The stderr lines parsed as JSON objects (with --log-json); strict:
        every line must be one, else only the lines that start with "{"."""
        out = []
        for line in self.log_lines():
            if not strict and not line.startswith("{"):
                continue
            try:
                obj = parse_json_line(line)
            except ValueError as e:
                raise AssertionError("stderr line is not JSON (%s): %r" % (e, line))
            if not isinstance(obj, dict):
                raise AssertionError("stderr line is not a JSON object: %r" % line)
            out.append(obj)
        return out

    def connections(self):
        """The --log-json objects logged so far."""
        return self.json_log(strict=False)

    def wait_connections(self, n, timeout=5.0):
        """Wait until at least n connections are logged (the log line may come
        just after the client is done); returns them."""
        wait_for(lambda: len(self.connections()) >= n, timeout)
        return self.connections()

    def wait_log(self, pred, timeout=5.0):
        """Wait until some log line satisfies pred(line); return it (or None)."""
        return wait_for(lambda: next((l for l in self.log_lines() if pred(l)), None), timeout)

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS for pid %d" % self.proc.pid)

    def stop(self, grace=STOP_GRACE):
        """SIGTERM; -> (exit status, seconds to exit).  Kills it after `grace`
        seconds (status then is the negative signal number)."""
        if self.exit is None:
            self.exit = stop_process(self.proc, grace)
        _live.discard(self)
        return self.exit

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        _live.discard(self)


# --------------------------------------------------------------------------
# HTTP: a plain backend, nginx in front of it
# --------------------------------------------------------------------------

SLOW_SECONDS = 3.0
ROOT_BODY = "hello from nginx, tlsprobe fetch test\n"
FINAL_BODY = "the end of the redirect chain\n"
PLAIN_BODY = "plain http, no tls here\n"


class _BackendHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        srv = self.server
        with srv.lock:
            srv.requests.append((self.command, self.path, body, dict(self.headers)))
        if self.path.startswith("/slow"):
            srv.stopping.wait(SLOW_SECONDS)
            out = b"slow answer\n"
        elif self.path.startswith("/echo"):
            out = b"method=" + self.command.encode() + b" body=" + body + b"\n"
        else:
            out = b"backend\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _answer


class Backend(ThreadServer):
    """A plain-HTTP server on 127.0.0.1:ephemeral: ``/slow`` answers after
    SLOW_SECONDS, ``/echo`` with the method and the body it received.
    .requests lists (method, path, body, headers) in arrival order."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        super().__init__(self._handle)

    def _handle(self, conn):
        try:
            _BackendHandler(conn, (self.host, 0), self)
        except Exception:
            pass    # e.g. /slow answering a client that gave up: not a test failure


def nginx_path():
    """nginx on PATH or in the usual sbin directories (not on a user's PATH)."""
    extra = os.pathsep.join(("/usr/sbin", "/usr/local/sbin", "/sbin"))
    return shutil.which("nginx", path=os.environ.get("PATH", "") + os.pathsep + extra)


def require_nginx():
    if not nginx_path():
        raise unittest.SkipTest("nginx not installed (Debian: apt-get install -y nginx-light)")
    out = subprocess.run([nginx_path(), "-V"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT).stdout.decode(errors="replace")
    for module in ("http_ssl_module", "http_v2_module"):
        if module not in out:
            raise unittest.SkipTest("nginx lacks %s" % module)


_NGINX_CONF = """\
{user}worker_processes 1;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 128; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    default_type text/plain;
    server {{
        listen 127.0.0.1:{tls_port} ssl http2;
{listen_v6}        server_name localhost;
        ssl_certificate {chain};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location = / {{ return 200 "{root_body}"; }}
        location = /redirect1 {{ return 301 /redirect2; }}
        location = /redirect2 {{ return 302 /final; }}
        location = /final {{ return 200 "{final_body}"; }}
        location = /missing {{ return 404 "not here\\n"; }}
        location = /hdr {{ add_header X-Test tlsprobe; return 200 "headers\\n"; }}
        location /slow {{ proxy_pass http://127.0.0.1:{backend}; proxy_read_timeout 30s; }}
        location /echo {{ proxy_pass http://127.0.0.1:{backend}; }}
    }}
    server {{
        listen 127.0.0.1:{plain_port};
        location / {{ return 200 "{plain_body}"; }}
    }}
}}
"""


def _nginx_str(s):
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Nginx(ProcessServer):
    """nginx as the current user from its own directory, on loopback.

    .port: TLS (ssl http2, the chain and key given); .v6: also on [::1]:port
    when IPv6 loopback works; .plain_port: plain HTTP; .backend: the Backend
    behind /slow and /echo."""

    def __init__(self, chain, key, backend, attempts=3, timeout=10.0):
        self.chain, self.key, self.backend = chain, key, backend
        self.v6 = have_ipv6_loopback()
        self.dir = new_dir("nginx-")
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(self.dir, sub))
        super().__init__("nginx", self._argv, ready=self._listening, timeout=timeout,
                         attempts=attempts, port_for=self._free_port)

    def _free_port(self, host):
        """A port free on 127.0.0.1 (and on ::1 when listening there too)."""
        for _ in range(20):
            port = free_port(host)
            if not self.v6 or can_bind("::1", port):
                break
        return port

    def _argv(self, port):
        self.plain_port = free_port()
        user = ""
        if os.geteuid() == 0:   # as root, keep the workers as root (the current user)
            import grp
            import pwd
            user = "user %s %s;\n" % (pwd.getpwuid(os.geteuid()).pw_name,
                                      grp.getgrgid(os.getegid()).gr_name)
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(_NGINX_CONF.format(
                user=user, dir=self.dir, tls_port=port, plain_port=self.plain_port,
                listen_v6=("        listen [::1]:%d ssl http2;\n" % port if self.v6 else ""),
                chain=self.chain, key=self.key, backend=self.backend.port,
                root_body=_nginx_str(ROOT_BODY), final_body=_nginx_str(FINAL_BODY),
                plain_body=_nginx_str(PLAIN_BODY)))
        return [nginx_path(), "-p", self.dir + "/", "-c", conf, "-e",
                os.path.join(self.dir, "error.log")]

    def _listening(self):
        return (port_open("127.0.0.1", self.port) and port_open("127.0.0.1", self.plain_port)
                and (not self.v6 or port_open("::1", self.port)))

    def read_log(self, raw=False):
        """Its output and its error.log."""
        error_log = read_text(os.path.join(self.dir, "error.log"))
        return super().read_log(raw) + (error_log.encode() if raw else error_log)


class MonitoringPeers:
    """The peers of the monitoring tests (batch, the probes): `tlsprobe serve
    --scenario all` (ref, with the root it writes), s_server with the
    fixtures' leaf and intermediate (good, 365 days), a silent server, a
    closed port and, with http=True, a plain HTTP server. trust() trusts
    both roots and not the system's store."""

    def __init__(self, fixtures, http=False):
        self.fixtures = fixtures
        self.ref = Serve("--scenario", "all", "--listen", "127.0.0.1:0", write_ca=True)
        self.good = s_server(fixtures.leaf.cert, fixtures.leaf.key, chain=fixtures.inter.cert)
        self.silent = silent_server()
        self.http = http_server() if http else None
        self.closed = closed_port()

    def stop(self):
        for s in (self.ref, self.good, self.silent, self.http):
            if s is not None:
                s.stop()

    def trust(self):
        return ["--ca-file", self.ref.ca, "--ca-file", self.fixtures.root.cert, "--no-system-ca"]
