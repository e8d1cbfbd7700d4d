"""The decision record of a run, and the one JSON document (`--json`) it becomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chameleon_provision.cloud.key_manager import KeyDecision
from chameleon_provision.cloud.network_manager import AddressPlan
from chameleon_provision.models import ImageChoice, LeaseWindow, NodeChoice, Requirements
from chameleon_provision.setup.build import SetupScript

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class RepoInfo:
    source: str
    commit: str | None
    name: str


@dataclass(frozen=True)
class Cost:
    """Chameleon charges a lease hours x the su_factor of each host, checked up front at create."""

    su_per_hour: float
    hours: float

    @property
    def su_total(self) -> float:
        return round(self.su_per_hour * self.hours, 2)

    def as_dict(self) -> dict[str, float]:
        return {"su_per_hour": self.su_per_hour, "hours": self.hours, "su_total": self.su_total}


@dataclass(frozen=True)
class Plan:
    run_id: str
    repo: RepoInfo
    requirements: Requirements
    node: NodeChoice
    available_hosts: int
    image: ImageChoice
    lease: LeaseWindow
    key: KeyDecision
    address: AddressPlan
    cost: Cost
    notes: tuple[str, ...] = ()
    setup: SetupScript | None = None
    setup_reason: str = "not asked for"  # why there is no setup script (--no-setup, nothing to clone)


@dataclass
class Outcome:
    """What a real run created, filled in step by step."""

    lease_id: str | None = None
    reservation_id: str | None = None
    server: dict[str, str] = field(default_factory=dict)
    floating_ip: str | None = None
    ssh_command: str | None = None
    ssh_reachable: bool | None = None
    keypair: str | None = None
    identity: str | None = None  # the private key file, when the tool made or was given one
    setup: dict[str, Any] | None = None  # setup.follow.SetupOutcome as a dict


def requirements_doc(req: Requirements) -> dict[str, Any]:
    return {
        "gpu": {"required": req.gpu.required, "count": req.gpu.count, "min_memory_gb": req.gpu.min_memory_gb,
                "min_total_memory_gb": req.gpu.min_total_memory_gb, "vendor": req.gpu.vendor,
                "min_compute_capability": req.gpu.min_compute_capability},
        "fpga": req.fpga, "fpga_model": req.fpga_model, "local_nvme": req.local_nvme, "rdma": req.rdma,
        "persistent_memory": req.persistent_memory,
        "cpu_cores": req.cpu_cores, "ram_gb": req.ram_gb, "arch": req.arch, "os": req.os, "cuda": req.cuda,
        "frameworks": list(req.frameworks), "estimated_runtime_hours": req.estimated_runtime_hours,
        "evidence": [{"file": e.file, "line": e.line, "text": e.text, "signal": e.signal, "confidence": e.confidence}
                     for e in req.evidence],
        "confidence": req.confidence, "decided_by": req.decided_by, "reason": req.reason,
    }


def document(plan: Plan, mode: str, stats: dict[str, Any], outcome: Outcome | None = None) -> dict[str, Any]:
    hw = plan.node.hardware
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "run_id": plan.run_id,
        "mode": mode,
        "repo": {"source": plan.repo.source, "commit": plan.repo.commit},
        "requirements": requirements_doc(plan.requirements),
        "image": {"name": plan.image.image.name, "id": plan.image.image.id, "decided_by": plan.image.decided_by,
                  "reason": plan.image.reason},
        "resource": {
            "site": plan.node.site, "node_type": plan.node.node_type,
            "resource_properties": list(plan.node.resource_properties),
            "hardware": {"arch": hw.arch, "cpu_threads": hw.cpu_threads, "ram_gb": hw.ram_gb,
                         "gpu_vendor": hw.gpu_vendor, "gpu_model": hw.gpu_model or None, "gpu_count": hw.gpu_count,
                         "gpu_memory_gb": hw.gpu_memory_gb or None,
                         "gpu_compute_capability": hw.gpu_compute_capability, "fpga": hw.fpga or None,
                         "nvme_count": hw.nvme_count, "nvme_spare": hw.nvme_spare, "infiniband": hw.infiniband,
                         "nvdimm": hw.nvdimm},
            "available_hosts": plan.available_hosts, "decided_by": plan.node.decided_by, "reason": plan.node.reason,
        },
        "lease": {"start": plan.lease.start, "end": plan.lease.end, "hours": plan.lease.hours,
                  "decided_by": plan.lease.decided_by, "reason": plan.lease.reason},
        "keypair": {"name": plan.key.keypair_name, "action": plan.key.action, "reason": plan.key.reason},
        "floating_ip_plan": {"action": plan.address.action, "address": plan.address.address},
        "cost": plan.cost.as_dict(),
        "notes": list(plan.notes),
        "setup": plan.setup.as_dict() if plan.setup else {"enabled": False, "reason": plan.setup_reason},
    }
    if outcome is not None:
        doc["lease"]["id"] = outcome.lease_id
        doc["reservation_id"] = outcome.reservation_id
        doc["server"] = outcome.server or None
        doc["floating_ip"] = outcome.floating_ip
        doc["ssh_command"] = outcome.ssh_command
        doc["ssh_reachable"] = outcome.ssh_reachable
        doc["setup"]["outcome"] = outcome.setup
    doc["stats"] = stats
    return doc
