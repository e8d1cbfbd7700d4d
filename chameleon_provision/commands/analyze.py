"""`provision analyze REPO`: the requirements and their evidence, with no cloud involved."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from chameleon_provision.decisions.requirements import decide_requirements
from chameleon_provision.pipeline.plan import SCHEMA_VERSION, requirements_doc
from chameleon_provision.pipeline.session import Session
from chameleon_provision.repo_analyzer import analyze, open_repository


def analyze_document(session: Session, source: str) -> dict[str, Any]:
    started = time.monotonic()
    with open_repository(source) as checkout:
        analysis = analyze(checkout.path)
        req = decide_requirements(session.ai, analysis)
        return {
            "schema_version": SCHEMA_VERSION,
            "repo": {"source": checkout.source, "commit": checkout.commit},
            "requirements": requirements_doc(req),
            "facts": [f.as_dict() for f in analysis.facts],
            "scan": {"files_scanned": analysis.files_scanned, "bytes_read": analysis.bytes_read,
                     "entries_visited": analysis.entries_visited, "notes": list(analysis.notes)},
            "stats": {"ai_calls": session.ai.calls, "seconds": round(time.monotonic() - started, 2)},
        }


def render_analysis(console: Console, doc: dict[str, Any]) -> None:
    req = doc["requirements"]
    gpu = req["gpu"]
    console.print(f"[bold]{escape(doc['repo']['source'])}[/bold] \\[{req['decided_by']}] {escape(req['reason'])}")
    total = f", total >= {gpu['min_total_memory_gb']:g} GB" if gpu.get("min_total_memory_gb") else ""
    cc = f", compute capability >= {gpu['min_compute_capability']:g}" if gpu.get("min_compute_capability") else ""
    console.print(f"  GPU: {gpu['required']} (vendor {gpu['vendor']}, count {gpu['count']}, "
                  f"min memory {gpu['min_memory_gb'] or '-'} GB{total}{cc})")
    fpga = " ".join(str(x) for x in (req.get("fpga"), req.get("fpga_model")) if x)
    nvdimm = "yes" if req.get("persistent_memory") else "-"
    console.print(escape(f"  FPGA: {fpga or '-'}  spare NVMe: {req.get('local_nvme') or '-'}  "
                         f"RDMA: {'yes' if req.get('rdma') else '-'}  NVDIMM: {nvdimm}"))
    console.print(escape(f"  CPU cores: {req['cpu_cores'] or '-'}  RAM: {req['ram_gb'] or '-'} GB  "
                         f"arch: {req['arch']}  OS: {req['os'] or '-'}  CUDA: {req['cuda'] or '-'}"))
    console.print(f"  frameworks: {escape(', '.join(req['frameworks'])) or '-'}")
    if req["evidence"]:
        table = Table("file:line", "signal", "text", title="evidence")
        for e in req["evidence"][:20]:
            table.add_row(escape(f"{e['file']}:{e['line']}"), escape(e.get("signal", "")), escape(e["text"][:90]))
        console.print(table)
    scan = doc["scan"]
    console.print(f"  scanned {scan['files_scanned']} files, {scan['bytes_read']} bytes")
