"""Chameleon's real CHI@UC, CHI@TACC and CHI@NCAR hardware, expanded from the compact data/inventory.json.

The JSON keeps, per site and node type, the real count, CPU, sockets, threads, RAM, disks, NICs,
chassis and GPU, plus the "variants" where a type mixes hardware (UC compute_gigaio: 7 nodes with
one A100 80GB and 1 without a GPU). This module turns that into:

- discovery-format node records (what api.chameleoncloud.org serves, with `version` and `links`);
- Blazar os-hosts records, one per node, whose `hypervisor_hostname` is the node `uid`, in the two
  generations real Blazar holds (docs/twin.md, "Blazar host records"):
  * old hosts, enrolled before doni: the node record flattened with dots and stringified, `uid`
    included, with the GPU facts as the record held them then (short names such as "RTX 6000");
  * doni-enrolled hosts (types marked `"blazar_record": "doni"`): only node_name, node_type,
    cpu_arch, su_factor and placement.* besides Blazar's own columns, and a UUID id.

Everything is deterministic: uids are uuid5 of "site/node_name"; serials and MACs are hashes of
the uid. Serials, MACs and per-node BIOS dates are invented; the hardware facts are real.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from functools import cache
from importlib import resources
from typing import Any

SITES: dict[str, str] = {"CHI@UC": "uc", "CHI@TACC": "tacc", "CHI@NCAR": "ncar"}

_NODE_NAMESPACE = uuid.UUID("5b0f6a2e-3c1d-4e8a-9f27-6c1a0d4b7e93")  # fixed: uids must never change
_HOST_NAMESPACE = uuid.UUID("9d3c1f4e-8a2b-4c6d-b1e0-7f5a3c2d9e84")  # doni-enrolled Blazar host ids
_HOST_CREATED_AT = "2024-06-05 22:41:51"
_HOST_UPDATED_AT = "2024-09-07 18:04:34"


@cache
def _data() -> dict[str, Any]:
    text = resources.files("chameleon_twin").joinpath("data/inventory.json").read_text("utf-8")
    return json.loads(text)


def version() -> str:
    """The inventory's git sha, which the discovery API reports as `version` everywhere."""
    return str(_data()["version"])


def gpu_memory_gb(model: str) -> int:
    """Memory per GPU for a PCI model name found in the inventory (0 when unknown)."""
    return int(_data()["gpu_memory_gb"].get(model, 0))


def _site(site_uid: str) -> dict[str, Any]:
    sites = _data()["sites"]
    if site_uid not in sites:
        raise KeyError(f"unknown site {site_uid!r}; the twin has {sorted(sites)}")
    return sites[site_uid]


def _hash(*parts: str) -> bytes:
    return hashlib.sha256("/".join(parts).encode()).digest()


def _serial(uid: str, salt: str, length: int = 7) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    return "".join(alphabet[b % len(alphabet)] for b in _hash(uid, salt)[:length])


def _mac(uid: str, index: int) -> str:
    raw = bytearray(_hash(uid, "nic", str(index))[:6])
    raw[0] = (raw[0] & 0xFC) | 0x02  # locally administered, unicast: clearly not a vendor's address
    return ":".join(f"{b:02x}" for b in raw)


