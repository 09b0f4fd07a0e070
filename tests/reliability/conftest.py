"""Reliability tests: inputs that once killed the process run in a subprocess.

``run_isolated(code)`` runs a Python snippet in a fresh interpreter and fails the test when it
dies on a signal (SIGABRT, SIGSEGV, ...) or hangs, so a regression shows as a failure instead of
taking pytest down with it. The snippet prints what it wants checked; the result carries
``returncode``, ``stdout`` and ``stderr``.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass

import pytest


@dataclass
class Isolated:
    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.strip().splitlines()


PRELUDE = """\
import os, sys
os.environ.setdefault("LLAMAPROV_CACHE_DIR", {cache!r})
import llamaprov
from llamaprov import errors
from llamaprov.engine import load_model, default_model_path


def report(attempts):
    # run each named call; print "name accepted" or the name of the LlamaProvError it raised
    for name, fn in attempts.items():
        try:
            fn()
            print(name, "accepted")
        except errors.LlamaProvError as exc:
            print(name, type(exc).__name__)
"""


def run_isolated(code: str, *, timeout: float = 120.0, expect_ok: bool = True) -> Isolated:
    """Run ``code`` in a new interpreter; fail on a signal or a timeout.

    With ``expect_ok`` (the default) a non-zero exit fails too, showing the child's stderr.
    """
    cache = os.environ.get("LLAMAPROV_CACHE_DIR", "")
    script = PRELUDE.format(cache=cache) + textwrap.dedent(code)
    try:
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the child process hung for {timeout} s; stdout: {exc.stdout!r}")
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        pytest.fail(f"the child process died on {name}\nstdout:\n{proc.stdout}\nstderr:\n"
                    f"{proc.stderr[-4000:]}")
    if expect_ok and proc.returncode != 0:
        pytest.fail(f"the child process exited with {proc.returncode}\nstderr:\n{proc.stderr[-4000:]}")
    return Isolated(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(name="isolated")
def _isolated():
    return run_isolated


# --------------------------------------------------------------------------------------- fuzzing
#
# A whole hypothesis search runs inside ONE child interpreter (loading the model costs ~0.3 s, so
# one child per example would be far too slow). The child classifies every call it makes: a normal
# result or a LlamaProvError is fine; any other exception is a finding, recorded (the shortest
# input seen for each distinct exception type and raising line) and printed as a JSON summary at
# the end. Before each call the child writes the input to a file, so when it dies on a signal or
# hangs the parent can name the input that did it.

FUZZ_EXAMPLES_ENV = "LLAMAPROV_FUZZ_EXAMPLES"

FUZZ_PRELUDE = """\
import faulthandler, json, math, reprlib, resource, traceback
faulthandler.enable()
# a cap on address space: a huge allocation fails here instead of swamping the machine
_MEM = int(os.environ.get("LLAMAPROV_FUZZ_MEMORY_MB") or 4096) << 20
resource.setrlimit(resource.RLIMIT_AS, (_MEM, _MEM))
from hypothesis import HealthCheck, Phase, example, given, settings, strategies as st
from llamaprov.errors import LlamaProvError

FUZZ_EXAMPLES = int(os.environ["LLAMAPROV_FUZZ_N"])
_LAST = os.environ.get("LLAMAPROV_FUZZ_LAST")
_FINDINGS = {{}}
_CURRENT = [None]
_COUNTS = {{"calls": 0, "ok": 0, "llamaprov_error": 0, "finding": 0}}
_ERROR_TYPES = {{}}
_BY_LABEL = {{}}  # label -> [ok, llamaprov errors, findings]
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 400
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = 30
_SHORT.maxlevel = 8

# values that tend to break C bindings: int32/uint32 edges, 64-bit, bools, floats, specials
NASTY_INTS = [0, 1, -1, 2, -2, 7, 255, 256, 2**15, 2**16, 2**31 - 1, 2**31, -2**31, -2**31 - 1,
              2**32 - 1, 2**32, 2**32 + 8, 2**53, 2**63 - 1, 2**63, -2**63, 2**64 + 1, 10**30]
NASTY_FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 1e-45, 1e-300, 1e38, 3.5e38, 1e300, -1e300,
                math.inf, -math.inf, math.nan]
