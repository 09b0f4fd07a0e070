"""The MaskBench conformance harness (bench/maskbench.py, a tool) on the shared cases."""

from __future__ import annotations

import importlib
import json
import os
import pathlib
import subprocess
import sys

import pytest

# A script beside the package, not part of it: importable once its folder is on sys.path (the
# harness's worker processes find it there too).
TOOL = pathlib.Path(__file__).resolve().parents[2] / "bench" / "maskbench.py"
sys.path.insert(0, str(TOOL.parent))
maskbench = importlib.import_module("maskbench")
STATUSES, check_schema, run = maskbench.STATUSES, maskbench.check_schema, maskbench.run

# ../shared beside the repository (as on CI), or LLAMAPROV_MASKBENCH_DIR.
DATA = pathlib.Path(os.environ.get(
    "LLAMAPROV_MASKBENCH_DIR",
    pathlib.Path(__file__).resolve().parents[3] / "shared" / "jsonschemabench" / "maskbench"))
assert DATA.is_dir(), f"MaskBench data not found at {DATA} (set LLAMAPROV_MASKBENCH_DIR)"


def test_check_schema_reports_each_outcome() -> None:
    case = {
        "schema": {"type": "integer", "maximum": 3},
        "tests": [{"valid": True, "data": 3}, {"valid": False, "data": 4}],
    }
    assert check_schema(case)["status"] == "passing"
    wrong = {"schema": {"type": "integer"}, "tests": [{"valid": False, "data": 4}]}
    assert check_schema(wrong)["status"] == "invalidation_error"
    strict = {"schema": {"type": "integer"}, "tests": [{"valid": True, "data": "4"}]}
    assert check_schema(strict)["status"] == "validation_error"
    refused = {"schema": {"not": {"pattern": "x"}}, "tests": []}
    assert check_schema(refused, approximate=False)["status"] == "compile_error"
    # approximated: the grammar accepts a superset, jsonschema rejects the rest
    approx = {
        "schema": {"type": "string", "not": {"pattern": "x"}},
        "tests": [{"valid": True, "data": "ab"}, {"valid": False, "data": "axb"}],
    }
    result = check_schema(approx)
    assert result["status"] == "passing"
    assert result["approximated"] == ["not"]
    assert result["post_check_rejected"] == 1
    never = {"schema": {"type": "string", "format": "iri"}, "tests": []}
    assert check_schema(never)["status"] == "compile_error"  # format is never approximated


def test_llguidance_reference_engine() -> None:
    pytest.importorskip("llguidance")
    case = {
        "schema": {"type": "integer", "maximum": 3},
        "tests": [{"valid": True, "data": 3}, {"valid": False, "data": 4}, {"valid": True, "data": 1}],
    }
    result = check_schema(case, engine="llguidance")
    assert result["status"] == "passing"
    assert result["compile_ms"] >= 0


def test_gap_report_groups_by_cause() -> None:
    ours = {"results": {
        "a.json": {"status": "compile_error",
                   "error": "unsupported JSON Schema keyword 'oneOf' at #/x: branches may overlap"},
        "b.json": {"status": "validation_error"},
        "c.json": {"status": "passing"},
    }}
    ref = {"results": {k: {"status": "passing"} for k in ("a.json", "b.json", "c.json")}}
    report = maskbench.gap_report(ours, ref)
    assert "does not: 2" in report
    assert "oneOf: branches may overlap" in report
    assert "valid instance rejected" in report


def test_full_run_meets_targets() -> None:
    # every shared case (about 20 s on 2 cores): the conformance targets
    summary = run(DATA, workers=2)
    assert summary["schemas"] >= 5000
    assert summary["invalidation_error"] == 0
    assert summary["crash"] == 0
    assert summary["timeout"] == 0
    assert summary["passing"] / summary["schemas"] >= 0.90
    assert summary["valid_rejected"] <= 0.005 * summary["valid_instances"]


def test_definition_order_rejects_only_reordered_keys() -> None:
    # the generation default (definition order) is the any-order language restricted, never more
    case = {
        "schema": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}},
        "tests": [
            {"valid": True, "data": {"b": "x", "a": 1}},
            {"valid": False, "data": {"b": 1, "a": 1}},
        ],
    }
    assert check_schema(case)["status"] == "passing"
    assert check_schema(case, property_order="definition")["rejected"] == [0]


def test_broken_file_and_timeout_do_not_stop_the_run(tmp_path: pathlib.Path) -> None:
    (tmp_path / "ok.json").write_text(
        json.dumps({"schema": {"type": "null"}, "tests": [{"valid": True, "data": None}]})
    )
    (tmp_path / "bad.json").write_text("{not json")
    summary = run(tmp_path, workers=1)
    assert summary["schemas"] == 2
    assert summary["passing"] == 1
    assert summary["compile_error"] == 1
    # a worker that overruns its time is killed and replaced; the run goes on. The slow case
    # takes seconds (60,000 integers checked one token at a time), far past the timeout: a
    # timeout of 0.1 ms alone lost the race to a quick case on a quiet machine
    slow = {"schema": {"type": "array", "items": {"type": "integer"}},
            "tests": [{"valid": True, "data": list(range(200))}] * 300}
    (tmp_path / "slow.json").write_text(json.dumps(slow))
    summary = run(tmp_path, workers=1, timeout=0.05)
    assert summary["timeout"] == 1
    assert summary["schemas"] == 3 and summary["passing"] == 1


def test_cli_json_output() -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(TOOL),
            str(DATA),
            "--limit",
            "20",
            "--seed",
            "3",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    for key in ("schemas", *STATUSES, "compile_ms_p50", "compile_ms_p90", "compile_ms_p99"):
        assert key in summary
    assert summary["schemas"] == 20


@pytest.mark.parametrize("whitespace", ["compact", "bounded", "flexible"])
def test_sampled_grammars_parse_in_llama_cpp(whitespace: str) -> None:
    from llamaprov.errors import UnsupportedSchemaError
    from llamaprov.grammars import json_schema_to_gbnf, validate_gbnf

    files = sorted(DATA.iterdir())[::20]
    compiled = 0
    for f in files:
        schema = json.loads(f.read_text(encoding="utf-8"))["schema"]
        try:
            grammar = json_schema_to_gbnf(schema, whitespace=whitespace)
        except UnsupportedSchemaError:
            continue
        validate_gbnf(grammar)
        compiled += 1
    assert compiled >= 0.85 * len(files)
