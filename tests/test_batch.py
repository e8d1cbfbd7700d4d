"""`provision batch` without a cloud: exit codes, overrides, a failure in the middle, resume, the host ledger.

`pipeline.run.run` is replaced by a stand-in here (the twin tests in test_batch_twin.py run the real
pipeline); everything else, from the command line to the JSON lines, is the real code.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from helpers import RunMain
from test_availability import END, NODES, START, candidate, host

from chameleon_provision.batch.shared import BatchShared, RowSession
from chameleon_provision.cloud.resource_discovery import BlazarHost
from chameleon_provision.decisions.availability import SiteHosts, first_available
from chameleon_provision.errors import NoCapacityError, RepositoryError
from chameleon_provision.pipeline.run import RunOptions
from chameleon_provision.pipeline.session import Session


@pytest.fixture
def fake_run(monkeypatch: pytest.MonkeyPatch) -> list[RunOptions]:
    """Every run's options; a repository named `busy` has no capacity, `gone` cannot be read."""
    seen: list[RunOptions] = []
    lock = threading.Lock()

    def run(session: Session, options: RunOptions) -> dict[str, Any]:
        with lock:
            seen.append(options)
        if "busy" in options.source:
            raise NoCapacityError("no free node", details={"run_id": "r-busy"})
        if "gone" in options.source:
            raise RepositoryError("cannot clone")
        return {"schema_version": 1, "mode": "plan", "repo": {"source": options.source},
                "resource": {"site": session.settings.site, "node_type": options.pins.node_type or "compute_skylake"},
                "stats": session.stats()}

    monkeypatch.setattr("chameleon_provision.batch.runner.run", run)
    monkeypatch.setattr(Session, "warm", lambda self, site: None)  # no `openstack` process in the fast lane
    for name, value in {"OS_AUTH_URL": "http://127.0.0.1:9/v3", "OS_USERNAME": "u", "OS_PASSWORD": "p",
                        "OS_PROJECT_NAME": "p", "OS_REGION_NAME": "CHI@UC"}.items():
        monkeypatch.setenv(name, value)
    return seen


def lines(out: str) -> list[dict[str, Any]]:
    return sorted((json.loads(x) for x in out.splitlines()), key=lambda d: d["batch"]["line"])


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "batch.csv"
    path.write_text(text)
    return str(path)


def test_all_succeed_exit_0_one_line_each_with_the_batch_line(tmp_path: Path, fake_run: list[RunOptions],
                                                             run_main: RunMain) -> None:
    code, out, err = run_main("batch", write(tmp_path, "https://github.com/a/one\n# x\nhttps://github.com/a/two\n"),
                              "--plan-only", "--jobs", "2")
    assert code == 0, err
    docs = lines(out)
    assert [(d["batch"]["line"], d["repo"]["source"], d["batch"]["exit_code"]) for d in docs] == [
        (1, "https://github.com/a/one", 0), (3, "https://github.com/a/two", 0)]
    assert "2 succeeded, 0 failed" in err


def test_a_failure_in_the_middle_does_not_stop_the_others_and_exits_20(
        tmp_path: Path, fake_run: list[RunOptions], run_main: RunMain) -> None:
    batch = write(tmp_path, "https://github.com/a/one\nhttps://github.com/a/busy\nhttps://github.com/a/three\n")
    code, out, err = run_main("batch", batch, "--plan-only", "--jobs", "1")
    assert code == 20, err
    docs = lines(out)
    assert [d["batch"]["exit_code"] for d in docs] == [0, 10, 0]
    assert docs[1]["error"]["type"] == "NoCapacityError" and docs[1]["repo"] == {"source": "https://github.com/a/busy"}
    assert docs[1]["run_id"] == "r-busy"
    assert "Error: 1 of 3 repositories failed" in err


def test_none_succeed_exits_21(tmp_path: Path, fake_run: list[RunOptions], run_main: RunMain) -> None:
    code, out, err = run_main("batch", write(tmp_path, "https://github.com/a/busy\nhttps://github.com/a/gone\n"),
                              "--plan-only")
    assert code == 21, err
    assert sorted(d["batch"]["exit_code"] for d in lines(out)) == [4, 10]


def test_csv_overrides_win_over_the_options_per_row(tmp_path: Path, fake_run: list[RunOptions],
                                                    run_main: RunMain) -> None:
    batch = write(tmp_path, "repo,node_type,image,hours,name,site\n"
                            "https://github.com/a/one,gpu_rtx_6000,,6,first,CHI@TACC\n"
                            "https://github.com/a/two,,,,,\n")
    code, out, err = run_main("batch", batch, "--plan-only", "--node-type", "compute_skylake", "--image", "CC-X",
                              "--hours", "2")
    assert code == 0, err
    by_source = {o.source: o for o in fake_run}
    one, two = by_source["https://github.com/a/one"], by_source["https://github.com/a/two"]
    assert (one.pins.node_type, one.pins.image, one.pins.hours, one.name) == ("gpu_rtx_6000", "CC-X", 6.0, "first")
    assert (two.pins.node_type, two.pins.image, two.pins.hours, two.name) == ("compute_skylake", "CC-X", 2.0, None)
    sites = {d["repo"]["source"]: d["resource"]["site"] for d in lines(out)}
    assert sites == {"https://github.com/a/one": "CHI@TACC", "https://github.com/a/two": "CHI@UC"}