nasty_ints = st.sampled_from(NASTY_INTS) | st.integers()
nasty_floats = st.sampled_from(NASTY_FLOATS) | st.floats()
nasty_numbers = nasty_ints | nasty_floats | st.booleans()
# a token id as a careless caller may pass it
nasty_token_keys = nasty_ints | st.booleans() | st.floats(allow_nan=True) | st.sampled_from(
    [None, "1", b"1", 1.0, 2.5, (1,)])
nasty_tokens = nasty_token_keys | st.sampled_from([[1], {{}}])


def fuzz_settings(n=None, **kw):
    \"\"\"Hypothesis settings for a fuzz target: ``n`` examples (the env override wins).\"\"\"
    return settings(max_examples=FUZZ_EXAMPLES if n is None else n, deadline=None, database=None,
                    phases=[Phase.explicit, Phase.generate], derandomize=False,
                    suppress_health_check=list(HealthCheck), print_blob=False, **kw)


def current(**inputs):
    \"\"\"Name the example being tried (shown with every finding and crash of this example).\"\"\"
    _CURRENT[0] = inputs or None


def _with_current(value):
    return value if _CURRENT[0] is None else {{"example": _CURRENT[0], "call": value}}


def trying(label, value):
    \"\"\"Note the input about to be tried (read by the parent if this process dies).\"\"\"
    if _LAST:
        try:
            text = f"{{label}}: {{_with_current(value)!r}}"
        except Exception:
            text = f"{{label}}: <unrepresentable {{type(value).__name__}}>"
        with open(_LAST, "w", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(text[:20000])


def _where(exc):
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "llamaprov" in f.filename and "/tests/" not in f.filename]
    f = (ours or frames or [None])[-1]
    return "?" if f is None else f"{{f.filename.rsplit('llamaprov/', 1)[-1]}}:{{f.lineno}} in {{f.name}}"


def record(label, value, exc):
    \"\"\"Record a finding: ``exc`` (not a LlamaProvError) raised by ``label`` on ``value``.\"\"\"
    _COUNTS["finding"] += 1
    key = f"{{label}} | {{type(exc).__name__}} | {{_where(exc)}}"
    try:
        text = _SHORT.repr(value)  # long strings abbreviated in the middle
    except Exception:
        text = f"<unrepresentable {{type(value).__name__}}>"
    old = _FINDINGS.get(key)
    if old is None or len(text) < len(old["input"]):
        _FINDINGS[key] = {{"api": label, "error": type(exc).__name__, "message": str(exc)[:500],
                          "where": _where(exc), "input": text[:3000],
                          "traceback": "".join(traceback.format_exception(exc))[-1500:],
                          "count": (old or {{}}).get("count", 0) + 1}}
    else:
        old["count"] += 1


