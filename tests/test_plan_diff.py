"""`provision plan-diff`: what changed between two plans, exit 0 same / 1 different / 2 not a plan."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from helpers import RunMain

PLAN = {"schema_version": 1, "run_id": "a", "mode": "plan",
        "requirements": {"gpu": {"required": "no", "count": 0}, "cpu_cores": None, "ram_gb": None, "arch": "x86_64",
                         "os": None, "cuda": None, "frameworks": ["pandas"]},
        "resource": {"site": "CHI@UC", "node_type": "compute_skylake",
                     "resource_properties": ["==", "$node_type", "compute_skylake"]},
        "image": {"name": "CC-Ubuntu24.04"}, "lease": {"hours": 4.0},
        "cost": {"su_per_hour": 1.0, "hours": 4.0, "su_total": 4.0}, "stats": {"seconds": 1.0}}


def write(tmp_path: Path, name: str, doc: dict) -> str:
    (tmp_path / name).write_text(json.dumps(doc))
    return str(tmp_path / name)


def test_the_same_plan_made_again_is_the_same(tmp_path: Path, run_main: RunMain) -> None:
    again = copy.deepcopy(PLAN) | {"run_id": "b", "stats": {"seconds": 2.0}}  # ids and timings are not the plan
    code, out, _ = run_main("plan-diff", write(tmp_path, "old.json", PLAN), write(tmp_path, "new.json", again))
    assert code == 0 and out.strip() == "the plans are the same"


def test_changes_are_listed_and_exit_1(tmp_path: Path, run_main: RunMain) -> None:
    new = copy.deepcopy(PLAN)
    new["resource"]["node_type"] = "gpu_rtx_6000"
    new["image"]["name"] = "CC-Ubuntu22.04-CUDA"
    new["requirements"]["frameworks"] = ["pandas", "torch"]
    new["cost"]["su_total"] = 8.0
    old_path, new_path = write(tmp_path, "old.json", PLAN), write(tmp_path, "new.json", new)
    code, out, err = run_main("plan-diff", old_path, new_path, "--json")
    assert code == 1 and "the plans differ in 4 field(s)" in err
    doc = json.loads(out)
    assert doc["same"] is False
    assert [c["field"] for c in doc["changes"]] == ["node type", "image", "SU total", "frameworks"]
    code, out, _ = run_main("plan-diff", str(tmp_path / "old.json"), str(tmp_path / "new.json"))
    assert "node type: compute_skylake -> gpu_rtx_6000" in out


def test_a_plan_that_became_no_capacity_is_a_change_of_outcome(tmp_path: Path, run_main: RunMain) -> None:
    failed = {"schema_version": 1, "run_id": "c", "decisions": {k: PLAN[k] for k in ("requirements", "resource")},
              "error": {"type": "NoCapacityError", "message": "no free node", "hint": None, "exit_code": 10}}
    code, out, _ = run_main("plan-diff", write(tmp_path, "old.json", PLAN), write(tmp_path, "new.json", failed))
    assert code == 1
    assert "outcome: feasible -> NoCapacityError (exit 10)" in out
    assert "node type" not in out  # the decisions it made before failing are compared too: unchanged


def test_not_a_plan_is_bad_input(tmp_path: Path, run_main: RunMain) -> None:
    (tmp_path / "x.json").write_text("[1, 2]")
    code, _, err = run_main("plan-diff", write(tmp_path, "old.json", PLAN), str(tmp_path / "x.json"))
    assert code == 2 and "is not a plan document" in err
