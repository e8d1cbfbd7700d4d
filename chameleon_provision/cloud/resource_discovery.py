"""Hardware facts from Chameleon's resource discovery API, joined with Blazar's hosts and allocations.

The API is public and unauthenticated; its node records are the reference-repository's raw
records (see reference/chameleon.md §1). Blazar knows which of those nodes are reservable and
when they are busy; the two are joined on node uid == Blazar hypervisor_hostname.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from chameleon_provision.decisions.gpu_models import compute_capability, gpu_memory_gb, normalise_vendor
from chameleon_provision.errors import DiscoveryError
from chameleon_provision.models import NodeRecord

log = logging.getLogger(__name__)

PAGE_LIMIT = 500  # the API's default and maximum page size
BLAZAR_DATE = "%Y-%m-%dT%H:%M:%S.%f"


def site_uid(region: str) -> str:
    """CHI@UC -> uc, the way python-chi builds the nodes URL."""
    return region.split("@", 1)[-1].lower()


def _gib(num_bytes: Any) -> int:
    try:
        return round(int(num_bytes) / 2**30)
    except (TypeError, ValueError):
        return 0


def _is_nvme(disk: Mapping[str, Any]) -> bool:
    return disk.get("interface") == "PCIe" or str(disk.get("device") or "").startswith("nvme")


def _nvme(disks: Sequence[Any]) -> tuple[int, int]:
    """(NVMe devices, NVMe devices besides the system disk): with no SATA/SAS disk the OS sits on an NVMe."""
    devices = [d for d in disks if isinstance(d, Mapping)]
    nvme = sum(1 for d in devices if _is_nvme(d))
    return nvme, nvme - 1 if nvme and nvme == len(devices) else nvme


def _infiniband(record: Mapping[str, Any]) -> bool:
    # The record's own flag or an InfiniBand adapter; TACC's compute_haswell_ib records carry neither, but
    # Chameleon names the type for its InfiniBand fabric (reference/chameleon.md, node types).
    adapters = record.get("network_adapters") or []
    return (record.get("infiniband") is True or str(record.get("node_type", "")).endswith("_ib")
            or any(isinstance(a, Mapping) and a.get("interface") == "InfiniBand" for a in adapters))


def _fpga(record: Mapping[str, Any]) -> str:
    fpga = record.get("fpga") or {}
    if not isinstance(fpga, Mapping):
        return ""
    return " ".join(str(fpga[k]) for k in ("board_vendor", "board_model") if fpga.get(k))


def parse_node(record: Mapping[str, Any], site: str) -> NodeRecord:
    """Reduce a raw node record to the facts decisions use; tolerant of the fields some nodes lack."""
    arch = record.get("architecture") or {}
    cpu = record.get("processor") or {}
    gpu = record.get("gpu") or {}
    if isinstance(gpu, list):  # python-chi accepts a list of GPU dicts; take the first
        gpu = gpu[0] if gpu else {}
    has_gpu = bool(gpu.get("gpu"))
    model = str(gpu.get("gpu_model") or "") if has_gpu else ""
    disks = record.get("storage_devices") or []
    nvme, spare = _nvme(disks)
    cpu_model = str(cpu.get("model") or "")
    if cpu_model in ("", "Intel Xeon") and cpu.get("other_description"):
        cpu_model = str(cpu["other_description"])
    return NodeRecord(
        site=site,
        uid=str(record.get("uid", "")),
        node_name=str(record.get("node_name", "")),
        node_type=str(record.get("node_type", "")),
        arch=str(arch.get("platform_type") or "x86_64"),
        cpu_model=cpu_model,
        cpu_threads=int(arch.get("smt_size") or 0),
        ram_gb=_gib((record.get("main_memory") or {}).get("ram_size")),
        gpu_vendor=normalise_vendor(gpu.get("gpu_vendor"), model) if has_gpu else "none",
        gpu_model=model,
        gpu_count=int(gpu.get("gpu_count") or (1 if has_gpu else 0)),
        gpu_memory_gb=gpu_memory_gb(model) if has_gpu else 0,
        disk_gb=round(int((disks[0] or {}).get("size") or 0) / 1e9) if disks else 0,
        infiniband=_infiniband(record),
        fpga=_fpga(record),
        nvme_count=nvme,
        nvme_spare=spare,
        nvdimm="nvdimm" in str(record.get("node_type", "")),  # the records state no NVDIMM field; the type does
        gpu_compute_capability=compute_capability(model) if has_gpu and "nvidia" in str(
            gpu.get("gpu_vendor") or "nvidia").lower() else None,
    )


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return exc.response.status_code in (429, 502, 503, 504)
    return isinstance(exc, requests.ConnectionError | requests.Timeout)


class DiscoveryClient:
    """Reads the resource discovery API; every request has a timeout and transient errors retry."""

    def __init__(self, base_url: str, *, timeout: float = 20.0, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.calls = 0

    @retry(retry=retry_if_exception(_retryable), stop=stop_after_attempt(3),
           wait=wait_exponential(multiplier=0.2, max=2), reraise=True)
    def _get_once(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        self.calls += 1
        resp = self.session.get(f"{self.base_url}{path}", params=params, timeout=self.timeout)
        resp.raise_for_status()
        return resp.json()

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        url = f"{self.base_url}{path}"
        try:
            return self._get_once(path, params)
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            raise DiscoveryError(f"resource discovery API answered {status} for GET {url}") from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise DiscoveryError(f"cannot reach the resource discovery API at {url}",
                                 hint="check CHAMELEON_API_URL") from exc
        except ValueError as exc:
            raise DiscoveryError(f"resource discovery API returned non-JSON for GET {url}") from exc

    def sites(self) -> list[dict[str, Any]]:
        return list(self._get("/sites").get("items", []))

    def node_records(self, region: str) -> list[dict[str, Any]]:
        """Every raw node record of a site, following offset/limit paging."""
        path = f"/sites/{site_uid(region)}/clusters/chameleon/nodes"
        items: list[dict[str, Any]] = []
        while True:
            page = self._get(path, {"offset": len(items), "limit": PAGE_LIMIT})
            batch = page.get("items", [])
            items.extend(batch)
            if not batch or len(items) >= int(page.get("total", len(items))):
                return items

    def nodes(self, region: str) -> list[NodeRecord]:
        return [parse_node(r, region) for r in self.node_records(region)]


@dataclass(frozen=True)
class BlazarHost:
    id: str
    hypervisor_hostname: str
    node_type: str
    reservable: bool
    uid: str = ""
    node_name: str = ""
    su_factor: float = 1.0  # service units per hour of this host (Chameleon's default is 1.0)

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> BlazarHost:
        def flag(name: str, default: bool) -> bool:  # Blazar sends capabilities as "True"/"False" strings
            value = rec.get(name, default)
            return value.lower() == "true" if isinstance(value, str) else bool(value)

        try:
            su_factor = float(rec.get("su_factor") or 1.0)
        except (TypeError, ValueError):
            su_factor = 1.0
        return cls(id=str(rec.get("id", "")), hypervisor_hostname=str(rec.get("hypervisor_hostname", "")),
                   node_type=str(rec.get("node_type", "")),
                   reservable=flag("reservable", True) and not flag("disabled", False), uid=str(rec.get("uid", "")),
                   node_name=str(rec.get("node_name") or ""), su_factor=su_factor)


def reservable_nodes(nodes: Iterable[NodeRecord], hosts: Iterable[BlazarHost]) -> list[tuple[NodeRecord, BlazarHost]]:
    """Pairs of node and Blazar host for nodes Blazar can reserve.

    The discovery API's uid is Blazar's hypervisor_hostname; older hosts also carry it as `uid`, and every
    host carries `node_name` (doni-enrolled ones have nothing else), so the join falls back to the name.
    """
    by_uid: dict[str, BlazarHost] = {}
    by_node_name: dict[str, BlazarHost] = {}
    for host in hosts:
        by_uid[host.hypervisor_hostname] = host
        if host.uid:
            by_uid.setdefault(host.uid, host)
        if host.node_name:
            by_node_name.setdefault(host.node_name, host)
    pairs = [(n, by_uid.get(n.uid) or by_node_name.get(n.node_name)) for n in nodes]
    return [(n, h) for n, h in pairs if h is not None and h.reservable]


def _parse_date(value: str) -> datetime:
    value = value.replace("Z", "")
    for fmt in (BLAZAR_DATE, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    raise DiscoveryError(f"unreadable Blazar date {value!r}")


def busy_host_ids(allocations: Sequence[Mapping[str, Any]], start: datetime, end: datetime) -> set[str]:
    """Blazar host ids with a reservation overlapping [start, end) (one allocations query, not one per host).

    Allocations without dates (upstream Blazar) count as busy: we cannot prove they are free.
    """
    busy: set[str] = set()
    for alloc in allocations:
        for res in alloc.get("reservations") or []:
            s, e = res.get("start_date"), res.get("end_date")
            if not s or not e or (_parse_date(s) < end and _parse_date(e) > start):
                busy.add(str(alloc.get("resource_id")))
    return busy


def next_free(allocations: Sequence[Mapping[str, Any]], host_ids: Iterable[str], after: datetime) -> datetime | None:
    """The earliest time one of `host_ids` has no reservation (None when unknown)."""
    wanted = {str(h) for h in host_ids}
    ends: dict[str, datetime] = {}
    for alloc in allocations:
        rid = str(alloc.get("resource_id"))
        if rid not in wanted:
            continue
        for res in alloc.get("reservations") or []:
            if res.get("end_date"):
                end = _parse_date(res["end_date"])
                if end > after:
                    ends[rid] = max(ends.get(rid, after), end)
    if not wanted:
        return None
    free_now = wanted - set(ends)
    return after if free_now else min(ends.values(), default=None)
