"""The man pages and the shell completions say what the binary does.

The truth is read, never copied: options and commands from the binary's own
--help (and COMMAND --help for every command it lists), reason codes from
src/reason.c, JSON members from src/cli/render_json.c. An option, command,
code or member that is added without being documented fails here, and so
does documenting one that does not exist.

Environment:
    TLSPROBE             the binary (default: <source>/build/tlsprobe)
    TLSPROBE_SOURCE_DIR  the source tree (default: two levels up from here)
    TLSPROBE_MAN_DIR     where meson built the man pages; empty or unset when
                         they were not built (no scdoc)
    TLSPROBE_SCDOC       scdoc (default: the one on PATH)
"""

import fcntl
import os
import pty
import re
import select
import shlex
import shutil
import signal
import struct
import sys
import tempfile
import termios
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(1, os.path.join(HERE, "..", "integration"))
from harness import run, tool, tlsprobe_path  # noqa: E402

SOURCE = os.environ.get("TLSPROBE_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BINARY = tlsprobe_path()
MAN_DIR = os.environ.get("TLSPROBE_MAN_DIR", "")
SCDOC = os.environ.get("TLSPROBE_SCDOC") or shutil.which("scdoc")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"

PAGES = {
    "tlsprobe.1": os.path.join(SOURCE, "man", "tlsprobe.1.scd"),
    "tlsprobe-json.7": os.path.join(SOURCE, "man", "tlsprobe-json.7.scd"),
}
# The probes' pages, each checked against its script's --help.
PROBES = os.path.join(SOURCE, "probes")
PROBE_PAGES = {name + ".1": os.path.join(SOURCE, "man", name + ".1.scd")
               for name in ("check_tlsprobe", "tlsprobe-textfile", "tlsprobe-expiry-report")}
ALL_PAGES = dict(PAGES, **PROBE_PAGES)
MAN1 = PAGES["tlsprobe.1"]
MAN7 = PAGES["tlsprobe-json.7"]
COMPLETIONS = os.path.join(SOURCE, "completions")
BASH = os.path.join(COMPLETIONS, "tlsprobe.bash")
ZSH = os.path.join(COMPLETIONS, "_tlsprobe")
FISH = os.path.join(COMPLETIONS, "tlsprobe.fish")

LONG = r"--(?P<long>[a-z0-9][a-z0-9.-]*[a-z0-9])"
SHORT = r"-(?P<short>[A-Za-z0-9])"


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# ---- the truth: the binary's --help -----------------------------------------

class Option:
    def __init__(self, long, short, arg, help, group):
        self.long, self.short, self.arg, self.help, self.group = long, short, arg, help, group
        # "output format: text, json" -> a fixed set of values; a note
        # such as "(default 1.2)" may follow.
        m = re.search(r":\s+([\w.-]+(?:,\s*[\w.-]+)+)(?:\s+\([^)]*\))?$", help)
        self.values = re.split(r",\s*", m.group(1)) if m else None

    @property
    def takes_file(self):
        return self.arg in ("FILE", "PREFIX")

    def __repr__(self):
        return "--" + self.long


# "  -q, --quiet    text: ...", "      --ca-file FILE   also ..."; a long
# "--name ARG" may leave a single space before the help.
OPTION_LINE = re.compile(r"^\s+(?:" + SHORT + r", )?" + LONG +
                         r"(?: (?P<arg>[A-Z][A-Z0-9_:\[\]-]*))?\s+(?P<help>\S.*)$")


def parse_help(text):
    """Options (by long name) and commands that a --help text lists."""
    options, commands = {}, []
    group, block = None, None
    for line in text.splitlines():
        if not line.strip():
            block = None
            continue
        if line.startswith("Usage:"):
            block = "usage"
        elif re.match(r"^Commands:$", line):
            block = "commands"
            continue
        m = re.match(r"^([A-Z][^:]*):$", line)
        if m:
            group = m.group(1)
            continue
        m = OPTION_LINE.match(line)
        if m and group and not group.startswith("Example"):
            options[m["long"]] = Option(m["long"], m["short"], m["arg"], m["help"], group)
            continue
        if block == "usage":
            # "Usage: tlsprobe [connect] TARGET..." or "       tlsprobe serve [options]"
            m = re.search(r"\btlsprobe \[?([a-z][a-z0-9-]*)\]?(?=\s|$)", line)
            if m and m.group(1) not in commands:
                commands.append(m.group(1))
        elif block == "commands":
            m = re.match(r"^\s+([a-z][a-z0-9-]*)(?:\s|$)", line)
            if m and m.group(1) not in commands:
                commands.append(m.group(1))
    return options, commands


def run_help(*args):
    p = tool([BINARY, *args, "--help"], check=False, timeout=30)
    if p.returncode != 0:
        raise AssertionError("%s %s --help exited %d: %s" % (BINARY, " ".join(args), p.returncode, p.stderr))
    return p.stdout


class Truth:
    """What the binary says about itself: its commands, the options of each,
    exit codes, and the scenarios of a command that lists them."""

    def __init__(self):
        top = run_help()
        options, self.commands = parse_help(top)
        if not self.commands:
            raise AssertionError("tlsprobe --help names no command")
        # The default command is the one the usage line puts in brackets.
        m = re.search(r"^Usage: tlsprobe \[([a-z][a-z0-9-]*)\]", top, re.M)
        self.default = m.group(1) if m else self.commands[0]
        self.by_command = {self.default: options}
        # What follows the command on its usage line: ["TARGET..."], ["FILE..."],
        # ["init|issue|check", "..."] or []; and, for actions, what follows each
        # ("  ca issue DIR NAME...    issue a certificate ...").
        self.operands, self.actions = {}, {}
        for command in self.commands:
            text = run_help(command)
            opts, _ = parse_help(text)
            self.by_command.setdefault(command, {}).update(opts)
            m = re.search(r"^Usage: tlsprobe \[?%s\]?(.*)$" % re.escape(command), text, re.M)
            words = [w for w in (m.group(1).split() if m else []) if w != "[options]"]
            # "[FILE|-]": an optional FILE (or standard input).
            self.operands[command] = [w.strip("[]").split("|")[0] if w.startswith("[") else w for w in words]
            if words and re.match(r"^[a-z]+(\|[a-z]+)+$", words[0]):
                self.actions[command] = {
                    a: (re.search(r"^\s+%s %s\b(.*?)(?:\s{2,}|$)" % (re.escape(command), a), text, re.M) or
                        re.match("", "")).group(0).split()[2:]
                    for a in words[0].split("|")}
        self.options = {}
        for opts in self.by_command.values():
            for name, o in opts.items():
                self.options.setdefault(name, o)
        m = re.search(r"^Exit status: (.*)$", top, re.M)
        self.exit_codes = re.findall(r"(\d) ([A-Z]+)", m.group(1)) if m else []
        self.longs = set(self.options)
        self.shorts = {o.short: o.long for o in self.options.values() if o.short}
        # "SCENARIO  A CLIENT SHOULD SAY  SETUP" then one row each.
        self.scenarios = {}
        for command, opts in self.by_command.items():
            if "list-scenarios" in opts:
                p = tool([BINARY, command, "--list-scenarios"], check=False, timeout=30)
                rows = [l.split(None, 2) for l in p.stdout.splitlines()[1:] if l.strip()]
                self.scenarios[command] = [(r[0], r[1]) for r in rows]

    def prefix(self, command):
        """How a command line for command starts."""
        return "tlsprobe " if command == self.default else "tlsprobe %s " % command

    def longs_of(self, command):
        return set(self.by_command[command])

    def shorts_of(self, command):
        return {o.short for o in self.by_command[command].values() if o.short}


TRUTH = None


def setUpModule():
    global TRUTH
    TRUTH = Truth()


# ---- the truth: sources -------------------------------------------------------

REASON_ENTRY = re.compile(r'\[(TP_\w+)\]\s*=\s*\{\s*TP_\w+,\s*"([a-z0-9-]+)",\s*TP_STATUS_(\w+)')


def reason_codes():
    """[(enum, code, severity, is_error, is_reported)] in table order, without "none"."""
    text = read(os.path.join(SOURCE, "src", "reason.c"))
    table = [(e, name, sev.lower()) for e, name, sev in REASON_ENTRY.findall(text)]
    enums = [e for e, _, _ in table]
    m = re.search(r"code >= (TP_\w+) && code <= (TP_\w+)", text)
    first, last = enums.index(m.group(1)), enums.index(m.group(2))
    # A code no source file but reason.c names is never reported.
    sources = []
    for root, _, files in os.walk(os.path.join(SOURCE, "src")):
        sources += [read(os.path.join(root, f)) for f in files if f.endswith(".c") and f != "reason.c"]
    used = "\n".join(sources)
    return [(e, name, sev, first <= i <= last, re.search(r"\b%s\b" % e, used) is not None)
            for i, (e, name, sev) in enumerate(table) if name != "none"]


# Every source file that builds JSON, and where tlsprobe-json.7 documents it:
# (section, subsection or None).
JSON_DOCS = {
    "src/cli/render_json.c": ("OBJECT", None),
    "src/cli/serve_cmd.c": ("THE REFERENCE SERVER", "Log lines"),
    "src/serve.c": ("THE REFERENCE SERVER", "Answers"),
}


def split_args(text):
    """The top-level comma-separated arguments of a C call's argument text."""
    args, depth, current, quoted = [], 0, "", False
    for i, ch in enumerate(text):
        if quoted:
            quoted = not (ch == '"' and text[i - 1] != "\\")
        elif ch == '"':
            quoted = True
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(current.strip())
            current = ""
            continue
        current += ch
    return args + [current.strip()]


def json_members(text):
    """Member names a C file gives JSON objects: json_object_set_new keys and
    json_pack keys (every other argument after the format)."""
    names = set(re.findall(r'json_object_set_new\(\s*\w+,\s*"([a-z0-9_]+)"', text))
    for m in re.finditer(r"json_pack\(", text):
        depth, i = 1, m.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        args = split_args(text[m.end():i - 1])
        names |= {a.strip('"') for a in args[1::2] if re.match(r'^"[a-z0-9_]+"$', a)}
    return names


def json_sources():
    """{relative path: members} of every C file under src/ that builds JSON objects."""
    found = {}
    for root, _, files in os.walk(os.path.join(SOURCE, "src")):
        for f in files:
            path = os.path.join(root, f)
            if f.endswith(".c") and re.search(r"json_object_set_new\(|json_pack\(", read(path)):
                found[os.path.relpath(path, SOURCE)] = json_members(read(path))
    return found


# ---- the man pages (scdoc sources) ------------------------------------------

def scd(path):
    """The page without scdoc comments."""
    return "\n".join(l for l in read(path).split("\n") if not re.match(r"^;( |$)", l))


def section(text, title):
    m = re.search(r"^# %s\n(.*?)(?=^# |\Z)" % re.escape(title), text, re.M | re.S)
    if not m:
        raise AssertionError("no section '# %s'" % title)
    return m.group(1)


def subsections(text):
    """[(title, body)] of the '## ' subsections of a section."""
    return re.findall(r"^## ([^\n]*)\n(.*?)(?=^## |\Z)", text, re.M | re.S)


def definitions(text):
    """[(term line, indented body)] of scdoc definition lists: a term, then tab-indented lines."""
    out = []
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line and not line[0].isspace() and i + 1 < len(lines) and lines[i + 1].startswith("\t"):
            body = []
            for l in lines[i + 1:]:
                if l.startswith("\t") or not l:
                    body.append(l)
                else:
                    break
            out.append((line, "\n".join(body)))
    return out


MAN_OPTION = re.compile(r"^(?:\*" + SHORT + r"\*, )?\*" + LONG + r"\*(?: _(?P<arg>[A-Z][A-Z0-9_:\[\]-]*)_)?$")


def options_section(command):
    """The section of tlsprobe.1 that defines command's options."""
    return "OPTIONS" if command == TRUTH.default else "%s OPTIONS" % command.upper()


def man_options(text, title="OPTIONS"):
    """{long: (short, arg, group, body)} defined in a section of options."""
    found = {}
    for group, body in subsections(section(text, title)):
        for term, desc in definitions(body):
            m = MAN_OPTION.match(term)
            if m:
                found[m["long"]] = (m["short"], m["arg"], group.strip(), desc)
    return found


def bold_options(text):
    longs = set(re.findall(r"\*" + LONG + r"\*", text))
    shorts = set(re.findall(r"\*-([A-Za-z0-9])\*", text))
    return longs, shorts


def example_options(text, program="tlsprobe"):
    """Options used on program's command lines inside literal blocks."""
    longs, shorts = set(), set()
    for block in re.findall(r"^```\n(.*?)^```", text, re.M | re.S):
        for line in block.split("\n"):
            if program + " " not in line:
                continue
            command = line[line.index(program + " "):].split("|")[0]
            for word in shlex.split(command):
                if re.match(LONG + "(=|$)", word):
                    longs.add(word[2:].split("=")[0])
                elif re.match(SHORT + "$", word):
                    shorts.add(word[1:])
    return longs, shorts


def scdoc_render(path):
    with open(path, "rb") as f:
        return run([SCDOC], input=f.read(), errors=None, timeout=30)


def check_definition(test, o, definition):
    """A page's definition of an option says what --help says of it."""
    short, arg, group, desc = definition
    test.assertEqual(short, o.short, "short form of --%s" % o.long)
    test.assertEqual(arg, o.arg, "argument name of --%s" % o.long)
    test.assertEqual(group, o.group, "--%s is under '%s' in --help" % (o.long, o.group))
    for value in o.values or ():
        test.assertRegex(desc, r"(?<![\w.])%s(?!\w|\.\w)" % re.escape(value),
                         "--%s value '%s' not described" % (o.long, value))


class ManPageTest(unittest.TestCase):
    def test_every_option_is_defined_in_its_group(self):
        text = scd(MAN1)
        default = TRUTH.by_command[TRUTH.default]
        for command, opts in TRUTH.by_command.items():
            title = options_section(command)
            defined = man_options(text, title) if re.search(r"(?m)^# %s$" % title, text) else {}
            for name, o in sorted(opts.items()):
                with self.subTest(command=command, option=name):
                    if name not in defined and command != TRUTH.default and name in default and \
                            (o.short, o.arg, o.help) == (default[name].short, default[name].arg,
                                                         default[name].help):
                        continue  # the same option as the default command's, defined there
                    self.assertTrue(name in defined, "tlsprobe.1 %s has no entry '*--%s*'" % (title, name))
                    self.check_definition(o, defined[name])

    def check_definition(self, o, definition):
        check_definition(self, o, definition)

    def test_no_option_the_binary_lacks(self):
        for page, path in PAGES.items():
            text = scd(path)
            longs, shorts = bold_options(text)
            ex_longs, ex_shorts = example_options(text)
            with self.subTest(page=page):
                for title in re.findall(r"(?m)^# ((?:[A-Z]+ )?OPTIONS)$", text):
                    command = title.split()[0].lower() if " " in title else TRUTH.default
                    self.assertIn(command, TRUTH.commands, "# %s: no such command" % title)
                    self.assertEqual(set(man_options(text, title)) - TRUTH.longs_of(command), set(),
                                     "in # %s but not in tlsprobe %s --help" % (title, command))
                self.assertEqual((longs | ex_longs) - TRUTH.longs, set(), "named but not in --help")
                self.assertEqual((shorts | ex_shorts) - set(TRUTH.shorts), set(), "named but not in --help")

    def test_every_command_is_described(self):
        # "*connect* _TARGET_...", "*ca issue* _DIR_ _NAME_..."
        defined = {}
        for term, _ in definitions(section(scd(MAN1), "COMMANDS")):
            m = re.match(r"^\*([a-z][a-z0-9-]*)(?: ([a-z][a-z0-9-]*))?\*", term)
            self.assertTrue(m, "COMMANDS: '%s' names no command" % term)
            defined.setdefault(m.group(1), set()).update([m.group(2)] if m.group(2) else [])
        self.assertEqual(set(defined), set(TRUTH.commands))
        for command in TRUTH.commands:
            with self.subTest(command=command):
                self.assertEqual(defined[command], set(TRUTH.actions.get(command, ())))

    def test_every_scenario_is_described(self):
        if not TRUTH.scenarios:
            self.skipTest("no command lists scenarios")
        rows = re.findall(r"^\|  ([a-z0-9-]+)\n:  \*([a-z0-9-]+)\*", section(scd(MAN1), "SCENARIOS"), re.M)
        for command, scenarios in TRUTH.scenarios.items():
            self.assertEqual(rows, scenarios, "tlsprobe %s --list-scenarios: name and what a client says" % command)

    def test_exit_status_in_both_pages(self):
        self.assertTrue(TRUTH.exit_codes, "--help names no exit status")
        exit1 = section(scd(MAN1), "EXIT STATUS")
        exit7 = " ".join(section(scd(MAN7), "EXIT STATUS").split())
        for code, word in TRUTH.exit_codes:
            with self.subTest(code=code):
                self.assertRegex(exit1, r"(?m)^\*%s\*\n\t%s:" % (code, word))
                self.assertIn("%s %s" % (code, word), exit7)

    def test_reason_codes_in_both_pages(self):
        codes = reason_codes()
        self.assertTrue(codes)
        want = {False: [c for c in codes if not c[3]], True: [c for c in codes if c[3]]}

        # tlsprobe.1: two tables, "## Findings" and "## Errors", rows in reason.c order.
        tables = {}
        for title, body in subsections(section(scd(MAN1), "REASON CODES")):
            rows = re.findall(r"^\|  \*([a-z0-9-]+)\*\n:  ([A-Za-z]+): (.*?)(?=^\||\Z)", body, re.M | re.S)
            tables[title.split()[0]] = rows
        # tlsprobe-json.7: definitions "*code* (severity)" under "## Findings..." and "## Errors...".
        lists = {}
        for title, body in subsections(section(scd(MAN7), "REASON CODES")):
            lists[title.split(",")[0].split()[0]] = [
                (m.group(1), m.group(2), desc) for term, desc in definitions(body)
                for m in [re.match(r"^\*([a-z0-9-]+)\* \((\w+)\)$", term)] if m]

        for is_error, title in ((False, "Findings"), (True, "Errors")):
            expected = [c[1] for c in want[is_error]]
            for page, entries in (("tlsprobe.1", tables.get(title, [])), ("tlsprobe-json.7", lists.get(title, []))):
                with self.subTest(page=page, kind=title):
                    self.assertEqual([e[0] for e in entries], expected, "codes, in reason.c order")
                    for (enum, code, severity, _, reported), (_, sev, desc) in zip(want[is_error], entries):
                        self.assertEqual(sev.lower(), severity, "severity of %s" % code)
                        self.assertEqual("Reserved" in desc, not reported,
                                         "%s is %sreported by the code: %s say 'Reserved'" %
                                         (code, "" if reported else "never ", "do not" if reported else "do"))

    def test_reason_codes_in_the_readme(self):
        # README's "## Reason codes": every code of reason.c once, the
        # findings before "Probe errors:" and the errors after it.
        text = read(os.path.join(SOURCE, "README.md"))
        m = re.search(r"^## Reason codes\n(.*?)(?=^## |\Z)", text, re.M | re.S)
        self.assertTrue(m, "README.md has no '## Reason codes' section")
        findings, sep, errors = m.group(1).partition("Probe errors:")
        self.assertTrue(sep, "README.md: no 'Probe errors:' in '## Reason codes'")
        codes = reason_codes()
        for is_error, part in ((False, findings), (True, errors)):
            named = re.findall(r"`([a-z0-9]+(?:-[a-z0-9]+)*)`", part)
            with self.subTest(kind="errors" if is_error else "findings"):
                self.assertEqual(len(named), len(set(named)), "a code named twice: %s" % named)
                self.assertEqual(set(named), {c[1] for c in codes if c[3] == is_error})

    def test_failure_codes_in_the_json_page(self):
        # the codes of a command that cannot run (src/cli/output.c), each a
        # definition of tlsprobe-json.7's FAILURES
        text = read(os.path.join(SOURCE, "src", "cli", "output.c"))
        names = {e: n for e, n, _, _, _ in reason_codes()}
        codes = re.findall(r'\[FAIL_\w+\] = \{"([a-z-]+)"', text)
        codes += [names[e] for e in re.findall(r"\[FAIL_\w+\] = \{NULL, (TP_\w+)", text)]
        self.assertGreaterEqual(len(codes), 4, "the failures table of output.c")
        defined = [term.strip("*") for term, _ in definitions(section(scd(MAN7), "FAILURES"))]
        self.assertEqual(sorted(defined), sorted(codes))

    def test_every_json_member_is_documented(self):
        page = scd(MAN7)
        sources = json_sources()
        self.assertEqual(set(sources) - set(JSON_DOCS), set(), "JSON built where JSON_DOCS does not say")
        for path, (title, sub) in JSON_DOCS.items():
            with self.subTest(source=path):
                self.assertIn(path, sources, "builds no JSON any more")
                text = section(page, title)
                if sub:
                    text = dict((t.strip(), b) for t, b in subsections(text))[sub]
                members = sources[path]
                bold = set(re.findall(r"\*([a-z0-9_]+)\*", text))
                self.assertEqual(members - bold, set(), "members %s writes that %s lacks" % (path, title))
                # Definition terms: "*name* (type)" or "*a*, *b* (type)", at any depth.
                defined = set()
                for terms in re.findall(r"^\t*((?:\*[a-z0-9_]+\*(?:, )?)+) \(", text, re.M):
                    defined |= set(re.findall(r"\*([a-z0-9_]+)\*", terms))
                self.assertEqual(defined - members, set(), "documented members %s does not write" % path)

    @unittest.skipUnless(SCDOC, "scdoc not installed")
    def test_scdoc_builds_without_warnings(self):
        for page, path in ALL_PAGES.items():
            with self.subTest(page=page):
                p = scdoc_render(path)
                self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
                self.assertEqual(p.stderr, b"")

    @unittest.skipUnless(SCDOC and shutil.which("groff"), "scdoc or groff not installed")
    def test_groff_renders_without_warnings(self):
        for page, path in ALL_PAGES.items():
            with self.subTest(page=page):
                roff = scdoc_render(path).stdout
                p = run(["groff", "-man", "-ww", "-z", "-Tutf8"], input=roff, errors=None, timeout=30,
                        env=dict(os.environ, MANWIDTH="80"))
                self.assertEqual(p.stderr.decode(errors="replace"), "")

    @unittest.skipUnless(MAN_DIR, "man pages not built (scdoc not found when meson was configured)")
    def test_built_pages_are_current(self):
        for page, path in ALL_PAGES.items():
            with self.subTest(page=page):
                built = os.path.join(MAN_DIR, page)
                self.assertTrue(os.path.isfile(built), "%s not built" % built)
                if SCDOC:
                    # The .TH line carries the build date.
                    strip = lambda b: re.sub(rb"^\.TH .*$", b"", b, flags=re.M)
                    with open(built, "rb") as f:
                        self.assertEqual(strip(f.read()), strip(scdoc_render(path).stdout))


class ProbePageTest(unittest.TestCase):
    """Each probe's page against the probe's own --help: the same options in
    the same groups, no option that neither the probe nor tlsprobe batch
    (to which the probes pass options on) has, and every exit status."""

    def probe_help(self, name):
        p = tool([os.path.join(PROBES, name), "--help"], check=False, timeout=30,
                 env=dict(os.environ, TLSPROBE=BINARY))
        self.assertIn(p.returncode, (0, 3), p.stderr)
        self.assertTrue(p.stdout.startswith("Usage: %s " % name), p.stdout)
        return p.stdout

    def pages(self):
        for page, path in PROBE_PAGES.items():
            name = page.rsplit(".", 1)[0]
            text = self.probe_help(name)
            yield page, name, scd(path), text, parse_help(text)[0]

    def test_every_option_is_defined_in_its_group(self):
        for page, _, text, _, opts in self.pages():
            defined = man_options(text)
            with self.subTest(page=page):
                self.assertTrue(opts, "--help lists no option")
                self.assertEqual(set(defined), set(opts), "# OPTIONS against --help")
                for name, o in sorted(opts.items()):
                    check_definition(self, o, defined[name])

    def test_no_option_the_probe_lacks(self):
        batch = TRUTH.by_command["batch"]
        for page, name, text, _, opts in self.pages():
            longs, shorts = bold_options(text)
            ex_longs, ex_shorts = example_options(text, name)
            with self.subTest(page=page):
                self.assertEqual((longs | ex_longs) - set(opts) - set(batch), set(),
                                 "named, but not in %s --help nor tlsprobe batch --help" % name)
                self.assertEqual((shorts | ex_shorts) - {o.short for o in opts.values()} -
                                 {o.short for o in batch.values()}, set(), "short options named")

    def test_every_exit_status_is_described(self):
        for page, name, text, help, _ in self.pages():
            m = re.search(r"^Exit status: (.*)$", help, re.M)
            with self.subTest(page=page):
                self.assertTrue(m, "%s --help names no exit status" % name)
                codes = re.findall(r"(?:^|, )(\d) ", m.group(1))
                self.assertTrue(codes)
                described = re.findall(r"^\*(\d)\*$", section(text, "EXIT STATUS"), re.M)
                self.assertEqual(described, codes)


# ---- the completions ---------------------------------------------------------

def code_lines(path):
    """The file without comment lines."""
    return "\n".join(l for l in read(path).split("\n") if not l.lstrip().startswith("#"))


class Sandbox:
    """A working directory with a file and a directory in it, and a HOME and
    hosts file of its own, so file and host completion are predictable."""

    FILE = "root.pem"
    HOST = "probe-target.test"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tlsprobe-docs-")
        os.mkdir(os.path.join(self.dir, "sub"))
        os.mkdir(os.path.join(self.dir, ".ssh"))
        open(os.path.join(self.dir, self.FILE), "w").close()
        with open(os.path.join(self.dir, "hosts"), "w") as f:
            f.write("192.0.2.1 %s\n" % self.HOST)
        with open(os.path.join(self.dir, ".ssh", "known_hosts"), "w") as f:
            f.write("%s ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n" % self.HOST)
        self.env = dict(os.environ, HOME=self.dir, HOSTFILE=os.path.join(self.dir, "hosts"),
                        XDG_CONFIG_HOME=os.path.join(self.dir, ".config"),
                        XDG_DATA_HOME=os.path.join(self.dir, ".local", "share"),
                        XDG_CACHE_HOME=os.path.join(self.dir, ".cache"), TERM="vt100",
                        # Completions may ask the binary (scenario names).
                        PATH=os.path.dirname(os.path.abspath(BINARY)) + os.pathsep + os.environ.get("PATH", ""))

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class CompletionCases:
    """The same questions for every shell: complete(lines) -> {line: [words]}."""

    shell = None

    @classmethod
    def setUpClass(cls):
        cls.box = Sandbox()

    @classmethod
    def tearDownClass(cls):
        cls.box.close()

    def ask(self, lines):
        raise NotImplementedError

    def test_offers_the_options(self):
        lines = {c: TRUTH.prefix(c) + "--" for c in TRUTH.commands}
        got = self.ask(list(lines.values()))
        for command, line in lines.items():
            with self.subTest(command=command):
                self.assertEqual(set(got[line]), {"--" + n for n in TRUTH.longs_of(command)})

    def test_completes_an_option_name(self):
        lines = {(c, n): TRUTH.prefix(c) + "--" + n for c in TRUTH.commands for n in TRUTH.longs_of(c)}
        got = self.ask(["tlsprobe --fo"] + list(lines.values()))
        self.assertEqual(got["tlsprobe --fo"], ["--format"])
        for (command, name), line in sorted(lines.items()):
            with self.subTest(command=command, option=name):
                self.assertIn("--" + name, got[line])

    def test_completes_commands(self):
        lines = {c: "tlsprobe " + c[:2] for c in TRUTH.commands}
        got = self.ask(list(lines.values()))
        for command, line in lines.items():
            with self.subTest(command=command):
                self.assertIn(command, got[line])

    def test_fixed_values(self):
        lines = {(c, n): TRUTH.prefix(c) + "--%s " % n
                 for c in TRUTH.commands for n, o in TRUTH.by_command[c].items() if o.values}
        self.assertTrue(lines)
        got = self.ask(list(lines.values()))
        for (command, name), line in sorted(lines.items()):
            with self.subTest(command=command, option=name):
                self.assertEqual(sorted(got[line]), sorted(TRUTH.options[name].values))

    def test_scenarios(self):
        if not TRUTH.scenarios:
            self.skipTest("no command lists scenarios")
        lines = {c: TRUTH.prefix(c) + "--scenario " for c in TRUTH.scenarios}
        got = self.ask(list(lines.values()))
        for command, line in lines.items():
            with self.subTest(command=command):
                self.assertEqual(set(got[line]) - {"all"}, {name for name, _ in TRUTH.scenarios[command]})

    def test_files_only_where_a_file_is_expected(self):
        prefix = Sandbox.FILE[:2]
        lines = {(c, n): TRUTH.prefix(c) + "--%s %s" % (n, prefix)
                 for c in TRUTH.commands for n, o in TRUTH.by_command[c].items() if o.arg and not o.values}
        got = self.ask(list(lines.values()))
        for (command, name), line in sorted(lines.items()):
            with self.subTest(command=command, option=name):
                if TRUTH.by_command[command][name].takes_file:
                    self.assertIn(Sandbox.FILE, got[line])
                else:
                    self.assertNotIn(Sandbox.FILE, got[line])

    # A sample value, the start of a word, and what completing it must offer
    # (True) or must not (False), for each kind of operand.
    OPERANDS = {
        "FILE": ("root.pem", "ro", {Sandbox.FILE: True}),
        "DIR": ("sub", "su", {"sub": True, Sandbox.FILE: False}),
        "NAME": ("example.com", Sandbox.HOST[:7], {Sandbox.HOST: True, Sandbox.FILE: False}),
        "TARGET": ("example.com", Sandbox.HOST[:7], {Sandbox.HOST: True, Sandbox.FILE: False}),
    }

    def operand_cases(self, head, words):
        """(line, expectations) for each operand in words (metavariables)."""
        cases, done = [], []
        for word in words:
            kind = word.rstrip(".")
            if word.startswith("-") or kind not in self.OPERANDS:
                break
            sample, start, expect = self.OPERANDS[kind]
            cases.append((head + " ".join(done + [start]), expect))
            done.append(sample)
            if word.endswith("..."):
                cases.append((head + " ".join(done + [start]), expect))
        # Past the last operand, nothing (and no file) is offered.
        if not words or not words[-1].endswith("..."):
            cases.append((head + " ".join(done + ["ro"]), {Sandbox.FILE: False}))
        return cases

    def test_operands(self):
        cases = []
        for command in TRUTH.commands:
            if command in TRUTH.actions:
                continue
            cases += self.operand_cases(TRUTH.prefix(command), TRUTH.operands[command])
            if command == TRUTH.default:
                cases += self.operand_cases("tlsprobe %s " % command, TRUTH.operands[command])
        cases.append(("tlsprobe --json example.com ro", {Sandbox.FILE: False}))
        for command, actions in TRUTH.actions.items():
            cases.append((TRUTH.prefix(command), {a: True for a in actions}))
            for action, words in actions.items():
                cases += self.operand_cases("%s%s " % (TRUTH.prefix(command), action), words)
        got = self.ask([line for line, _ in cases])
        for line, expect in cases:
            offered = {w.rstrip("/") for w in got[line]}
            with self.subTest(line=line):
                for word, present in expect.items():
                    (self.assertIn if present else self.assertNotIn)(word, offered)

    def test_targets_are_hosts(self):
        line = "tlsprobe " + Sandbox.HOST[:7]
        self.assertIn(Sandbox.HOST, self.ask([line])[line])


# -- bash ----------------------------------------------------------------------

@unittest.skipUnless(os.path.exists(BASH_COMPLETION), "bash-completion not installed")
class BashCompletionTest(CompletionCases, unittest.TestCase):
    """Drives the completion function as bash would: COMP_WORDS, COMP_CWORD, COMPREPLY."""

    def ask(self, lines):
        script = ["source %s" % shlex.quote(BASH_COMPLETION),
                  "source %s" % shlex.quote(BASH),
                  "fn=$(complete -p tlsprobe | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p')",
                  '[[ $fn ]] || { echo "no completion for tlsprobe" >&2; exit 1; }']
        for i, line in enumerate(lines):
            words = line.split() + ([""] if line.endswith(" ") else [])
            script += [
                "COMP_LINE=%s; COMP_POINT=${#COMP_LINE}" % shlex.quote(line),
                "COMP_WORDS=(%s); COMP_CWORD=%d; COMPREPLY=()" % (" ".join(shlex.quote(w) for w in words),
                                                                 len(words) - 1),
                '"$fn" tlsprobe "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"',
                "echo '@@ %d'" % i,
                'printf "%s\\n" "${COMPREPLY[@]}"',
            ]
        p = tool(["bash", "--norc", "--noprofile", "-c", "\n".join(script)], cwd=self.box.dir,
                 env=self.box.env, check=False, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return split_answers(p.stdout, lines)

    def test_names_only_real_options(self):
        named = set(re.findall(r"(?<![\w-])" + LONG, code_lines(BASH)))
        self.assertEqual(named - TRUTH.longs, set())

    def test_offers_short_options_too(self):
        lines = {c: TRUTH.prefix(c) + "-" for c in TRUTH.commands}
        got = self.ask(list(lines.values()))
        for command, line in lines.items():
            with self.subTest(command=command):
                self.assertEqual(set(got[line]), {"--" + n for n in TRUTH.longs_of(command)} |
                                 {"-" + s for s in TRUTH.shorts_of(command)})


def split_answers(out, lines):
    answers, current = {}, None
    for word in out.split("\n"):
        m = re.match(r"^@@ (\d+)$", word)
        if m:
            current = answers.setdefault(lines[int(m.group(1))], [])
        elif word and current is not None:
            current.append(word)
    for line in lines:
        answers.setdefault(line, [])
    return answers


# -- zsh -----------------------------------------------------------------------

def zsh_action(text, name):
    """The action of the first _arguments spec for --name: what follows its
    [description], as in '--format=[output format]:format:(text json)' or
    '(-X --method)'{-X,--method=}'[request method]:method:(GET HEAD)'."""
    for line in text.split("\n"):
        m = re.search(r"(?<![\w-])--%s(?![\w.-])=?\}?['\"]?\[[^]]*\](.*?)['\"]?\s*$" % re.escape(name), line)
        if m:
            return m.group(1)
    return None


@unittest.skipUnless(shutil.which("zsh"), "zsh not installed")
class ZshCompletionTest(CompletionCases, unittest.TestCase):
    """Static checks of the _arguments specs, and completion in a real zsh on a pty."""

    def test_syntax(self):
        p = tool(["zsh", "-n", ZSH], check=False, timeout=30)
        self.assertEqual((p.returncode, p.stderr), (0, ""))

    def test_names_the_options(self):
        text = code_lines(ZSH)
        self.assertEqual(set(re.findall(r"(?<![\w-])" + LONG, text)), TRUTH.longs)
        pairs = dict(re.findall(r"\{-(\w),--([a-z0-9.-]+)=?\}", text))
        self.assertEqual(pairs, TRUTH.shorts)

    def test_specs(self):
        text = code_lines(ZSH)
        for name, o in sorted(TRUTH.options.items()):
            if not o.arg:
                continue
            with self.subTest(option=name):
                action = zsh_action(text, name)
                self.assertIsNotNone(action, "no _arguments spec for --%s" % name)
                if o.values:
                    v = re.search(r":\(([^)]*)\)$", action)
                    self.assertTrue(v, "--%s: values not given as (a b c)" % name)
                    self.assertEqual(sorted(v.group(1).split()), sorted(o.values))
                self.assertEqual("_files" in action, o.takes_file, "--%s: _files" % name)

    def ask(self, lines):
        return zsh_complete(lines, self.box)


def zsh_complete(lines, box, timeout=60):
    """Type each line and TAB into an interactive zsh on a pty. Every match the
    completion system adds is written to a file, and a key bound to a widget
    ends each query with a marker and clears the line, so the line editor
    never stops between queries."""
    out = os.path.join(box.dir, "zsh-matches")
    ready = os.path.join(box.dir, "zsh-ready")
    for f in (out, ready):
        if os.path.exists(f):
            os.unlink(f)
    q = shlex.quote
    setup = [
        "PROMPT='%% ' RPROMPT=''; unsetopt autolist; setopt nobeep; bindkey -e",
        "fpath=(%s $fpath); autoload -Uz compinit; compinit -u -D" % q(COMPLETIONS),
        # _hosts offers the hosts style before /etc/hosts.
        "zstyle ':completion:*' hosts %s" % Sandbox.HOST,
        # Record what compadd would add, then add it.
        "compadd() { if (( ${@[(I)-[ODA]]} )); then builtin compadd \"$@\"; return; fi;"
        " local -a __m; builtin compadd -O __m \"$@\"; (( $#__m )) && print -rl -- $__m >> %s;"
        " builtin compadd \"$@\" }" % q(out),
        "typeset -gi __n=0; __mark() { print -r -- \"@@ $__n\" >> %s; (( __n++ )); BUFFER= };"
        " zle -N __mark; bindkey '^Xm' __mark" % q(out),
        # The line editor is ready once it has started after all of the above.
        "zle-line-init() { : >| %s }; zle -N zle-line-init" % q(ready),
    ]
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(box.dir)
        os.execvpe("zsh", ["zsh", "-f", "-i"], box.env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    transcript = []

    def wait_for(done):
        end = time.time() + timeout
        while time.time() < end:
            if done():
                return True
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                try:
                    transcript.append(os.read(fd, 65536))
                except OSError:
                    return False
        return False

    def last_marker():
        try:
            return "@@ %d\n" % (len(lines) - 1) in read(out)
        except FileNotFoundError:
            return False

    try:
        os.write(fd, "".join(c + "\n" for c in setup).encode())
        ok = wait_for(lambda: os.path.exists(ready))
        if ok:
            os.write(fd, "".join(line + "\t\x18m" for line in lines).encode())
            ok = wait_for(last_marker)
        if not ok:
            raise AssertionError("zsh did not finish; it wrote:\n" +
                                 b"".join(transcript).decode(errors="replace")[-2000:])
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)
    # Matches come before the marker of their query.
    answers, current = {}, []
    for word in read(out).split("\n"):
        m = re.match(r"^@@ (\d+)$", word)
        if m:
            answers[lines[int(m.group(1))]] = sorted(set(current))
            current = []
        elif word:
            current.append(word)
    return answers


# -- fish ----------------------------------------------------------------------

def fish_completes(path):
    """[(tokens)] of every `complete` command in a fish file."""
    return [shlex.split(l) for l in code_lines(path).split("\n") if l.startswith("complete ")]


def flag_value(tokens, *flags):
    for i, t in enumerate(tokens):
        if t in flags and i + 1 < len(tokens):
            return tokens[i + 1]
    return None


@unittest.skipUnless(shutil.which("fish"), "fish not installed")
class FishCompletionTest(CompletionCases, unittest.TestCase):
    """Static checks of the complete commands, and `complete -C` in a real fish."""

    def test_syntax(self):
        p = tool(["fish", "--no-execute", FISH], check=False, timeout=30)
        self.assertEqual((p.returncode, p.stderr), (0, ""))

    def test_names_the_options(self):
        specs = {}
        for t in fish_completes(FISH):
            name = flag_value(t, "-l", "--long-option")
            if name:
                specs.setdefault(name, []).append(t)
        self.assertEqual(set(specs), TRUTH.longs)
        shorts = {flag_value(t, "-s", "--short-option"): l for l, ts in specs.items() for t in ts}
        shorts.pop(None, None)
        self.assertEqual(shorts, TRUTH.shorts)
        for name, o in sorted(TRUTH.options.items()):
            for t in specs[name]:
                with self.subTest(option=name, line=" ".join(t)):
                    if o.values:
                        self.assertEqual(sorted(flag_value(t, "-a", "--arguments").split()), sorted(o.values))
                    if o.takes_file:
                        self.assertIn("-F", t, "--%s: files (-r -F)" % name)
                    elif o.arg:
                        self.assertIn("-x", t, "--%s takes a value that is not a file (-x)" % name)

    def ask(self, lines):
        script = ["set -g fish_complete_path %s" % shlex.quote(COMPLETIONS)]
        for i, line in enumerate(lines):
            script += ["echo '@@ %d'" % i, "complete -C %s" % shlex.quote(line)]
        p = tool(["fish", "--no-config", "-c", "\n".join(script)], cwd=self.box.dir,
                 env=self.box.env, check=False, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return {line: [w.split("\t")[0] for w in words]
                for line, words in split_answers(p.stdout, lines).items()}


if __name__ == "__main__":
    unittest.main()
