"""The integration tests' harness (Python 3 standard library only).

Everything here talks to loopback addresses only and never needs the
internet.  Fixtures are made with the openssl command line tool, never with
tlsprobe.  The submodules:

env       the binary under test ($TLSPROBE, default <repo>/build/tlsprobe),
          tools, loopback ports, waiting, scratch directories, dates, files
runner    run(): every program the tests start; run_tlsprobe, probe_json
schema    the tlsprobe/1 JSON contract and its variants
pki       Pki (an openssl CA), the shared Fixtures, X509 (openssl -text)
servers   ProcessServer, ThreadServer, Serve (tlsprobe serve), Backend, Nginx
clients   curl, s_client, gnutls-cli and Python ssl clients
formats   Nagios, Prometheus and TSV parsers, the batch summary
sandbox   directory snapshots, another user, a read-only directory
case      ProbeCase and ServeCase

The names most modules use are importable from the package itself.
"""

from .env import (DAY, REPO_ROOT, UTC, at_date, at_epoch, cat, cat_files, closed_port,  # noqa: F401
                  free_port, have, have_ipv6_loopback, hostport, iso, new_dir, port_open, require_ipv6,
                  read, require_tools, scratch_dir, tempdir, tlsprobe_path, wait_binary,
                  wait_for, wait_port, write)
from .runner import (JsonProbe, JsonProbes, Run, fetch_json, openssl, probe_json,  # noqa: F401
                     probe_json_lines, run, run_tlsprobe, run_tlsprobe_raw, run_tlsprobe_tty,
                     scenarios, tool)
from .schema import (check_schema, dump, parse_json_line, problem, problem_codes)  # noqa: F401
from .pki import (HOSTILE_CN, HOSTILE_O, HOSTILE_SAN, INTER_CN, ORG, OTHER_ROOT_CN,  # noqa: F401
                  ROOT_CN, CertInfo, Fixtures, Pki, X509, fixtures, trust_root)
from .servers import (GARBAGE, HTTP_200, HTTP_400, STOP_GRACE, MonitoringPeers,  # noqa: F401
                      HttpRoutes, ProcessServer, Serve, ThreadServer,
                      garbage_server, gnutls_serv, http_server, reset_server, s_server,
                      silent_server, stop_process)
from .case import ProbeCase, ServeCase  # noqa: F401