def _names(spec: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(node_name, rack) for each node of a type, in name order."""
    out: list[tuple[str, str | None]] = []
    for prefix, first, count, digits, rack in spec["names"]:
        out.extend((f"{prefix}{n:0{digits}d}", rack) for n in range(first, first + count))
    return out


def _layouts(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-node hardware of a type: the type's fields with each node's variant applied."""
    base = {k: spec.get(k) for k in ("threads", "gpu", "disks", "infiniband", "fpga", "admin_note", "nics")}
    layouts: list[dict[str, Any]] = []
    for count, overrides in spec.get("variants") or [[spec["count"], {}]]:
        layouts.extend([{**base, **overrides}] * count)
    return layouts


def _storage(uid: str, disks: list[list[Any]], bare: bool = False) -> list[dict[str, Any]]:
    """Disk records; `bare` ones carry only device, model and size, as some older records do."""
    devices: list[dict[str, Any]] = []
    counters = {"nvme": 0, "sd": 0}
    for count, interface, media, model, gb, *exact in disks:
        size = exact[0] if exact else gb * 10**9
        for _ in range(count):
            if interface == "PCIe":
                device = f"nvme{counters['nvme']}n1"
                counters["nvme"] += 1
            else:
                device = "sd" + chr(ord("a") + counters["sd"])
                counters["sd"] += 1
            if bare:
                devices.append({"device": device, "model": model, "size": size})
                continue
            devices.append({"device": device, "humanized_size": f"{gb} GB", "interface": interface,
                            "media_type": media, "model": model,
                            "serial": _serial(uid, f"disk{len(devices)}", 14), "size": size})
    return devices


def _nic(uid: str, index: int, nic: list[Any]) -> dict[str, Any]:
    dev, driver, model, vendor, gbit, iface, *enabled = nic
    record = {"device": dev, "driver": driver, "enabled": enabled[0] if enabled else True, "interface": iface,
              "mac": _mac(uid, index), "model": model, "vendor": vendor, **({"rate": gbit * 10**9} if gbit else {})}
    return dict(sorted(record.items()))


def _node(site_uid: str, node_type: str, spec: dict[str, Any], name: str, rack: str | None,
          layout: dict[str, Any]) -> dict[str, Any]:
    uid = str(uuid.uuid5(_NODE_NAMESPACE, f"{site_uid}/{name}"))
    cpu = spec["cpu"]
    gpu_spec = layout["gpu"]
    gpu: dict[str, Any] = {"gpu": False}
    if gpu_spec:
        vendor, model, count = gpu_spec
        gpu = {"gpu": True, "gpu_count": count, "gpu_model": model, "gpu_vendor": vendor}
    if rack is None and (m := re.match(r"^c(\d+)-", name)):
        rack = str(int(m.group(1)))  # TACC names are c<rack>-<slot>
    # Fields some real records lack (NCAR's) are left out rather than filled with invented values.
    memory: dict[str, Any] = {"ram_size": spec["ram_gib"] * 2**30}
    if spec.get("humanized_ram", True):
        memory["humanized_ram_size"] = f"{spec['ram_gib']} GiB"
    manufacturer, chassis_name = spec["chassis"]
    chassis = {"manufacturer": manufacturer, "name": chassis_name, "serial": _serial(uid, "chassis")}
    if manufacturer is None:  # named by model only, as NCAR's zen5 records are
        del chassis["manufacturer"]
    if not spec.get("chassis_serial", True):
        del chassis["serial"]
    caches = dict(zip(("cache_l1d", "cache_l1i", "cache_l2", "cache_l3"), cpu["caches"], strict=True))
    processor = {**{k: v for k, v in caches.items() if v is not None}, "clock_speed": cpu["clock_hz"],
                 "instruction_set": cpu["isa"], "model": cpu["model"], "vendor": cpu["vendor"]}
    bios = {k: v for k, v in zip(("vendor", "version", "release_date"), spec["bios"], strict=True) if v is not None}
    node: dict[str, Any] = {
        "architecture": {"platform_type": spec["arch"], "smp_size": spec["sockets"], "smt_size": layout["threads"]},
        "bios": dict(sorted(bios.items())),
        "chassis": dict(sorted(chassis.items())),
        "main_memory": dict(sorted(memory.items())),
        "monitoring": {"wattmeter": False},
        "network_adapters": [_nic(uid, i, nic) for i, nic in enumerate(layout["nics"])],
        "node_name": name,
        "node_type": node_type,
        "processor": processor,
        "storage_devices": _storage(uid, layout["disks"], bare=spec.get("disk_style") == "bare"),
        "supported_job_types": {"besteffort": False, "deploy": True, "virtual": "ivt"},
        "type": "node",
        "uid": uid,
    }
    if spec.get("gpu_key", True):  # NCAR's records have no `gpu` key at all
        node["gpu"] = gpu
    if spec.get("boot_mode"):
        node["boot_mode"] = spec["boot_mode"]
    # Optional keys appear only where the real records have them.
    if layout["infiniband"] is not None:
        node["infiniband"] = layout["infiniband"]
    if layout["fpga"]:
        node["fpga"] = dict(layout["fpga"])
    if layout["admin_note"]:
        node["admin_note"] = layout["admin_note"]
    if rack is not None:
        digits = re.search(r"(\d+)$", name)
        node["placement"] = {"node": str(int(digits.group(1))) if digits else "1", "rack": rack}
    elif spec.get("placement") == "empty":
        node["placement"] = {}
    return dict(sorted(node.items()))


def node_links(site_uid: str, uid: str) -> list[dict[str, str]]:
    base = f"/sites/{site_uid}/clusters/chameleon/nodes/{uid}"
    return [{"rel": "self", "href": base}, {"rel": "parent", "href": f"/sites/{site_uid}/clusters/chameleon"},
            {"rel": "versions", "href": f"{base}/versions"}, {"rel": "version", "href": f"{base}/versions/{version()}"}]


@cache
def _node_records(site_uid: str) -> tuple[dict[str, Any], ...]:
    nodes: list[dict[str, Any]] = []
    for node_type, spec in _site(site_uid)["types"].items():
        for (name, rack), layout in zip(_names(spec), _layouts(spec), strict=True):
            node = _node(site_uid, node_type, spec, name, rack, layout)
            node["version"] = version()
            node["links"] = node_links(site_uid, node["uid"])
            nodes.append(node)
    return tuple(nodes)


def node_records(site_uid: str) -> list[dict[str, Any]]:
    """Every node of a site in discovery format (fresh copies: callers may mutate them)."""
    return copy.deepcopy(list(_node_records(site_uid)))


def site_records() -> list[dict[str, Any]]:
    """The twin's sites as the discovery API's /sites items."""
    out = []
    for uid in sorted(_data()["sites"]):
        rec = dict(_site(uid)["site"])
        rec["version"] = version()
        rec["links"] = [{"rel": "self", "href": f"/sites/{uid}"}, {"rel": "parent", "href": "/"},
                        {"rel": "clusters", "href": f"/sites/{uid}/clusters"},
                        {"rel": "versions", "href": f"/sites/{uid}/versions"},
                        {"rel": "version", "href": f"/sites/{uid}/versions/{version()}"}]
        out.append(rec)
    return out


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """A node record as Blazar extra capabilities: dotted keys, every value a string ("True", "48")."""
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list):
        out = {}
        for i, item in enumerate(value):
            out.update(flatten(item, f"{prefix}.{i}"))
        return out
    return {prefix: "" if value is None else str(value)}