def _variants(value, depth=0):
    \"\"\"Smaller versions of ``value``: an item removed from a dict/list, a str halved, a nested
    value replaced by one of its own variants.\"\"\"
    if depth > 6:
        return
    if isinstance(value, dict):
        for k in list(value):
            yield {{key: v for key, v in value.items() if key != k}}
        for k, v in value.items():
            for smaller in _variants(v, depth + 1):
                yield {{**value, k: smaller}}
    elif isinstance(value, (list, tuple)):
        for i in range(len(value)):
            yield type(value)(value[:i] + value[i + 1:])
        for i, v in enumerate(value):
            for smaller in _variants(v, depth + 1):
                yield type(value)((*value[:i], smaller, *value[i + 1:]))
    elif isinstance(value, str) and len(value) > 1:
        yield value[: len(value) // 2]
        yield value[len(value) // 2:]


def _call_variants(args, kwargs):
    for i, a in enumerate(args):
        for smaller in _variants(a):
            yield (*args[:i], smaller, *args[i + 1:]), kwargs
    for k in kwargs:
        yield args, {{key: v for key, v in kwargs.items() if key != k}}
    for k, v in kwargs.items():
        for smaller in _variants(v):
            yield args, {{**kwargs, k: smaller}}


def _same_finding(fn, args, kwargs, key_tail):
    try:
        fn(*args, **kwargs)
    except LlamaProvError:
        return False
    except Exception as exc:
        return f"{{type(exc).__name__}} | {{_where(exc)}}" == key_tail
    return False


def shrink(fn, args, kwargs, exc, budget=300):
    \"\"\"Greedy minimization of the arguments that made ``fn`` raise ``exc`` (same type and line).\"\"\"
    key_tail = f"{{type(exc).__name__}} | {{_where(exc)}}"
    best = (tuple(args), dict(kwargs))
    improved = True
    while improved and budget > 0:
        improved = False
        for smaller in _call_variants(*best):
            budget -= 1
            if budget <= 0:
                break
            trying("shrinking", smaller)
            if _same_finding(fn, smaller[0], smaller[1], key_tail):
                best, improved = smaller, True
                break
    return best


def check(label, fn, *args, **kwargs):
    \"\"\"Call ``fn``; a LlamaProvError is an accepted outcome (returns None), anything else a
    finding (recorded, returns None). Returns the result on success.\"\"\"
    _COUNTS["calls"] += 1
    tally = _BY_LABEL.setdefault(label, [0, 0, 0])
    value = (args, kwargs) if kwargs else args
    trying(label, value)
    value = _with_current(value)
    try:
        result = fn(*args, **kwargs)
    except LlamaProvError as exc:
        _COUNTS["llamaprov_error"] += 1
        name = type(exc).__name__
        _ERROR_TYPES[name] = _ERROR_TYPES.get(name, 0) + 1
        tally[1] += 1
        return None
    except Exception as exc:
        key = f"{{label}} | {{type(exc).__name__}} | {{_where(exc)}}"
        if key not in _FINDINGS:  # first time: shrink the arguments to a readable reproducer
            small = shrink(fn, args, kwargs, exc)
            if small != (tuple(args), dict(kwargs)):
                exc.add_note(f"shrunk arguments: {{_SHORT.repr(small)}}"[:3000])
                value = {{"shrunk": small}}
        record(label, value, exc)
        tally[2] += 1
        return None
    _COUNTS["ok"] += 1
    tally[0] += 1
    return result


def report():
    \"\"\"Print the summary the parent reads.\"\"\"
    print("FUZZ-SUMMARY " + json.dumps({{"counts": _COUNTS, "errors": _ERROR_TYPES,
                                        "labels": _BY_LABEL, "findings": list(_FINDINGS.values())}}),
          flush=True)


MODEL = load_model(default_model_path())
"""


@dataclass
class FuzzSummary:
    """What a fuzzing child reported: call outcomes overall and per API label."""

    counts: dict[str, int]
    errors: dict[str, int]
    labels: dict[str, list[int]]  # label -> [ok, LlamaProvError, finding]
    findings: list[dict[str, object]]

    def ok(self, label: str) -> int:
        """How many calls of ``label`` succeeded."""
        return self.labels.get(label, [0, 0, 0])[0]

    def table(self) -> str:
        """One line per API label: successes, LlamaProvErrors, findings."""
        return "\n".join(f"{k:60s} ok={v[0]:5d} error={v[1]:5d} finding={v[2]:3d}"
                         for k, v in sorted(self.labels.items()))


def fuzz_examples(default: int) -> int:
    """Examples per fuzz target: ``default`` unless LLAMAPROV_FUZZ_EXAMPLES says otherwise."""
    value = os.environ.get(FUZZ_EXAMPLES_ENV, "").strip()
    return int(value) if value else default


def _format_findings(findings: list[dict[str, object]]) -> str:
    parts = []
    for f in findings:
        parts.append(f"- {f['api']}: {f['error']}: {f['message']}\n  at {f['where']} "
                     f"({f['count']} times)\n  shortest input: {f['input']}\n"
                     + textwrap.indent(str(f["traceback"]), "    "))
    return "\n".join(parts)


def run_fuzz(code: str, *, examples: int, timeout: float = 120.0,
             allow_findings: bool = False) -> FuzzSummary:
    """Run a hypothesis search (``code``, which calls ``report()`` at the end) in a child process.

    ``code`` sees the helpers of ``FUZZ_PRELUDE`` (``MODEL``, ``check``, ``fuzz_settings``,
    ``nasty_*`` strategies, ``FUZZ_EXAMPLES``). The test fails when the child dies on a signal or
    hangs (naming the input it was trying), exits with an error, or reports findings (unless
    ``allow_findings``). ``examples`` is the default count; LLAMAPROV_FUZZ_EXAMPLES overrides it
    and the timeout grows in proportion.
    """
    n = fuzz_examples(examples)
    timeout = timeout * max(1.0, n / examples)
    cache = os.environ.get("LLAMAPROV_CACHE_DIR", "")
    script = (PRELUDE.format(cache=cache) + FUZZ_PRELUDE.format() + textwrap.dedent(code))
    fd, last_path = tempfile.mkstemp(prefix="llamaprov-fuzz-last-", suffix=".txt")
    os.close(fd)
    # GGML_NO_BACKTRACE: an abort prints no gdb backtrace (slow, and it buries the Python one)
    env = dict(os.environ, LLAMAPROV_FUZZ_N=str(n), LLAMAPROV_FUZZ_LAST=last_path,
               GGML_NO_BACKTRACE="1")

    def last_input() -> str:
        try:
            return pathlib.Path(last_path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "<unknown>"

    try:
        try:
            proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                  timeout=timeout, check=False, env=env)
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout
            pytest.fail(f"the fuzzing child hung for {timeout:.0f} s; last input tried:\n"
                        f"{last_input()}\nstdout: {out!r}")
        if proc.returncode < 0:
            name = signal.Signals(-proc.returncode).name
            pytest.fail(f"the fuzzing child died on {name}; last input tried:\n{last_input()}\n"
                        f"stderr:\n{proc.stderr[-4000:]}")
        summary_line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("FUZZ-SUMMARY ")),
                            None)
        if proc.returncode != 0 or summary_line is None:
            pytest.fail(f"the fuzzing child exited with {proc.returncode} without a summary; last "
                        f"input tried:\n{last_input()}\nstderr:\n{proc.stderr[-4000:]}")
        data = json.loads(summary_line[len("FUZZ-SUMMARY "):])
        summary = FuzzSummary(data["counts"], data["errors"], data["labels"], data["findings"])
        print(summary.table())
        if summary.findings and not allow_findings:
            pytest.fail(f"{len(summary.findings)} finding(s) (non-llamaprov exceptions) in "
                        f"{summary.counts['calls']} calls:\n{_format_findings(summary.findings)}")
        return summary
    finally:
        pathlib.Path(last_path).unlink(missing_ok=True)


@pytest.fixture(name="fuzz")
def _fuzz():
    return run_fuzz


# ------------------------------------------------------------------------- regression reproducers

EXPECT_ERROR = """\
import resource
os.environ["GGML_NO_BACKTRACE"] = "1"  # an abort prints no slow gdb backtrace
resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))
try:
{body}
except errors.LlamaProvError as exc:
    print("RESULT llamaprov-error", type(exc).__name__, str(exc)[:300].replace("\\n", " "))
