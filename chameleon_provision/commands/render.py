"""Human output: rich summaries of a plan or run, and the status table. JSON goes out unrendered."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from chameleon_provision.commands.status import RunView
from chameleon_provision.state import ssh_config
from chameleon_provision.state.run_log import log_path
from chameleon_provision.state.store import ResourceRecord


def summary(console: Console, doc: dict[str, Any]) -> None:
    req, res, img, lease = doc["requirements"], doc["resource"], doc["image"], doc["lease"]
    gpu = req["gpu"]
    hw = res["hardware"]
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")  # long paths and URLs wrap instead of being cut with an ellipsis
    add = table.add_row

    def row(label: str, text: str) -> None:  # repository text and reasons may hold [brackets]
        add(label, escape(text))

    row("repository", f"{doc['repo']['source']}" + (f" @ {doc['repo']['commit'][:10]}"
                                                               if doc["repo"]["commit"] else ""))
    need = "no GPU" if gpu["required"] == "no" else (
        f"GPU {gpu['required']}: {gpu['count']}x {gpu['vendor']}"
        + (f" ≥{gpu['min_memory_gb']:g} GB" if gpu["min_memory_gb"] else ""))
    special = [f"{req.get('fpga')} {req.get('fpga_model') or ''} FPGA".replace(" None", "") if req.get("fpga") else "",
               "aarch64" if req.get("arch") == "aarch64" else "",
               f"{req['local_nvme']} spare NVMe" if req.get("local_nvme") else "", "RDMA" if req.get("rdma") else "",
               "NVDIMM" if req.get("persistent_memory") else "",
               f"compute capability ≥{gpu['min_compute_capability']:g}" if gpu.get("min_compute_capability") else ""]
    need += "".join(f", {s.replace('  ', ' ')}" for s in special if s)
    row("needs", f"{need}; frameworks: {', '.join(req['frameworks']) or '-'} [{req['decided_by']}]")
    for ev in req.get("evidence", [])[:2]:  # the strongest lines the need rests on; all of them are in --json
        row("", f"{ev['file']}:{ev['line']}: {' '.join(ev['text'].split())[:100]}")
    gpu_hw = f", {hw['gpu_count']}x {hw['gpu_model']} ({hw['gpu_memory_gb']} GB)" if hw["gpu_count"] else ""
    row("node", f"{res['node_type']} at {res['site']} ({hw['arch']}, {hw['cpu_threads']} threads, "
                  f"{hw['ram_gb']} GB{gpu_hw}); {res['available_hosts']} free [{res['decided_by']}]")
    row("", res["reason"])
    row("image", f"{img['name']} [{img['decided_by']}] {img['reason']}")
    start = "" if lease.get("start", "now") == "now" else f"from {lease['start']} "
    row("lease", f"{lease['hours']:g} h {start}until {lease['end']} UTC [{lease['decided_by']}] {lease['reason']}")
    if cost := doc.get("cost"):
        row("cost", f"about {cost['su_total']:g} SU ({cost['su_per_hour']:g} SU/h x {cost['hours']:g} h); "
                    "`provision destroy` stops the charge early")
    for note in doc.get("notes", []):
        row("note", note)
    row("setup", setup_line(doc.get("setup") or {}))
    if doc["mode"] == "provision":
        row("lease id", str(lease.get("id")))
        row("server", f"{doc['server']['name']} ({doc['server']['id']}) {doc['server']['status']}")
        row("address", str(doc["floating_ip"]))
    stats = doc["stats"]
    row("took", f"{stats['seconds']} s, {stats['openstack_calls']} openstack calls, "
                  f"{stats['ai_calls']} AI calls")
    console.print(table)
    if doc["mode"] == "provision":
        if doc.get("ssh_reachable") is False:
            console.print("[yellow]SSH did not answer yet; bare metal can take a few more minutes.[/yellow]")
        if doc.get("log_file"):
            console.print(f"log: {escape(doc['log_file'])}", highlight=False)
        console.print(f"the lease ends {lease['end']} UTC: `provision extend {doc['run_id']} --hours N` prolongs "
                      f"it; `provision destroy {doc['run_id']}` stops paying early", highlight=False)
        ssh = doc.get("ssh") or {}
        console.print(f"\n  [bold green]{escape(ssh.get('command') or doc['ssh_command'])}[/bold green]\n",
                      highlight=False)
    else:
        console.print("\nPlan only: nothing was created.")


def time_left(lease_end: str | None) -> str:
    if not lease_end:
        return "-"
    try:
        end = datetime.strptime(lease_end, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    except ValueError:
        return lease_end
    left = end - datetime.now(UTC)
    if left.total_seconds() <= 0:
        return "ended"
    hours, rem = divmod(int(left.total_seconds()), 3600)
    return f"{hours}h{rem // 60:02d}m"


def _log_file(state_dir: Path | None, run_id: str) -> str | None:
    path = log_path(state_dir, run_id) if state_dir is not None else None
    return str(path) if path is not None and path.exists() else None


def status_table(console: Console, views: list[RunView], state_dir: Path | None = None) -> None:
    if not views:
        console.print("No runs recorded.")
        return
    # The run id already starts with its creation time (MMDDHHMM, UTC), so no date column.
    # Cells are short on purpose (site without "CHI@", ids cut to 8, the cloud's status in place of the id
    # once asked) so the table fits 80 columns; `status --json` and `status RUN` carry everything.
    table = Table("run", "site", "status", "lease", "server", "address", "left", box=box.SIMPLE_HEAD,
                  pad_edge=False)
    for column in table.columns:
        column.no_wrap = True
    notes = []
    for view in views:
        run, resources = view.run, view.resources

        def ref(kind: str, resources: list[ResourceRecord] = resources) -> str:
            live = [r for r in resources if r.kind == kind and (r.live or r.status == "with_lease")]
            if not live:
                return "-"
            r = live[0]
            return str(r.detail.get("address") or (r.cloud_id or r.name)[:8])

        live = any(r.live and r.kind != "keypair" for r in resources)
        seen = view.cloud
        cells = (run.run_id, (run.region or run.site).removeprefix("CHI@"), run.status,
                 seen.get("lease") or ref("lease"), seen.get("server") or ref("server"),
                 ref("floating_ip"), time_left(run.lease_end) if live else "-")
        table.add_row(*map(escape, cells))  # names may hold [brackets]
        for drift in view.drift:
            notes.append(f"{run.run_id}: {drift}")
        if view.next_step:
            notes.append(f"{run.run_id}: next: {view.next_step}")
        elif live and run.ssh_command and not view.drift:
            host = ssh_config.host_of(state_dir, run.run_id) if state_dir is not None else None
            notes.append(f"{run.run_id}: " + (f"ssh {host}" if host else run.ssh_command))
        if view.cost:
            notes.append(f"{run.run_id}: {view.cost['su_so_far']:g} of {view.cost['su_total']:g} SU so far "
                         f"({view.cost['su_per_hour']:g} SU/h); `provision destroy` stops the charge")
        if run.setup:
            notes.append(f"{run.run_id}: setup {setup_outcome_line(run.setup)}")
        if live and _ends_within_an_hour(run.lease_end):
            notes.append(f"{run.run_id}: the lease ends within the hour ({run.lease_end} UTC): "
                         f"`provision extend {run.run_id} --hours N` prolongs it")
        if len(views) == 1 and (log := _log_file(state_dir, run.run_id)):
            notes.append(f"{run.run_id}: log {log}")
    console.print(table)
    for line in notes:
        console.print(escape(line), highlight=False)
    if views and not any(v.checked for v in views) and any(v.drift == [] and v.cloud == {} for v in views):
        console.print("(from the local record; the cloud was not asked)", style="dim")


def setup_line(setup: dict[str, Any]) -> str:
    """The plan's setup in one line, and how it went when it was followed."""
    if not setup.get("enabled"):
        return f"none ({setup.get('reason', '')})"
    steps = ", ".join(s["name"] for s in setup.get("steps", []))
    line = f"{setup['repo_dir']} at first boot: {steps}"
    if setup.get("outcome"):
        line += f"; {setup_outcome_line(setup['outcome'])}"
    return line


