"""Facts -> the hardware fields of Requirements: FPGA vendor and board, aarch64, spare NVMe devices, RDMA,
persistent memory. The signals come from hardware_signals; rules.decide calls `needs` and `describe`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chameleon_provision.repo_analyzer.facts import Fact

NEED = 0.6  # combined evidence at or above this makes a hardware need ...
FIRM = 0.5  # ... when one fact is at least this firm: optional branches and passing mentions never add up to one

# category -> Requirements field; signals.CATALOG gives each signal its category
_FIELDS = {"fpga": "fpga", "arm_only": "arch", "nvme": "local_nvme", "rdma": "rdma", "pmem": "persistent_memory"}
# Hardware that tests or benchmarks need is hardware the repository needs: aux files count almost fully.
_SCOPE = {"main": 1.0, "full": 0.8, "reduced": 0.8, "aux": 0.8}


def _score(facts: Sequence[Fact]) -> float:
    best: dict[tuple[str, str], float] = {}
    for f in facts:
        key = (f.signal, f.evidence.file)
        best[key] = max(best.get(key, 0.0), f.confidence * _SCOPE.get(f.scope, 0.0))
    miss = 1.0
    for value in best.values():
        miss *= 1.0 - min(0.99, value)
    return 1.0 - miss


def needs(facts: Sequence[Fact], category_of: Any) -> tuple[dict[str, Any], list[Fact]]:
    """The hardware fields of Requirements the facts establish, and the facts they rest on."""
    by: dict[str, list[Fact]] = {}
    for f in facts:
        if f.scope != "ignored" and f.confidence > 0:
            by.setdefault(category_of(f.signal), []).append(f)
    out: dict[str, Any] = {}
    used: list[Fact] = []
    for category, field in _FIELDS.items():
        found = by.get(category, [])
        if category == "arm_only" and by.get("x86_simd"):  # x86 intrinsics too: portable SIMD code
            found = [f for f in found if f.signal != "arch.arm_simd"]
        if not found or _score(found) < NEED or max(f.confidence * _SCOPE.get(f.scope, 0) for f in found) < FIRM:
            continue
        top = sorted(found, key=lambda f: -f.confidence)
        used += top[:2]
        if field == "fpga":
            vendors = {f.value for f in found if f.confidence >= 0.5}
            out["fpga"] = vendors.pop() if len(vendors) == 1 else "any"
            if boards := sorted(by.get("fpga_model", []), key=lambda f: -f.confidence):
                out["fpga_model"] = str(boards[0].value)
                used.append(boards[0])
        elif field == "arch":
            out["arch"] = "aarch64"
        elif field == "local_nvme":
            out["local_nvme"] = max([1, *(int(f.value) for f in found if isinstance(f.value, int))])
        else:
            out[field] = True
    return out, used


def describe(hardware: dict[str, Any], used: Sequence[Fact]) -> str:
    """"; needs a Xilinx U280 FPGA: v++ -t hw ... (Makefile:3)" for the rules' reason line."""
    if not hardware:
        return ""
    vendor = {"xilinx": "Xilinx", "intel": "Intel"}.get(str(hardware.get("fpga")), "an")
    parts = [{"fpga": " ".join(x for x in (vendor, hardware.get("fpga_model"), "FPGA") if x),
              "arch": "aarch64", "local_nvme": f"{hardware.get('local_nvme')} spare NVMe device(s)",
              "rdma": "RDMA (InfiniBand)", "persistent_memory": "persistent memory"}[k]
             for k in hardware if k != "fpga_model"]
    lead = used[0] if used else None
    where = f": {lead.evidence.text[:70]} ({lead.evidence.file}:{lead.evidence.line})" if lead else ""
    return f"; needs {', '.join(parts)}{where}"
