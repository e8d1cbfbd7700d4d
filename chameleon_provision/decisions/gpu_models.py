"""GPU facts the discovery API leaves out: memory per GPU, architecture, compute capability, vendor.

Chameleon's node records name GPUs by their PCI strings ("GA100 [A100 PCIe 80GB]"); memory is
stated in some strings and not in others, so the rest comes from the vendors' data sheets. This is
the one table of GPU generations: node choice, resource discovery and the docs read it from here.
"""

from __future__ import annotations

import re

# Substring of the PCI model name -> memory per GPU in GB (vendor data sheets).
_KNOWN_MEMORY_GB: tuple[tuple[str, int], ...] = (
    ("RTX 6000", 24),
    ("RTX 8000", 48),
    ("A30", 24),
    ("A100", 40),
    ("H100", 80),
    ("V100", 16),
    ("P100", 16),
    ("K80", 12),
    ("M40", 12),
    ("MI100", 32),
    ("MI210", 64),
    ("Max 1550", 128),
    ("T4", 16),
    ("A40", 48),
    ("L40", 48),
)

# Substring of the PCI model name -> (NVIDIA architecture, CUDA compute capability).
# Source: NVIDIA's "CUDA GPUs - Compute Capability" list (developer.nvidia.com/cuda-gpus). More specific
# names first: "A100" before "A10", "L40" before "L4", "P40" before "P4".
_NVIDIA_CC: tuple[tuple[str, str, float], ...] = (
    ("H200", "Hopper", 9.0), ("H100", "Hopper", 9.0), ("L40", "Ada Lovelace", 8.9), ("L4", "Ada Lovelace", 8.9),
    ("A100", "Ampere", 8.0), ("A30", "Ampere", 8.0), ("A40", "Ampere", 8.6), ("A10", "Ampere", 8.6),
    ("RTX 6000", "Turing", 7.5), ("RTX 8000", "Turing", 7.5), ("T4", "Turing", 7.5), ("V100", "Volta", 7.0),
    ("P100", "Pascal", 6.0), ("P40", "Pascal", 6.1), ("M40", "Maxwell", 5.2), ("K80", "Kepler", 3.7),
)
# The oldest compute capability each CUDA toolkit still builds for (NVIDIA's CUDA release notes): CUDA 11
# dropped sm_30, CUDA 12 dropped Kepler (sm_35/37), CUDA 13 dropped Maxwell, Pascal and Volta.
_CUDA_FLOOR: tuple[tuple[int, float], ...] = ((13, 7.5), (12, 5.0), (11, 3.5))

_STATED_GB = re.compile(r"(\d{2,3})\s*GB", re.IGNORECASE)


def gpu_memory_gb(model: str) -> int:
    """Memory per GPU for a PCI model name; 0 when the model is unknown or empty."""
    if not model:
        return 0
    stated = _STATED_GB.search(model)
    if stated:
        return int(stated.group(1))
    for needle, gb in _KNOWN_MEMORY_GB:
        if needle.lower() in model.lower():
            return gb
    return 0


def normalise_vendor(vendor: str | None, model: str = "") -> str:
    """'NVIDIA', 'AMD', 'Advanced Micro Devices' ... -> nvidia | amd | intel | none."""
    text = f"{vendor or ''} {model}".lower()
    if not text.strip():
        return "none"
    if "nvidia" in text or any(k in text for k in ("tesla", "quadro", "geforce", "a100", "h100")):
        return "nvidia"
    if "amd" in text or "advanced micro" in text or "instinct" in text or "radeon" in text:
        return "amd"
    if "intel" in text or "ponte vecchio" in text:
        return "intel"
    return "none"


def _inner(model: str) -> str:
    inner = re.search(r"\[([^\]]+)\]", model)
    return (inner.group(1) if inner else model).lower()


def compute_capability(model: str) -> float | None:
    """CUDA compute capability of an NVIDIA PCI model name; None for other vendors and unknown models."""
    name = _inner(model)
    return next((cc for needle, _arch, cc in _NVIDIA_CC if needle.lower() in name), None) if name else None


def gpu_architecture(model: str) -> str:
    """NVIDIA architecture name (Ampere, Hopper, ...) of a PCI model name; "" when unknown."""
    name = _inner(model)
    return next((arch for needle, arch, _cc in _NVIDIA_CC if needle.lower() in name), "") if name else ""


def cuda_min_capability(cuda: str | None) -> float | None:
    """The oldest compute capability a CUDA version still supports (CUDA 12.1 -> 5.0); None if unknown."""
    m = re.match(r"^\s*(\d+)", cuda or "")
    if not m:
        return None
    return next((cc for major, cc in _CUDA_FLOOR if int(m.group(1)) >= major), None)