def setup_outcome_line(seen: dict[str, Any]) -> str:
    state = seen.get("state", "?")
    where = f" in step {seen['failed_step']}" if seen.get("failed_step") else (
        f" at step {seen['step']}" if seen.get("step") and state not in ("ok", "not followed") else "")
    detail = f": {seen['detail']}" if seen.get("detail") else ""
    return f"{state}{where}{detail}" + (f" ({seen['elapsed_s']:.0f} s)" if seen.get("elapsed_s") else "")


def _ends_within_an_hour(lease_end: str | None) -> bool:
    left = time_left(lease_end)
    return left != "ended" and left.startswith("0h")


def status_document(views: list[RunView], state_dir: Path | None = None) -> dict[str, Any]:
    return {"schema_version": 1, "runs": [
        {"run_id": v.run.run_id, "created_at": v.run.created_at, "source": v.run.source,
         "site": v.run.region or v.run.site, "profile": v.run.os_cloud, "status": v.run.status,
         "lease_end": v.run.lease_end,
         "time_left": time_left(v.run.lease_end), "ssh_command": v.run.ssh_command,
         "checked_with_cloud": v.checked, "cloud": v.cloud, "drift": v.drift, "next": v.next_step or None,
         "cost": v.cost, "setup": v.run.setup, "log_file": _log_file(state_dir, v.run.run_id),
         "ssh_host": ssh_config.host_of(state_dir, v.run.run_id) if state_dir is not None else None,
         "ends_within_hour": _ends_within_an_hour(v.run.lease_end) and any(
             r.live and r.kind == "lease" for r in v.resources),
         "resources": [{"kind": r.kind, "name": r.name, "id": r.cloud_id, "status": r.status,
                        **({"address": r.detail["address"]} if "address" in r.detail else {})}
                       for r in v.resources]}
        for v in views]}
