"""End to end, plan-only against the twin: special hardware needs reach a node that has the hardware.

The real `openstack` CLI talks to the twin; the repositories are the small fixtures in fixtures/repos/hw_*.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import Openstack, RunMain, ok

from chameleon_twin.server import TwinServer

pytestmark = pytest.mark.e2e
REPOS = Path(__file__).parent / "fixtures" / "repos"


@pytest.mark.parametrize(("repo", "expect"), [
    ("hw_vitis", {"fpga": "Xilinx Alveo U280", "node_type": "compute_cascadelake_r", "site": "CHI@UC",
                  "quote": "v++"}),
    ("hw_arm_neon", {"arch": "aarch64", "site": "CHI@TACC", "image": "ARM64", "quote": "arm_neon.h"}),
    ("hw_spdk", {"nvme_spare": 2, "quote": "spdk"}),
    ("hw_rdma", {"infiniband": True, "quote": "ibverbs"}),
    ("hw_cc80", {"min_cc": 8.0, "image": "CUDA", "quote": "8.0"}),
    ("hw_pmem_1tb", {"node_type": "compute_nvdimm", "quote": "pmem"}),
])
def test_plan_only_puts_special_hardware_needs_on_nodes_that_have_it(
        cloud_env: dict[str, str], run_main: RunMain, repo: str, expect: dict[str, object]) -> None:
    code, out, err = run_main(str(REPOS / repo), "--plan-only", "--json")
    assert code == 0, err
    doc = json.loads(out)
    hw, res = doc["resource"]["hardware"], doc["resource"]
    if "fpga" in expect:
        assert hw["fpga"] == expect["fpga"]
        # the card sits on one node of a general type: that node is reserved by name
        assert res["resource_properties"][:2] == ["==", "$node_name"]
    for key in ("node_type", "site"):
        if key in expect:
            assert res[key] == expect[key]
    if "arch" in expect:
        assert hw["arch"] == doc["requirements"]["arch"] == expect["arch"]
    if "image" in expect:
        assert str(expect["image"]) in doc["image"]["name"]
    if "nvme_spare" in expect:
        assert hw["nvme_spare"] >= expect["nvme_spare"] == doc["requirements"]["local_nvme"]
    if "infiniband" in expect:
        assert hw["infiniband"] is True and doc["requirements"]["rdma"] is True
    if "min_cc" in expect:
        assert doc["requirements"]["gpu"]["min_compute_capability"] == expect["min_cc"]
        assert hw["gpu_compute_capability"] >= expect["min_cc"]
        assert not any(old in hw["gpu_model"] for old in ("RTX 6000", "V100", "P100"))
    evidence = " ".join(e["text"] for e in doc["requirements"]["evidence"]) + doc["requirements"]["reason"]
    assert str(expect["quote"]).lower() in evidence.lower()


def test_a_gpu_generation_no_site_has_is_an_infeasible_request(cloud_env: dict[str, str], run_main: RunMain) -> None:
    code, out, err = run_main(str(REPOS / "hw_blackwell"), "--plan-only", "--json")
    assert code == 11, err
    error = json.loads(out)["error"]
    assert error["type"] == "NoMatchError"
    wanted = "no node with an NVIDIA GPU of compute capability >= 10.0 at CHI@NCAR, CHI@TACC or CHI@UC"
    assert error["message"].startswith(wanted) and "looked for 1x NVIDIA GPU" in error["message"]
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"Error: {wanted}") and "Traceback" not in err


def test_a_busy_fpga_node_fails_over_to_the_other_board_and_says_which(
        twin: TwinServer, cloud_env: dict[str, str], run_main: RunMain, openstack: Openstack) -> None:
    code, out, err = run_main(str(REPOS / "hw_vitis"), "--plan-only", "--json")
    assert code == 0, err
    u280 = json.loads(out)["resource"]["resource_properties"][2]
    end = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    lease = ok(openstack("reservation", "lease", "create", "--reservation",
                         f'min=1,max=1,resource_type=physical:host,resource_properties=["==","$node_name","{u280}"]',
                         "--end-date", end, "someone-else"))
    try:
        code, out, err = run_main(str(REPOS / "hw_vitis"), "--plan-only", "--json")
        assert code == 0, err
        res = json.loads(out)["resource"]
        assert res["resource_properties"][2] != u280
        assert res["hardware"]["fpga"] == "Xilinx Alveo U280 Golden Image"  # what is reserved is what is shown
    finally:
        ok(openstack("reservation", "lease", "delete", lease["id"], fmt=False))
