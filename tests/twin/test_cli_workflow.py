"""Acceptance: the real, unmodified `openstack` CLI provisions bare metal on the twin, at both sites.

Every step is a real CLI process talking HTTP to an in-process TwinServer at the default speed
(leases ACTIVE in ~1 s, servers ACTIVE in ~10 s). Nothing is mocked.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import struct
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import Openstack, admin, ok

from chameleon_provision.cloud.openstack_cli import decode_listish, parse_json_output
from chameleon_twin import inventory
from chameleon_twin.clock import SERVER_BOOT_SECONDS
from chameleon_twin.images import site_catalog
from chameleon_twin.server import TwinServer

pytestmark = pytest.mark.e2e
NO_VALID_HOST = "No valid host was found. There are not enough hosts available."


def public_key_file(directory: Path) -> tuple[Path, str]:
    """An ed25519 public key file and the MD5 fingerprint Nova should report for it."""
    key = directory / "id_twin"
    if shutil.which("ssh-keygen"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "twin-test", "-f", str(key)], check=True)
        blob = base64.b64decode(key.with_suffix(".pub").read_text().split()[1])
    else:  # the OpenSSH wire format: length-prefixed key type, then length-prefixed 32-byte key
        blob = struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", 32) + os.urandom(32)
        key.with_suffix(".pub").write_text(f"ssh-ed25519 {base64.b64encode(blob).decode()} twin-test\n")
    digest = hashlib.md5(blob).hexdigest()
    return key.with_suffix(".pub"), ":".join(digest[i:i + 2] for i in range(0, 32, 2))


def poll(fetch: Callable[[], dict], done: Callable[[dict], bool], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def end_date(days: float = 1) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%d %H:%M")


def host_reservation(openstack: Openstack, site: str, node_type: str, name: str) -> tuple[str, str]:
    """Lease one node of a type, wait for ACTIVE, return (lease id, physical:host reservation id)."""
    rc, out, err = openstack("reservation", "lease", "create", "--reservation",
                             "min=1,max=1,resource_type=physical:host,"
                             f'resource_properties=["==","$node_type","{node_type}"]',
                             "--end-date", end_date(), name, site=site)
    assert rc == 0, err
    assert out.startswith("Created a new lease:")
    lease = parse_json_output(out, command="reservation lease create")
    assert lease["status"] == "PENDING" and lease["name"] == name
    lease = poll(lambda: ok(openstack("reservation", "lease", "show", lease["id"], site=site)),
                 lambda item: item["status"] in ("ACTIVE", "ERROR"), timeout=30)
    assert lease["status"] == "ACTIVE"
    hosts = [r for r in decode_listish(lease["reservations"]) if r["resource_type"] == "physical:host"]
    assert len(hosts) == 1 and hosts[0]["status"] == "active"
    return lease["id"], hosts[0]["id"]


def nodes_of(site_uid: str, node_type: str) -> set[str]:
    return {h["hypervisor_hostname"] for h in inventory.blazar_hosts(site_uid) if h["node_type"] == node_type}


def assert_nothing_left(openstack: Openstack, twin: TwinServer, site: str) -> None:
    assert ok(openstack("reservation", "lease", "list", site=site)) == []
    state = admin(twin, "GET", "state")["sites"][site]
    assert state["servers"] == [] and state["floating_ips"] == [] and state["ports"] == []
    assert state["keypairs"] == []
    assert state["blazar"]["leases"] == [] and state["blazar"]["claims"] == {}


def test_uc_gpu_workflow(twin: TwinServer, openstack: Openstack, tmp_path: Path) -> None:
    token = ok(openstack("token", "issue"))
    assert set(token) == {"expires", "id", "project_id", "user_id"}

    names = {image["Name"] for image in ok(openstack("image", "list"))}
    assert {spec.name for spec in site_catalog("uc")} == names
    assert [f["Name"] for f in ok(openstack("flavor", "list"))] == ["baremetal"]
    sharednet = ok(openstack("network", "show", "sharednet1"))
    assert sharednet["shared"] is True and sharednet["router:external"] is False and sharednet["subnets"]
    public = ok(openstack("network", "show", "public"))
    assert public["router:external"] is True

    hosts = ok(openstack("reservation", "host", "list", "-c", "id", "-c", "hypervisor_hostname", "-c", "node_type"))
    assert len(hosts) == len(inventory.blazar_hosts("uc"))
    assert any(h["node_type"] == "gpu_rtx_6000" for h in hosts)

    key_file, fingerprint = public_key_file(tmp_path)
    keypair = ok(openstack("keypair", "create", "--public-key", str(key_file), "uc-key"))
    assert keypair["name"] == "uc-key" and keypair["fingerprint"] == fingerprint

    lease_id, reservation = host_reservation(openstack, "CHI@UC", "gpu_rtx_6000", "uc-lease")

    created = ok(openstack("server", "create", "--flavor", "baremetal", "--image", "CC-Ubuntu22.04-CUDA",
                           "--network", "sharednet1", "--key-name", "uc-key", "--hint",
                           f"reservation={reservation}", "uc-server"))
    assert created["status"] == "BUILD" and created["adminPass"]
    server = poll(lambda: ok(openstack("server", "show", created["id"])),
                  lambda s: s["status"] != "BUILD")
    assert server["status"] == "ACTIVE", server.get("fault")
    assert server["OS-EXT-SRV-ATTR:hypervisor_hostname"] in nodes_of("uc", "gpu_rtx_6000")
    assert server["image"].startswith("CC-Ubuntu22.04-CUDA (") and server["key_name"] == "uc-key"
    assert server["progress"] == 0

    fip = ok(openstack("floating", "ip", "create", "public"))
    assert fip["floating_ip_address"].startswith("192.5.87.") and fip["port_id"] is None
    assert ok(openstack("server", "add", "floating", "ip", "uc-server", fip["floating_ip_address"],
                        fmt=False)) is None
    addresses = ok(openstack("server", "show", "uc-server", "-c", "addresses"))["addresses"]
    assert fip["floating_ip_address"] in addresses["sharednet1"]

    # More gpu_rtx_6000 nodes than CHI@UC has: Blazar refuses, nothing is created.
    count = len(nodes_of("uc", "gpu_rtx_6000")) + 1
    rc, out, err = openstack("reservation", "lease", "create", "--reservation",
                             f"min={count},max={count},resource_type=physical:host,"
                             'resource_properties=["==","$node_type","gpu_rtx_6000"]',
                             "--end-date", end_date(), "too-big")
    assert rc == 1 and out == "" and err.startswith("ERROR: Not enough resources")

    # A reservation id Blazar never issued: the server fails scheduling and never becomes ACTIVE.
    doomed = ok(openstack("server", "create", "--flavor", "baremetal", "--image", "CC-Ubuntu22.04",
                          "--network", "sharednet1", "--key-name", "uc-key", "--hint",
                          "reservation=2c1d5b0e-0000-4000-8000-000000000000", "uc-doomed"))
    doomed = poll(lambda: ok(openstack("server", "show", doomed["id"])), lambda s: s["status"] != "BUILD")
    assert doomed["status"] == "ERROR"
    assert doomed["fault"]["message"] == NO_VALID_HOST and doomed["fault"]["code"] == 500

    assert ok(openstack("server", "delete", "uc-server", "uc-doomed", fmt=False)) is None
    assert ok(openstack("floating", "ip", "delete", fip["floating_ip_address"], fmt=False)) is None
    rc, out, err = openstack("reservation", "lease", "delete", lease_id, fmt=False)
    assert rc == 0 and out.strip() == f"Deleted lease: {lease_id}", err
    assert ok(openstack("keypair", "delete", "uc-key", fmt=False)) is None
    assert_nothing_left(openstack, twin, "CHI@UC")


def test_tacc_cpu_workflow(twin: TwinServer, openstack: Openstack, tmp_path: Path) -> None:
    site = "CHI@TACC"
    key_file, _ = public_key_file(tmp_path)
    ok(openstack("keypair", "create", "--public-key", str(key_file), "tacc-key", site=site))
    lease_id, reservation = host_reservation(openstack, site, "compute_skylake", "tacc-lease")

    created = ok(openstack("server", "create", "--flavor", "baremetal", "--image", "CC-Ubuntu22.04",
                           "--network", "sharednet1", "--key-name", "tacc-key", "--hint",
                           f"reservation={reservation}", "tacc-server", site=site))
    assert created["status"] == "BUILD"
    fip = ok(openstack("floating", "ip", "create", "public", site=site))["floating_ip_address"]
    assert fip.startswith("129.114.")
    ok(openstack("server", "add", "floating", "ip", "tacc-server", fip, site=site, fmt=False))
    # Skip the ten-minute deploy instead of polling through it.
    admin(twin, "POST", "clock/advance", {"seconds": SERVER_BOOT_SECONDS})
    server = ok(openstack("server", "show", created["id"], site=site))
    assert server["status"] == "ACTIVE"
    assert server["OS-EXT-SRV-ATTR:hypervisor_hostname"] in nodes_of("tacc", "compute_skylake")
    assert fip in server["addresses"]["sharednet1"]

    # gpu_rtx_6000 exists only at CHI@UC.
    rc, out, err = openstack("reservation", "lease", "create", "--reservation",
                             'min=1,max=1,resource_type=physical:host,resource_properties=["==","$node_type",'
                             '"gpu_rtx_6000"]', "--end-date", end_date(), "no-rtx-here", site=site)
    assert rc == 1 and out == "" and err.startswith("ERROR: Not enough resources")

    ok(openstack("server", "delete", "tacc-server", site=site, fmt=False))
    ok(openstack("floating", "ip", "delete", fip, site=site, fmt=False))
    ok(openstack("reservation", "lease", "delete", lease_id, site=site, fmt=False))
    ok(openstack("keypair", "delete", "tacc-key", site=site, fmt=False))
    assert_nothing_left(openstack, twin, site)


def test_wrong_password_is_refused(twin: TwinServer, openstack: Openstack) -> None:
    rc, out, err = openstack("image", "list", env={**twin.env(), "OS_PASSWORD": "not-the-password"})
    assert rc == 1 and out == ""
    assert "The request you have made requires authentication. (HTTP 401)" in err


def test_application_credential_works_only_at_its_site(twin: TwinServer, openstack: Openstack) -> None:
    token = ok(openstack("token", "issue", env=twin.env("CHI@TACC", auth="appcred")))
    assert token["project_id"]
    elsewhere = {**twin.env("CHI@TACC", auth="appcred"), "OS_AUTH_URL": twin.env("CHI@UC")["OS_AUTH_URL"],
                 "OS_REGION_NAME": "CHI@UC"}
    rc, _, err = openstack("token", "issue", env=elsewhere)
    assert rc == 1 and "(HTTP 401)" in err


def test_injected_503_surfaces_as_the_cli_error(twin: TwinServer, openstack: Openstack) -> None:
    admin(twin, "POST", "faults", {"method": "GET", "path": "/uc/compute/v2.1/os-keypairs", "status": 503})
    rc, out, err = openstack("keypair", "list")
    assert rc == 1 and out == ""
    assert "HttpException: 503: Server Error for url" in err and "Service Unavailable" in err
    assert admin(twin, "GET", "faults")["faults"] == []  # used up: the next call works
    assert ok(openstack("keypair", "list")) == []


def test_exhausted_node_type_refuses_a_lease(twin: TwinServer, openstack: Openstack) -> None:
    made = admin(twin, "POST", "sites/CHI@UC/exhaust", {"node_type": "compute_cascadelake_r"})
    assert made["hosts"] == len(nodes_of("uc", "compute_cascadelake_r"))
    rc, out, err = openstack("reservation", "lease", "create", "--reservation",
                             'min=1,max=1,resource_type=physical:host,resource_properties=["==","$node_type",'
                             '"compute_cascadelake_r"]', "--end-date", end_date(), "none-left")
    assert rc == 1 and out == "" and err.startswith("ERROR: Not enough resources")


def test_exhausted_floating_ip_pool_is_a_neutron_409(twin: TwinServer, openstack: Openstack) -> None:
    admin(twin, "POST", "sites/uc/floatingips/exhaust")
    rc, _, err = openstack("floating", "ip", "create", "public")
    assert rc == 1 and "ConflictException: 409" in err and "No more IP addresses available on network" in err


def test_interactive_mode_runs_several_commands_in_one_process(twin: TwinServer, openstack: Openstack) -> None:
    rc, out, _ = openstack(fmt=False, stdin="image list -f json\nflavor list -f json\n")
    assert rc == 1  # cliff's interactive mode always exits 1 (openstack-cli.md §5)
    first_end = out.index("]") + 1
    images, flavors = (parse_json_output(part, command="interactive") for part in (out[:first_end], out[first_end:]))
    assert len(images) == len(site_catalog("uc")) and flavors[0]["Name"] == "baremetal"