def test_bad_rows_and_unknown_sites_stop_the_batch_before_any_run(tmp_path: Path, fake_run: list[RunOptions],
                                                                  run_main: RunMain) -> None:
    code, out, err = run_main("batch", write(tmp_path, "repo,site\nhttps://github.com/a/one,CHI@MARS\n"),
                              "--plan-only")
    assert code == 2 and "batch line 2: unknown site 'CHI@MARS'" in err
    code, out, err = run_main("batch", write(tmp_path, "https://github.com/a/one\n"))  # real, no terminal, no --yes
    assert code == 13 and "--yes" in err
    assert fake_run == [] and out == ""


def test_resume_from_skips_what_the_previous_batch_answered(tmp_path: Path, fake_run: list[RunOptions],
                                                            run_main: RunMain) -> None:
    batch = write(tmp_path, "https://github.com/a/one\nhttps://github.com/a/busy\n")
    code, first, _ = run_main("batch", batch, "--plan-only")
    assert code == 20
    previous = tmp_path / "previous.jsonl"
    previous.write_text(first)
    fake_run.clear()
    code, _, err = run_main("batch", batch, "--plan-only", "--resume-from", str(previous))
    assert [o.source for o in fake_run] == ["https://github.com/a/busy"]  # only the one that failed runs again
    assert code == 21 and "1 skipped" in err


def test_the_ledger_gives_the_last_free_host_to_one_run_only(tmp_path: Path) -> None:
    """Two runs of a real batch read the same allocations; the second sees the first's promise."""
    from chameleon_provision.config import load_settings
    from chameleon_provision.console import Streams

    settings = load_settings({}, {"PROVISION_STATE_DIR": str(tmp_path)})
    root = Session(settings, Streams())
    shared = BatchShared(root, real=True, workers=2)
    only = NODES[:1]
    shared.memo.get(("CHI@UC", "site_hosts"), lambda: SiteHosts(
        tuple((n, BlazarHost.from_record(host(f"h-{n.uid}", n.uid))) for n in only), ()))
    results = []
    for row in (0, 1):
        session = RowSession(shared, row, settings, Streams())
        with session.capacity() as promise:
            found, _ = first_available([candidate(only[0])], lambda site, s=session: s.site_hosts(site, only),
                                       START, END)
            if found is not None:
                promise(found, START, END)
        results.append(found.free_nodes if found else None)
    assert results == [("n1",), None]
    assert shared.ledger.promised() == {0: ("CHI@UC", "h-n1")}
    shared.ledger.release(0)  # the first run failed and removed its lease: the host is free again
    found, _ = first_available([candidate(only[0])], lambda site: shared.site_hosts(site, only), START, END)
    assert found is not None
    # a window after the promise is free even while it stands
    shared.ledger.promise(0, "CHI@UC", "h-n1", START, END)
    later, _ = first_available([candidate(only[0])], lambda site: shared.site_hosts(site, only),
                               END, datetime(2026, 8, 2, 20, 0))
    assert later is not None
    shared.close()


def test_ctrl_c_interrupts_every_run_in_flight_and_exits_130(tmp_path: Path, fake_run: list[RunOptions],
                                                             run_main: RunMain,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import _thread
    import time

    from chameleon_provision.errors import Interrupted

    cleaned: list[str] = []
    started = threading.Barrier(3)

    def slow_run(session: Session, options: RunOptions) -> dict[str, Any]:
        started.wait(timeout=5)
        deadline = time.monotonic() + 10  # never hang the suite if the interrupt went astray
        try:
            while time.monotonic() < deadline:
                time.sleep(0.01)
            raise AssertionError("the run was never interrupted")
        except KeyboardInterrupt:  # what cleanup_on_failure does in a real run: remove, then say so
            cleaned.append(options.source)
            raise Interrupted("interrupted; nothing was left behind", details={"run_id": "r"}) from None

    monkeypatch.setattr("chameleon_provision.batch.runner.run", slow_run)
    threading.Thread(target=lambda: (started.wait(timeout=5), time.sleep(0.2), _thread.interrupt_main()),
                     daemon=True).start()
    code, out, err = run_main("batch", write(tmp_path, "https://github.com/a/one\nhttps://github.com/a/two\n"
                                                       "https://github.com/a/three\n"), "--plan-only", "--jobs", "2")
    assert code == 130, err
    assert len(cleaned) == 2  # both runs in flight were interrupted; the queued third never started
    assert sorted(d["batch"]["exit_code"] for d in lines(out)) == [130, 130]
    assert "batch interrupted; nothing was left behind" in err


def test_the_list_can_come_from_standard_input(fake_run: list[RunOptions], run_main: RunMain,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("https://github.com/a/one\nhttps://github.com/a/two\n"))
    code, out, err = run_main("batch", "-", "--plan-only")
    assert code == 0, err
    assert [d["batch"]["input"] for d in lines(out)] == ["https://github.com/a/one", "https://github.com/a/two"]


def test_rows_naming_the_same_repository_read_it_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chameleon_provision.config import load_settings
    from chameleon_provision.console import Streams
    from chameleon_provision.repo_analyzer import RepoCheckout

    reads: list[Path] = []
    monkeypatch.setattr("chameleon_provision.repo_analyzer.analyze", lambda path: reads.append(path) or len(reads))
    settings = load_settings({}, {"PROVISION_STATE_DIR": str(tmp_path)})
    shared = BatchShared(Session(settings, Streams()), real=False, workers=2)
    one, other = RepoCheckout(tmp_path, "/r/one", "abc", False), RepoCheckout(tmp_path, "/r/two", None, False)
    answers = [RowSession(shared, row, settings, Streams()).analyze(c) for row, c in enumerate((one, one, other))]
    assert answers == [1, 1, 2] and len(reads) == 2
    shared.close()
