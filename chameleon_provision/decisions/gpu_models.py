"""GPU facts the discovery API leaves out: memory per GPU and a normalised vendor.

Chameleon's node records name GPUs by their PCI strings ("GA100 [A100 PCIe 80GB]"); memory is
stated in some strings and not in others, so the rest comes from the vendors' data sheets.
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
