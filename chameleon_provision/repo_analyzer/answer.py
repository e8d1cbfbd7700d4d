"""AI decision 1: the JSON shape the model must answer in, and the checks its answer must pass.

The schema check (ai_client) guarantees types; these checks guarantee meaning: cited evidence
exists in the scanned files, numbers are in range, the GPU fields agree with each other, and the
answer does not contradict the strongest facts the scanner found (a cudatoolkit pin cannot be
answered with "no GPU"). A ValueError's message is fed back to the model verbatim, so each one
names the field and what to change.
"""

from __future__ import annotations

import re
from typing import Any

from ..models import Evidence, GpuNeed, Requirements
from .analysis import Analysis
from .signals import category_of

MAX_GPUS = 8
MAX_GPU_MEMORY_GB = 640.0
STRONG = 0.85  # a fact this confident cannot be overruled by the model


def requirements_schema() -> dict[str, Any]:
    nullable_number = {"type": ["number", "null"], "minimum": 0}
    return {
        "type": "object",
        "properties": {
            "gpu": {
                "type": "object",
                "properties": {
                    "required": {"enum": ["yes", "no", "optional"],
                                 "description": "optional = runs on CPU; a GPU speeds it up or serves a bigger run"},
                    "count": {"type": "integer", "minimum": 0,
                              "description": "GPUs one run of the MAIN workload uses; 0 with optional = CPU is the "
                                             "main path"},
                    "min_memory_gb": {**nullable_number, "description": "GB per GPU; null if not stated or implied"},
                    "vendor": {"enum": ["nvidia", "amd", "intel", "any", "none"]},
                },
                "required": ["required", "count", "min_memory_gb", "vendor"],
                "additionalProperties": False,
            },
            "cpu_cores": {"type": ["integer", "null"], "minimum": 1},
            "ram_gb": {"type": ["integer", "null"], "minimum": 1},
            "arch": {"enum": ["x86_64", "aarch64"]},
            "os": {"type": ["string", "null"], "description": "e.g. ubuntu22.04, only if a file states it"},
            "cuda": {"type": ["string", "null"], "description": "e.g. 12.1, only if a file states it"},
            "frameworks": {"type": "array", "items": {"type": "string"}, "maxItems": 12},
            "estimated_runtime_hours": nullable_number,
            "evidence": {
                "type": "array", "maxItems": 12,
                "items": {"type": "object",
                          "properties": {"file": {"type": "string"}, "line": {"type": "integer", "minimum": 1},
                                         "text": {"type": "string"}},
                          "required": ["file", "line", "text"], "additionalProperties": False},
            },
            "reason": {"type": "string"},
        },
        "required": ["gpu", "cpu_cores", "ram_gb", "arch", "os", "cuda", "frameworks", "estimated_runtime_hours",
                     "evidence", "reason"],
        "additionalProperties": False,
    }


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[`*_\"'|]", " ", text).lower().split())


def _check_evidence(items: list[dict[str, Any]], analysis: Analysis) -> tuple[Evidence, ...]:
    known = set(analysis.files)
    out = []
    for item in items:
        rel = str(item["file"]).lstrip("./")
        if rel not in known:
            raise ValueError(f"evidence cites {item['file']!r}, which is not among the scanned files "
                             f"({', '.join(sorted(known)[:8])}...)")
        line, quote = int(item["line"]), _norm(str(item["text"]))[:80]
        text = analysis.texts.get(rel)
        if text is not None and quote:
            lines = text.splitlines()
            if not 1 <= line <= len(lines):
                raise ValueError(f"evidence {rel}:{line} is past the end of the file ({len(lines)} lines)")
            near = _norm(" ".join(lines[max(0, line - 4):line + 3]))
            exact = next((i for i, ln in enumerate(lines, 1) if quote[:40] in _norm(ln)), None)
            if quote not in near and exact is None:
                raise ValueError(f"evidence text {item['text'][:60]!r} does not appear in {rel}; quote the file")
            if exact is not None and quote[:40] not in _norm(lines[line - 1]):
                line = exact  # the model cited a neighbouring line; point at the quoted one
        out.append(Evidence(rel, line, str(item["text"])[:200], "ai", 0.7))
    return tuple(out)


def _strongest(analysis: Analysis, category: str) -> Any:
    facts = [f for f in analysis.facts if f.scope == "main" and f.confidence >= STRONG
             and category_of(f.signal) == category]
    return max(facts, key=lambda f: f.confidence, default=None)


def requirements_from_answer(answer: dict[str, Any], analysis: Analysis) -> Requirements:
    gpu = answer["gpu"]
    required, vendor = gpu["required"], gpu["vendor"]
    count = max(0, min(MAX_GPUS, int(gpu["count"])))
    memory = gpu.get("min_memory_gb")
    memory = None if memory in (None, 0) else max(0.0, min(MAX_GPU_MEMORY_GB, float(memory)))
    if required == "yes" and vendor == "none":
        raise ValueError("gpu.vendor is 'none' but gpu.required is 'yes'; name the vendor (nvidia, amd, any)")
    if required == "yes" and count == 0:
        raise ValueError("gpu.required is 'yes' but gpu.count is 0; give the number of GPUs the main run uses")
    if required == "no" and (count or memory or vendor not in ("none", "any")):
        raise ValueError("gpu.required is 'no' but count/min_memory_gb/vendor describe a GPU; set count 0, "
                         "min_memory_gb null, vendor none")
    if required == "optional" and count and vendor == "none":
        raise ValueError("gpu.count > 0 with vendor 'none'; name the vendor the GPU path uses")
    strong_gpu = _strongest(analysis, "gpu_hard")
    if required == "no" and strong_gpu is not None:
        ev = strong_gpu.evidence
        raise ValueError(f"gpu.required 'no' contradicts {ev.file}:{ev.line} ({ev.text[:80]!r}), which only works "
                         "with a GPU")
    if (required != "no" and strong_gpu is not None and vendor in ("nvidia", "amd", "intel")
            and strong_gpu.value in ("nvidia", "amd", "intel") and strong_gpu.value != vendor
            and not any(f.value == vendor for f in analysis.facts if category_of(f.signal) == "gpu_hard")):
        ev = strong_gpu.evidence
        raise ValueError(f"gpu.vendor {vendor!r} contradicts {ev.file}:{ev.line} ({ev.text[:80]!r}), "
                         f"which needs {strong_gpu.value}")
    if required in ("yes", "optional") and count and not answer["evidence"]:
        raise ValueError("cite at least one evidence line (file, line, text) for the GPU need")
    os_value = answer.get("os")
    if os_value:
        m = re.match(r"^\s*(ubuntu|centos|rocky|debian)[\s-]*(\d+(?:\.\d+)?)?\s*$", str(os_value).lower())
        if not m:
            raise ValueError(f"os {os_value!r} is not like 'ubuntu22.04'; use null if no file states it")
        os_value = m.group(1) + (m.group(2) or "")
    cuda = answer.get("cuda")
    if cuda and not re.fullmatch(r"\d{1,2}(?:\.\d{1,2})?", str(cuda).strip()):
        raise ValueError(f"cuda {cuda!r} is not a version like '12.1'; use null if no file states it")
    rules = analysis.requirements
    vendor_value = "none" if required == "no" else vendor
    hours = answer.get("estimated_runtime_hours")
    cores, ram = answer.get("cpu_cores"), answer.get("ram_gb")
    return Requirements(
        gpu=GpuNeed(required=required, count=count if required != "no" else 0, min_memory_gb=memory,
                    vendor=vendor_value,
                    min_compute_capability=rules.gpu.min_compute_capability if vendor_value in ("nvidia", "any")
                    else None),
        cpu_cores=max(1, min(512, int(cores))) if cores else None,
        ram_gb=max(1, min(4096, int(ram))) if ram else None,
        arch=answer["arch"],
        os=os_value or None,
        cuda=str(cuda).strip() if cuda else None,
        rocm=rules.rocm if vendor_value in ("amd", "any") else None,
        frameworks=tuple(str(x)[:40] for x in answer.get("frameworks") or ())[:12],
        estimated_runtime_hours=max(0.0, min(168.0, float(hours))) if hours else None,
        evidence=_check_evidence(list(answer.get("evidence") or []), analysis),
        confidence=0.7,
        decided_by="ai",
        reason=" ".join(str(answer.get("reason", "")).split())[:300],
    )
