"""Human output (commands.render): the run summary and the status table, printed literally at a fixed width."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from catalog import UC, nodes
from rich.console import Console

from chameleon_provision.cloud.key_manager import KeyDecision
from chameleon_provision.cloud.network_manager import AddressPlan
from chameleon_provision.commands.render import status_document, status_table, summary, time_left
from chameleon_provision.commands.status import RunView
from chameleon_provision.models import GpuNeed, ImageChoice, ImageRecord, LeaseWindow, NodeChoice, Requirements
from chameleon_provision.pipeline.plan import Cost, Outcome, Plan, RepoInfo, document
from chameleon_provision.state.store import ResourceRecord, RunRecord

RTX = next(n for n in nodes() if n.node_type == "gpu_rtx_6000")
LONG_URL = "https://github.com/" + "a" * 150 + "/repo"


def console() -> tuple[Console, StringIO]:
    out = StringIO()
    return Console(file=out, width=80, soft_wrap=True, color_system=None), out  # as console.Streams builds it


def plan(source: str = "https://github.com/o/r", reason: str = "smallest adequate",
         notes: tuple[str, ...] = ()) -> Plan:
    req = Requirements(gpu=GpuNeed("yes", 1, 16.0, "nvidia"), frameworks=("torch[/cuda]", "[bold]jax"))
    node = NodeChoice(UC, "gpu_rtx_6000", ("==", "$node_type", "gpu_rtx_6000"), RTX, 37, "ai", reason)
    image = ImageChoice(ImageRecord("img-1", "CC-Ubuntu22.04-CUDA"), "rules", "CUDA image [rules]")
    lease = LeaseWindow("now", "2026-08-01 20:00", 8.0, "rules", "default length")
    key = KeyDecision("prov-key", "reuse", None, "found")
    return Plan("08011200-ab12", RepoInfo(source, "0123456789abcdef", "r"), req, node, 30, image, lease, key,
                AddressPlan("create", None, "new"), Cost(2.0, lease.hours), notes)


def render(doc: dict[str, Any]) -> str:
    con, out = console()
    summary(con, doc)
    return out.getvalue()


def flat(text: str) -> str:
    """The text with its wrapping undone (runs of whitespace become one space)."""
    return " ".join(text.split())


STATS = {"seconds": 12.5, "openstack_calls": 9, "ai_calls": 5}


def test_plan_summary_lists_each_decision_and_says_nothing_was_created() -> None:
    text = render(document(plan(), "plan", STATS))
    assert "https://github.com/o/r @ 0123456789" in text and "0123456789a" not in text
    assert "GPU yes: 1x nvidia ≥16 GB" in text
    assert "gpu_rtx_6000 at CHI@UC" in text and "30 free [ai]" in text
    assert "8 h until 2026-08-01 20:00 UTC [rules] default length" in text
    assert "12.5 s, 9 openstack calls, 5 AI calls" in text
    assert text.rstrip().endswith("Plan only: nothing was created.") and "ssh " not in text


def test_markup_in_repository_text_and_reasons_is_printed_literally() -> None:
    doc = document(plan(reason="needs [bold]24 GB[/bold]", notes=("see [red]README[/red]",)), "plan", STATS)
    text = flat(render(doc))
    assert "frameworks: torch[/cuda], [bold]jax [rules]" in text
    assert "needs [bold]24 GB[/bold]" in text
    assert "see [red]README[/red]" in text
    assert "CUDA image [rules]" in text


def test_long_values_wrap_without_being_cut() -> None:
    text = render(document(plan(source=LONG_URL, reason=" ".join(f"w{i}" for i in range(60))), "plan", STATS))
    assert LONG_URL in "".join(text.split())
    assert " ".join(f"w{i}" for i in range(60)) in flat(text)
    assert "…" not in text


def provision_doc(ssh: str = "ssh cc@192.5.87.10", reachable: bool | None = True) -> dict[str, Any]:
    outcome = Outcome(lease_id="L1", server={"id": "S1", "name": "prov-r", "status": "ACTIVE"},
                      floating_ip="192.5.87.10", ssh_command=ssh, ssh_reachable=reachable)
    return document(plan(), "provision", STATS, outcome)


def test_provision_summary_ends_with_the_ssh_line_and_how_to_remove_it() -> None:
    text = render(provision_doc())
    assert "prov-r (S1) ACTIVE" in text and "192.5.87.10" in text
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[-2:] == ["ssh cc@192.5.87.10", "remove it with: provision destroy 08011200-ab12"]
    assert "SSH did not answer" not in text and "Plan only" not in text


def test_unreachable_ssh_is_warned_about() -> None:
    assert "SSH did not answer yet" in render(provision_doc(reachable=False))
    assert "SSH did not answer yet" not in render(provision_doc(reachable=None))


def test_ssh_command_with_brackets_and_a_long_key_path_is_one_literal_line() -> None:
    ssh = f"ssh -i /home/me/keys[lab]/{'k' * 120}/id_ed25519 cc@192.5.87.10"
    assert ssh in render(provision_doc(ssh=ssh)).splitlines()[-3].strip()


# --- status --------------------------------------------------------------------------------------

def run(run_id: str = "08011200-ab12", lease_end: str | None = None, ssh: str | None = None) -> RunRecord:
    return RunRecord(run_id, "2026-08-01T12:00:00Z", "./repo", None, UC, "provision", "ready", lease_end, ssh)


def res(kind: str, cloud_id: str | None, status: str = "created", name: str = "prov-x", **detail: Any
        ) -> ResourceRecord:
    return ResourceRecord(1, "08011200-ab12", kind, name, UC, cloud_id, status, detail)


def views(runs: list[tuple[RunRecord, list[ResourceRecord]]]) -> list[RunView]:
    return [RunView(r, resources) for r, resources in runs]


def table(runs: list[tuple[RunRecord, list[ResourceRecord]]]) -> str:
    con, out = console()
    status_table(con, views(runs))
    return out.getvalue()


def in_hours(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours, seconds=30)).strftime("%Y-%m-%d %H:%M")


def test_no_runs_says_so() -> None:
    assert table([]).strip() == "No runs recorded."
    assert status_document([]) == {"schema_version": 1, "runs": []}


def test_run_without_resources_shows_dashes_and_no_ssh_line() -> None:
    text = table([(run(lease_end=in_hours(5), ssh="ssh cc@192.5.87.10"), [])])
    (row,) = [line.split() for line in text.splitlines() if line.split()[:1] == ["08011200-ab12"]]
    assert row[1:] == ["UC", "ready", "-", "-", "-", "-"]
    assert "ssh cc@" not in text
    assert status_document(views([(run(), [])]))["runs"][0]["resources"] == []


def test_destroyed_run_whose_keypair_is_kept_shows_no_time_left_or_ssh_line() -> None:
    resources = [res("keypair", "prov-key"), res("server", "S1", status="deleted")]
    text = table([(run(lease_end=in_hours(5), ssh="ssh cc@192.5.87.10"), resources)])
    (row,) = [line.split() for line in text.splitlines() if line.split()[:1] == ["08011200-ab12"]]
    assert row[-1] == "-" and "ssh cc@" not in text


def test_live_run_shows_short_ids_the_address_time_left_and_its_ssh_line() -> None:
    resources = [res("keypair", "prov-key"), res("lease", "0a2723d2-4cd5-44db"), res("server", "5b1e2f3a-9c8d"),
                 res("floating_ip", "F1", address="192.5.87.10"), res("server", "dead", status="deleted")]
    text = table([(run(lease_end=in_hours(5.5), ssh="ssh cc@192.5.87.10"), resources)])
    (row,) = [line.split() for line in text.splitlines() if line.split()[:1] == ["08011200-ab12"]]
    assert row[3:6] == ["0a2723d2", "5b1e2f3a", "192.5.87.10"]
    assert row[6] in ("5h29m", "5h30m")
    assert "08011200-ab12: ssh cc@192.5.87.10" in text.splitlines()


def test_status_prints_markup_literally_and_long_ssh_lines_whole() -> None:
    ssh = f"ssh -i /home/[bold]me[/bold]/{'k' * 120}/id cc@192.5.87.10"
    resources = [res("server", None, status="creating", name="[b]x[/b]-srv")]
    text = table([(run(ssh=ssh), resources)])
    assert f"08011200-ab12: {ssh}" in text.splitlines()
    assert "[b]x[/b]" in text  # an interrupted create has no id yet: its name is shown


@pytest.mark.parametrize(("end", "expected"), [(None, "-"), ("2020-01-01 00:00", "ended"), ("soon", "soon")])
def test_time_left_for_missing_past_and_unreadable_ends(end: str | None, expected: str) -> None:
    assert time_left(end) == expected


def test_status_document_keeps_raw_text_and_only_recorded_addresses() -> None:
    doc = status_document(views([(run(ssh="ssh -i [k] cc@1.2.3.4"),
                                  [res("lease", "L1"), res("floating_ip", "F1", address="192.5.87.10")])]))
    (r,) = doc["runs"]
    assert r["ssh_command"] == "ssh -i [k] cc@1.2.3.4" and r["time_left"] == "-"
    assert r["resources"] == [{"kind": "lease", "name": "prov-x", "id": "L1", "status": "created"},
                              {"kind": "floating_ip", "name": "prov-x", "id": "F1", "status": "created",
                               "address": "192.5.87.10"}]


def test_setup_lines_say_what_the_node_gets_and_how_it_went() -> None:
    from chameleon_provision.commands.render import setup_line, setup_outcome_line

    assert setup_line({"enabled": False, "reason": "--no-setup"}) == "none (--no-setup)"
    planned = {"enabled": True, "repo_dir": "/home/cc/demo", "steps": [{"name": "apt"}, {"name": "clone"}]}
    assert setup_line(planned) == "/home/cc/demo at first boot: apt, clone"
    failed = {"state": "failed", "step": "conda", "failed_step": "conda", "detail": "step conda failed",
              "elapsed_s": 312}
    assert setup_line({**planned, "outcome": failed}).endswith("; failed in step conda: step conda failed (312 s)")
    assert setup_outcome_line({"state": "timeout", "step": "docker-build", "detail": "still running"}) == \
        "timeout at step docker-build: still running"


def test_analysis_with_markup_in_repository_text_prints_literally() -> None:
    from chameleon_provision.commands.analyze import render_analysis

    con, out = console()
    doc = {"repo": {"source": "/tmp/[red]r"},
           "requirements": {"gpu": {"required": "optional", "count": 0, "min_memory_gb": None, "vendor": "nvidia",
                                    "min_total_memory_gb": None},
                            "cpu_cores": None, "ram_gb": None, "arch": "x86_64", "os": None, "cuda": "[/b]",
                            "frameworks": ["torch[/cuda]", "[bold]jax", "Flask"], "decided_by": "rules",
                            "reason": "GPU optional [/x]",
                            "evidence": [{"file": "requirements.txt", "line": 1, "text": "torch[/cuda]",
                                          "signal": "pkg.framework"}]},
           "scan": {"files_scanned": 1, "bytes_read": 12}}
    render_analysis(con, doc)
    text = out.getvalue()
    assert "frameworks: torch[/cuda], [bold]jax, Flask" in text and "CUDA: [/b]" in text


def test_progress_lines_print_repository_paths_literally() -> None:
    from chameleon_provision.console import Streams

    con, out = console()
    Streams(out=con, err=con).progress("reading /tmp/[/cuda]repo @ [bold]x")
    assert "reading /tmp/[/cuda]repo @ [bold]x" in out.getvalue()