def _legacy_gpu(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, str]:
    """An old host's gpu.* capabilities: what the reference record said when Blazar last copied it."""
    legacy = spec.get("blazar_gpu")
    if not legacy or not (node.get("gpu") or {}).get("gpu"):
        return {k: v for k, v in flatten(node).items() if k.startswith("gpu.")}
    record = {k: node["gpu"]["gpu_model"] if v == "$pci" else v for k, v in legacy.items()}
    return flatten({"gpu": record})


def _columns(site: dict[str, Any], site_uid: str, node: dict[str, Any], host_id: str, created_at: str,
             su_factor: str) -> dict[str, Any]:
    """Blazar's ComputeHost columns plus the keys every host carries."""
    return {
        "availability_zone": "",
        "cpu_arch": node["architecture"]["platform_type"],
        "cpu_info": "",
        "created_at": created_at,
        "disabled": False,
        "hypervisor_hostname": node["uid"],
        "hypervisor_type": "ironic",
        "hypervisor_version": 1,
        "id": host_id,
        "local_gb": 0,
        "memory_mb": 0,
        "node_name": node["node_name"],
        "node_type": node["node_type"],
        "reservable": True,
        "service_name": site["blazar_service_name"],
        "status": "",
        "su_factor": su_factor,
        "trust_id": _hash(site_uid, "trust").hex()[:32],
        "updated_at": _HOST_UPDATED_AT,
        "vcpus": 0,
    }


def blazar_hosts(site_uid: str) -> list[dict[str, Any]]:
    """Blazar os-hosts records for a site: old hosts first (ids "1", "2", ... in node order), then the
    doni-enrolled ones (UUID ids, in the order they were enrolled), as Blazar's table holds them."""
    site = _site(site_uid)
    old: list[dict[str, Any]] = []
    doni: list[tuple[str, dict[str, Any]]] = []
    for node in _node_records(site_uid):
        spec = site["types"][node["node_type"]]
        if spec.get("blazar_record") == "doni":
            host_id = str(uuid.uuid5(_HOST_NAMESPACE, f"{site_uid}/{node['uid']}"))
            host = _columns(site, site_uid, node, host_id, spec["blazar_created_at"], spec["su_factor"])
            host["availability_zone"] = "nova"  # as on the doni-made record of gigaio01
            host["updated_at"] = spec["blazar_created_at"]
            # doni writes node_name, node_type, cpu_arch, su_factor and placement; nothing else.
            for key, value in (node.get("placement") or {}).items():
                if value not in (None, ""):
                    host[f"placement.{key}"] = str(value)
            doni.append((spec["blazar_created_at"], dict(sorted(host.items()))))
            continue
        raw = {k: v for k, v in node.items() if k not in ("version", "links", "gpu")}
        host = flatten(raw)
        host.update(_legacy_gpu(spec, node))
        host.update(_columns(site, site_uid, node, str(len(old) + 1), _HOST_CREATED_AT, spec["su_factor"]))
        old.append(dict(sorted(host.items())))
    return old + [host for _, host in sorted(doni, key=lambda pair: pair[0])]
