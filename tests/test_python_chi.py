"""Proof with a second real client: Chameleon's own python-chi runs its documented workflow on the twin.

Each site runs `chi_workflow.py` in a fresh interpreter (python-chi reads its settings from the
environment at import), with the twin's openrc for that site: project name, hardware listing,
images, a lease with a node and a reserved floating IP, a server on it, the address attached,
availability, teardown. The twin runs at 600x so python-chi's 5-second polls find each step done.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chameleon_twin import inventory
from chameleon_twin.images import site_catalog
from chameleon_twin.server import TwinServer

pytestmark = pytest.mark.e2e
pytest.importorskip("chi", reason="python-chi is in the test extra")
WORKFLOW = Path(__file__).with_name("chi_workflow.py")
PUBLIC_KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFvYhuc2OagHf8Rdmw4S0PEvJ8Lz8HZjqTZlpFQGkbk5 chi-test\n")


@pytest.fixture(scope="module")
def fast_twin() -> Iterator[TwinServer]:
    with TwinServer(port=0, speed=600) as twin:
        yield twin


def run_workflow(twin: TwinServer, home: Path, site: str, node_type: str, image: str, *flags: str) -> dict:
    key = home / "id.pub"
    key.write_text(PUBLIC_KEY)
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "USER": "chi-tester", **twin.env(site)}
    proc = subprocess.run([sys.executable, str(WORKFLOW), site, node_type, image, str(key), *flags], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout)


@pytest.mark.parametrize(("site", "node_type", "image", "flags"), [
    ("CHI@UC", "compute_gigaio", "CC-Ubuntu24.04-CUDA", ("--by-name",)),  # doni-enrolled hosts, by $node_name
    ("CHI@TACC", "compute_skylake", "CC-Ubuntu24.04", ()),
    ("CHI@NCAR", "compute_zen5_grado", "CC-Ubuntu26.04", ()),
])
def test_python_chi_workflow(fast_twin: TwinServer, tmp_path: Path, site: str, node_type: str, image: str,
                             flags: tuple[str, ...]) -> None:
    seen = run_workflow(fast_twin, tmp_path, site, node_type, image, *flags)
    uid = inventory.SITES[site]
    assert (seen["region"], seen["project"]) == (site, "CHI-000000")
    assert {"CHI@UC", "CHI@TACC", "CHI@NCAR"} <= set(seen["sites"])
    nodes = [n for n in inventory.node_records(uid) if n["node_type"] == node_type]
    assert seen["nodes"] == len(nodes) and seen["reservable"]
    assert seen["node_types"] == sorted({n["node_type"] for n in inventory.node_records(uid)})
    assert seen["images"] == sorted(spec.name for spec in site_catalog(uid))
    assert seen["lease_status"] == "ACTIVE"
    if flags:
        assert seen["resource_properties"] == ["==", "$node_name", seen["node_name"]]
    else:
        assert seen["resource_properties"] == ["==", "$node_type", node_type]
    assert seen["server_status"] == "ACTIVE"
    assert len(seen["reserved_ips"]) == 1 and seen["server_ips"] == seen["reserved_ips"]
    assert seen["hypervisor_hostname"] in {n["uid"] for n in nodes}
    # Availability: the held node is busy until the lease ends and gone from the free list.
    assert seen["free_from"] == seen["lease_end"] and seen["free_until"] is None
    assert seen["held_node"] not in seen["still_free"] and len(seen["still_free"]) == len(nodes) - 1
    assert seen["leases_left"] == [] and seen["floating_ips_left"] == []
    state = fast_twin.state()["sites"][site]
    assert state["servers"] == [] and state["floating_ips"] == [] and state["blazar"]["leases"] == []