except BaseException as exc:
    print("RESULT other-error", type(exc).__name__, str(exc)[:300].replace("\\n", " "))
else:
    print("RESULT no-error")
"""


def expect_llamaprov_error(code: str, *, timeout: float = 60.0,
                           allowed: tuple[str, ...] = ("llamaprov-error",),
                           memory_mb: int = 4096) -> str:
    """Run ``code`` in a child (address space capped at ``memory_mb``) and assert how it ends:
    by default in a LlamaProvError; ``allowed`` may add ``"no-error"`` where success is as
    good (a value clamped instead of rejected). A signal or a hang fails the test. Returns the
    child's RESULT line."""
    body = textwrap.indent(textwrap.dedent(code).strip() or "pass", "    ")
    script = EXPECT_ERROR.format(body=body, memory=memory_mb << 20)
    result = run_isolated(script, timeout=timeout, expect_ok=False)
    line = next((ln for ln in result.lines if ln.startswith("RESULT ")), None)
    assert line is not None, (f"the child printed no result (exit {result.returncode}):\n"
                              f"{result.stderr[-3000:]}")
    outcome = line.split()[1]
    assert outcome in allowed, f"expected {' or '.join(allowed)}, got: {line}"
    return line


@pytest.fixture(name="expect_error")
def _expect_error():
    return expect_llamaprov_error
