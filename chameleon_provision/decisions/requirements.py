"""Decision 1, the repository's requirements: answer model, prompt, and the checks an answer must pass.

The rules' answer comes from `repo_analyzer.analyze`. pydantic guarantees an AI answer's types and
bounds; the checks here guarantee meaning: cited evidence exists in the scanned files, the GPU fields
agree with each other, and the answer does not contradict the strongest facts the scanner found (a
cudatoolkit pin cannot be answered with "no GPU"). A ValueError's message is fed back to the model
verbatim, so each one names the field and what to change.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Literal

from pydantic import Field

from chameleon_provision.ai_client import AIClient, Answer
from chameleon_provision.models import Evidence, GpuNeed, Requirements
from chameleon_provision.repo_analyzer.analysis import Analysis
from chameleon_provision.repo_analyzer.signals import category_of

INSTRUCTIONS = (
    "Decide what hardware and OS this repository's MAIN documented workload needs, from the scanner's facts and "
    "the quoted excerpts. Cite evidence as file and line from the excerpts. Do not be swayed by sponsor lists, "
    "badges, changelogs or vendored code; a CUDA build merely being possible is not a GPU requirement. "
    "Special hardware (an FPGA, aarch64, spare NVMe devices, RDMA/InfiniBand, persistent memory, a GPU generation "
    "floor) only when a file shows the main workload cannot run without it."
)

MAX_GPUS = 8
MAX_GPU_MEMORY_GB = 640.0
MAX_RUNTIME_HOURS = 8760.0  # a stated year-long run is still a statement; the lease decision caps it
STRONG = 0.85  # a fact this confident cannot be overruled by the model


class GpuAnswer(Answer):
    required: Literal["yes", "no", "optional"] = Field(
        description="optional = runs on CPU; a GPU speeds it up or serves a bigger run")
    count: int = Field(ge=0, le=MAX_GPUS, description="GPUs one run of the MAIN workload uses; 0 with optional = "
                                                       "CPU is the main path")
    min_memory_gb: float | None = Field(ge=0, le=MAX_GPU_MEMORY_GB,
                                        description="GB per GPU; null if not stated or implied")
    vendor: Literal["nvidia", "amd", "intel", "any", "none"]
    min_compute_capability: float | None = Field(
        ge=3.0, le=12.0, description="oldest NVIDIA compute capability the code runs on, e.g. 8.0 for "
                                     "flash-attn 2 or -arch=sm_80; null if any generation works")


class EvidenceAnswer(Answer):
    file: str
    line: int = Field(ge=1)
    text: str


class RequirementsAnswer(Answer):
    """AI decision 1: what the repository's main workload needs, with the lines that say so."""

    gpu: GpuAnswer
    cpu_cores: int | None = Field(ge=1, le=512)
    ram_gb: int | None = Field(ge=1, le=4096)
    arch: Literal["x86_64", "aarch64"]
    os: str | None = Field(description="e.g. ubuntu22.04, only if a file states it")
    cuda: str | None = Field(description="e.g. 12.1, only if a file states it")
    frameworks: list[str] = Field(max_length=12)
    estimated_runtime_hours: float | None = Field(ge=0, le=MAX_RUNTIME_HOURS)
    fpga: Literal["xilinx", "intel", "any"] | None = Field(
        description="FPGA vendor the main workload runs on (Vitis/XRT/HLS = xilinx, aoc/oneAPI FPGA = intel); "
                    "null if none")
    fpga_model: str | None = Field(max_length=20, description="FPGA board a file names, e.g. U280; null if none")
    local_nvme: int = Field(ge=0, le=8, description="NVMe devices the workload takes for itself (SPDK, raw-device "
                                                     "benchmarks), besides the system disk; 0 if none")
    rdma: bool = Field(description="true if the workload needs RDMA verbs / InfiniBand")
    persistent_memory: bool = Field(description="true if the workload needs persistent memory (NVDIMM, PMDK)")
    evidence: list[EvidenceAnswer] = Field(max_length=12)
    reason: str


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[`*_\"'|]", " ", text).lower().split())


def _check_evidence(items: list[EvidenceAnswer], analysis: Analysis) -> tuple[Evidence, ...]:
    known = set(analysis.files)
    out = []
    for item in items:
        rel = item.file.strip()
        while rel.startswith("./"):  # a prefix, not the characters: .devcontainer/ must survive
            rel = rel[2:]
        if rel not in known:
            raise ValueError(f"evidence cites {item.file!r}, which is not among the scanned files "
                             f"({', '.join(sorted(known)[:8])}...)")
        line, quote = item.line, _norm(item.text)[:80]
        text = analysis.texts.get(rel)
        if text is not None and quote:
            lines = text.splitlines()
            if not 1 <= line <= len(lines):
                raise ValueError(f"evidence {rel}:{line} is past the end of the file ({len(lines)} lines)")
            near = _norm(" ".join(lines[max(0, line - 4):line + 3]))
            exact = next((i for i, ln in enumerate(lines, 1) if quote[:40] in _norm(ln)), None)
            if quote not in near and exact is None:
                raise ValueError(f"evidence text {item.text[:60]!r} does not appear in {rel}; quote the file")
            if exact is not None and quote[:40] not in _norm(lines[line - 1]):
                line = exact  # the model cited a neighbouring line; point at the quoted one
        out.append(Evidence(rel, line, item.text[:200], "ai", 0.7))
    return tuple(out)


def _strongest(analysis: Analysis, category: str) -> Any:
    facts = [f for f in analysis.facts if f.scope == "main" and f.confidence >= STRONG
             and category_of(f.signal) == category]
    return max(facts, key=lambda f: f.confidence, default=None)


HARDWARE_FACT = 0.8  # a special-hardware fact this confident cannot be dropped by the model
_HARDWARE_CATEGORIES = {"fpga": ("fpga",), "local_nvme": ("nvme",), "rdma": ("rdma",),
                        "persistent_memory": ("pmem",), "arch": ("arm_only", "arch")}


def _hardware_facts(analysis: Analysis, field: str) -> list[Any]:
    return [f for f in analysis.facts if f.scope != "ignored" and f.confidence > 0
            and category_of(f.signal) in _HARDWARE_CATEGORIES[field]]


def _check_hardware(answer: RequirementsAnswer, analysis: Analysis) -> None:
    """Special hardware rests on facts: the model may not invent a need nor drop one a strong fact states."""
    rules = analysis.requirements
    given = {"fpga": answer.fpga, "local_nvme": answer.local_nvme, "rdma": answer.rdma,
             "persistent_memory": answer.persistent_memory, "arch": answer.arch == "aarch64"}
    found = {"fpga": rules.fpga, "local_nvme": rules.local_nvme, "rdma": rules.rdma,
             "persistent_memory": rules.persistent_memory, "arch": rules.arch == "aarch64"}
    for field, value in given.items():
        facts = _hardware_facts(analysis, field)
        name = "arch 'aarch64'" if field == "arch" else field
        if value and not facts:
            raise ValueError(f"{name} is set but no scanned file shows that need; use "
                             f"{'x86_64' if field == 'arch' else 'null/0/false'} unless a file states it")
        strong = max((f for f in facts if f.confidence >= HARDWARE_FACT), key=lambda f: f.confidence, default=None)
        fewer = field == "local_nvme" and int(value or 0) < int(found[field] or 0)
        if found[field] and strong is not None and (not value or fewer):
            ev, arch = strong.evidence, field == "arch"
            raise ValueError(f"{'arch' if arch else field} {answer.arch if arch else value!r} contradicts {ev.file}:"
                             f"{ev.line} ({ev.text[:80]!r}), which needs {'aarch64' if arch else repr(found[field])}")
    if answer.fpga and rules.fpga in ("xilinx", "intel") and answer.fpga not in (rules.fpga, "any"):
        raise ValueError(f"fpga {answer.fpga!r} contradicts the toolchain found, which is {rules.fpga}")
    if answer.fpga_model and not any(re.sub(r"\W", "", answer.fpga_model.lower()) in re.sub(r"\W", "", (
            f"{f.value} {f.evidence.text}").lower()) for f in _hardware_facts(analysis, "fpga") + [
            f for f in analysis.facts if category_of(f.signal) == "fpga_model"]):
        raise ValueError(f"fpga_model {answer.fpga_model!r} is not named by any scanned file; use null")
    floor = rules.gpu.min_compute_capability
    cc = answer.gpu.min_compute_capability
    if floor and answer.gpu.vendor in ("nvidia", "any") and (cc is None or cc < floor):
        ev = next((f.evidence for f in analysis.facts if category_of(f.signal) == "compute_capability"
                   and f.value == floor), None)
        where = f" ({ev.file}:{ev.line} {ev.text[:60]!r})" if ev else ""
        raise ValueError(f"gpu.min_compute_capability {cc!r} is below {floor:g}, which the code needs{where}")


def requirements_from_answer(answer: RequirementsAnswer, analysis: Analysis) -> Requirements:
    gpu = answer.gpu
    required, vendor, count = gpu.required, gpu.vendor, gpu.count
    memory = gpu.min_memory_gb or None
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
    if required in ("yes", "optional") and count and not answer.evidence:
        raise ValueError("cite at least one evidence line (file, line, text) for the GPU need")
    os_value = answer.os
    if os_value:
        m = re.match(r"^\s*(ubuntu|centos|rocky|debian)[\s-]*(\d+(?:\.\d+)?)?\s*$", str(os_value).lower())
        if not m:
            raise ValueError(f"os {os_value!r} is not like 'ubuntu22.04'; use null if no file states it")
        os_value = m.group(1) + (m.group(2) or "")
    cuda = answer.cuda
    if cuda and not re.fullmatch(r"\d{1,2}(?:\.\d{1,2})?", str(cuda).strip()):
        raise ValueError(f"cuda {cuda!r} is not a version like '12.1'; use null if no file states it")
    _check_hardware(answer, analysis)
    rules = analysis.requirements
    vendor_value = "none" if required == "no" else vendor
    hours, cores, ram = answer.estimated_runtime_hours, answer.cpu_cores, answer.ram_gb
    return Requirements(
        gpu=GpuNeed(required=required, count=count if required != "no" else 0, min_memory_gb=memory,
                    vendor=vendor_value,
                    min_compute_capability=(gpu.min_compute_capability or rules.gpu.min_compute_capability)
                    if vendor_value in ("nvidia", "any") else None,
                    # the model-scale floor is arithmetic on the README's numbers: an answer cannot plan below it
                    min_total_memory_gb=rules.gpu.min_total_memory_gb if required != "no" and count else None),
        cpu_cores=cores,
        ram_gb=ram,
        arch=answer.arch,
        os=os_value or None,
        cuda=str(cuda).strip() if cuda else None,
        rocm=rules.rocm if vendor_value in ("amd", "any") else None,
        frameworks=tuple(x[:40] for x in answer.frameworks),
        estimated_runtime_hours=hours or None,
        fpga=answer.fpga,
        fpga_model=answer.fpga_model.strip().upper() if answer.fpga and answer.fpga_model else None,
        local_nvme=answer.local_nvme,
        rdma=answer.rdma,
        persistent_memory=answer.persistent_memory,
        evidence=_check_evidence(answer.evidence, analysis),
        confidence=0.7,
        decided_by="ai",
        reason=" ".join(answer.reason.split())[:300],
    )


def prefer_gpu(req: Requirements) -> Requirements:
    """--prefer-gpu: an optional GPU whose main path is the CPU becomes one GPU; other needs are unchanged."""
    gpu = req.gpu
    if gpu.required != "optional" or gpu.count > 0:
        return req
    vendor = gpu.vendor if gpu.vendor not in ("none", "") else "any"
    return replace(req, gpu=replace(gpu, count=1, vendor=vendor),
                   reason=f"{req.reason}; --prefer-gpu: planning the GPU path")


def decide_requirements(ai: AIClient, analysis: Analysis) -> Requirements:
    """The AI's reading of the repository when it passes every check, else the rules'."""
    facts = [{"signal": f.evidence.signal, "file": f.evidence.file, "line": f.evidence.line,
              "text": f.evidence.text[:200]} for f in analysis.facts[:60]]
    outcome = ai.decide("requirements", instructions=INSTRUCTIONS,
                        data={"facts": facts, "excerpts": analysis.excerpts(),
                              "rules_answer": analysis.requirements.to_dict() | {"evidence": []}},
                        answer=RequirementsAnswer, validate=lambda a: requirements_from_answer(a, analysis))
    if outcome.value is not None:
        return outcome.value
    req = analysis.requirements
    if outcome.note and ai.enabled:
        req = replace(req, reason=f"{req.reason} (AI: {outcome.note})")
    return req
