"""`provision`: the click shell. Commands parse options and hand over to the package."""

from __future__ import annotations

import functools
import importlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from chameleon_provision import __version__
from chameleon_provision.errors import (
    ChecksFailed,
    ExitCode,
    Interrupted,
    ProvisionError,
)


class DefaultGroup(click.Group):
    """A group whose first argument, when it is not a subcommand, is the repository to provision."""

    default_command = "up"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


class LazyGroup(click.Group):
    """A subcommand group imported only when it runs: `provision --help` shows `help` without loading it."""

    def __init__(self, name: str, target: str, help: str) -> None:
        super().__init__(name=name, help=help)
        self.target = target  # "module:attribute" of the real click.Group

    def _real(self) -> click.Group:
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._real().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._real().get_command(ctx, cmd_name)


def _complete(name: str) -> Callable[..., Any]:
    """A shell-completion callback from commands.completion, imported only when the shell asks."""
    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> Any:
        from chameleon_provision.commands import completion

        return getattr(completion, name)(ctx, param, incomplete)
    return complete


def _emit(doc: dict[str, Any]) -> None:
    click.echo(json.dumps(doc, indent=2))


def _confirmer(yes: bool) -> Callable[[str], bool] | None:
    if yes:
        return lambda _question: True
    if sys.stdin.isatty():
        return lambda question: click.confirm(question, default=False, err=True)
    return None


@dataclass
class Common:
    """Options every command takes; `main()` reads `json` and `traceback` from here to report errors."""

    json: bool = False
    verbosity: int = 0  # -1 quiet, 0 normal, 1 verbose, 2 debug
    traceback: bool = False
    env_file: Path | None = None


def common(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Adds the shared options and hands the command one `Common` (also kept on the click context)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, json_: bool, verbose: int, quiet: bool, traceback: bool, env_file: Path | None,
                os_cloud: str | None, **kwargs: Any) -> Any:
        from chameleon_provision.profiles import chosen

        chosen.set(os_cloud)  # open_session reads it; it wins over OS_CLOUD and a run's recorded profile
        opts = click.get_current_context().ensure_object(Common)
        opts.json, opts.verbosity, opts.traceback, opts.env_file = json_, -1 if quiet else verbose, traceback, env_file
        return fn(*args, opts=opts, **kwargs)

    for option in reversed([
        click.option("json_", "--json", is_flag=True, help="Print one JSON document on stdout."),
        click.option("-v", "--verbose", count=True, help="More detail on stderr (-vv for debug)."),
        click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr."),
        click.option("--traceback", is_flag=True, help="Show the Python traceback on errors."),
        click.option("--env-file", type=click.Path(dir_okay=False, path_type=Path),
                     help="A dotenv file of settings, trusted like the environment."),
        click.option("--os-cloud", metavar="NAME", help="A clouds.yaml profile (default: OS_CLOUD).",
                     shell_complete=_complete("profiles")),
    ]):
        wrapper = option(wrapper)
    return wrapper


def run_options(*, per_row: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The options the main command and `batch` share; in a batch, a row's own column wins over a pin."""
    def row(text: str, column: str) -> str:
        return f"{text} (a row's `{column}` column wins)." if per_row else f"{text}."

    options = [
        click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation."),
        click.option("--ai", type=click.Choice(["auto", "on", "off"]), help="Use the AI (auto: when a key is set)."),
        click.option("--model", help="AI model name."),
        click.option("--site", help=row("Chameleon site, e.g. CHI@UC or CHI@TACC", "site"),
                     shell_complete=_complete("sites")),
        click.option("--node-type", help=row("Pin the node type", "node_type")),
        click.option("--image", help=row("Pin the image (name or id)", "image")),
        click.option("--hours", type=click.FloatRange(min=1, max=168), help=row("Pin the lease length", "hours")),
        click.option("--max-hours", type=click.FloatRange(min=1, max=168), help="Upper bound on the lease length."),
        click.option("--max-su", type=click.FloatRange(min=0, min_open=True),
                     help="Service units --yes may approve for each run (default 100; more needs this or a "
                          "terminal yes)."),
        click.option("--public-key", type=click.Path(dir_okay=False, path_type=Path), help="SSH public key to use."),
        click.option("--keep-on-failure", is_flag=True, help="Leave created resources in place if a step fails."),
        click.option("--twin", is_flag=True, help="Run against a Chameleon twin started in this process."),
        click.option("--setup/--no-setup", default=True, show_default=True,
                     help="Set the repository up on the node at first boot (clone, environment, GPU check)."),
        click.option("--setup-cmd", "setup_cmds", multiple=True, metavar="CMD",
                     help="A command to run last in the setup, in the repository and its environment "
                          "(repeatable)."),
        click.option("--prefer-gpu", is_flag=True,
                     help="When the GPU is optional and the CPU is the documented main path, plan a GPU node."),
    ]

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="provision")
def cli() -> None:
    """Bring up a Chameleon Cloud bare-metal node for a GitHub repository.

    \b
    Examples:
      provision https://github.com/owner/repo
      provision ./my-repo --plan-only --json
      provision ./my-repo --twin --yes        # against a built-in twin
      provision status
      provision destroy RUN_ID
    """


@cli.command(name="up")
@click.argument("repo")
@click.option("--plan-only", is_flag=True, help="Decide everything, create nothing.")
@click.option("--start", metavar="WHEN",
              help='When the lease starts: now (default), earliest (the first time a node is free), or a UTC '
                   'date "YYYY-MM-DD HH:MM" (a booking; the run waits for it).')
@click.option("--name", help="Server name (default prov-REPO-RUNID).")
@click.option("--new", "new_run", is_flag=True, help="Start another run even if one with this --name is live.")
@run_options(per_row=False)
@common
def up(repo: str, plan_only: bool, yes: bool, ai: str | None, model: str | None, site: str | None,
       node_type: str | None, image: str | None, hours: float | None, max_hours: float | None,
       start: str | None, max_su: float | None, name: str | None,
       public_key: Path | None, keep_on_failure: bool, new_run: bool, twin: bool, setup: bool,
       setup_cmds: tuple[str, ...], prefer_gpu: bool, opts: Common) -> None:
    """Provision a node for REPO (https URL, git@host:path, or a local folder)."""
    from chameleon_provision.config import require_cloud_credentials
    from chameleon_provision.pipeline.startup import open_session
    from chameleon_provision.repo_analyzer import classify_source
    from chameleon_provision.setup.build import SetupOptions

    classify_source(repo)  # bad input is named first, before credentials, git or the cloud
    if start is not None:
        from chameleon_provision.decisions.lease import parse_start

        start = parse_start(start)
    setup_options = SetupOptions(setup, setup_cmds)
    if name is not None:
        from chameleon_provision.pipeline.run import check_name

        check_name(name)
    flags = {"ai": ai, "model": model, "site": site, "max_hours": max_hours, "max_su": max_su,
             "public_key": public_key}
    confirm = _confirmer(yes)
    with open_session(flags, verbosity=opts.verbosity, env_file=opts.env_file, twin=twin) as session:
        require_cloud_credentials(session.settings)
        if plan_only or confirm is not None:  # the CLI's 1-2 s start-up overlaps the imports below
            session.warm(session.settings.site)
        from chameleon_provision.commands.render import summary
        from chameleon_provision.pipeline.planner import Pins
        from chameleon_provision.pipeline.run import RunOptions, run

        pins = Pins(node_type, image, hours, prefer_gpu=prefer_gpu, start=start)
        doc = run(session, RunOptions(source=repo, plan_only=plan_only, pins=pins, name=name,
                                      keep_on_failure=keep_on_failure, confirm=confirm,
                                      assume_yes=yes, new=new_run, setup=setup_options))
        _emit(doc) if opts.json else summary(session.streams.out, doc)


@cli.command(name="batch")
@click.argument("source", metavar="FILE|-")
@click.option("--plan-only", is_flag=True, help="Plan every repository, create nothing.")
@click.option("--jobs", "-j", type=click.IntRange(1, 32), default=4, show_default=True,
              help="Repositories in flight at once.")
@click.option("--resume-from", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A previous batch's output: skip the repositories it answered successfully.")
@run_options(per_row=True)
@common
def batch(source: str, plan_only: bool, jobs: int, resume_from: Path | None, yes: bool, ai: str | None,
          model: str | None, site: str | None, node_type: str | None, image: str | None, hours: float | None,
          max_hours: float | None, max_su: float | None, public_key: Path | None, keep_on_failure: bool,
          twin: bool, setup: bool, setup_cmds: tuple[str, ...], prefer_gpu: bool, opts: Common) -> None:
    """Provision (or plan) every repository in FILE (`-`: standard input): one per line, or CSV with a
    header `repo,node_type,image,hours,name,site`. One JSON line per repository on stdout."""
    from chameleon_provision.commands.batch import batch_command
    from chameleon_provision.pipeline.planner import Pins
    from chameleon_provision.setup.build import SetupOptions

    opts.json = False  # every line on stdout is already a JSON document; an error is the summary on stderr

    flags = {"ai": ai, "model": model, "site": site, "max_hours": max_hours, "max_su": max_su,
             "public_key": public_key}
    pins = Pins(node_type, image, hours, prefer_gpu=prefer_gpu)
    batch_command(source, flags, plan_only=plan_only, jobs=jobs, pins=pins,
                  keep_on_failure=keep_on_failure, assume_yes=yes, confirm=None if yes else _confirmer(False),
                  resume_from=resume_from, verbosity=opts.verbosity, env_file=opts.env_file, twin=twin,
                  setup=SetupOptions(setup, setup_cmds))


@cli.command(name="plan-diff")
@click.argument("old", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@common
def plan_diff_cmd(old: Path, new: Path, opts: Common) -> None:
    """What changed between two `--plan-only --json` plans (exit 0: the same, 1: different)."""
    from chameleon_provision.commands.plan_diff import PlansDiffer, plan_diff, render

    changes, doc = plan_diff(old, new)
    if opts.json and not changes:
        _emit(doc)
    elif not opts.json:
        click.echo("\n".join(render(changes)))
    if changes:  # the `--json` error document carries `same` and `changes`
        raise PlansDiffer(f"the plans differ in {len(changes)} field(s): {', '.join(c.field for c in changes)}",
                          details=doc)


@cli.command(name="analyze")
@click.argument("repo")
@click.option("--ai", type=click.Choice(["auto", "on", "off"]), help="Use the AI (auto: when a key is set).")
@click.option("--model", help="AI model name.")
@common
def analyze_cmd(repo: str, ai: str | None, model: str | None, opts: Common) -> None:
    """Print what REPO needs (hardware, OS, frameworks) with the evidence."""
    from chameleon_provision.commands.analyze import analyze_document, render_analysis
    from chameleon_provision.pipeline.startup import open_session

    with open_session({"ai": ai, "model": model}, verbosity=opts.verbosity, env_file=opts.env_file) as session:
        doc = analyze_document(session, repo)
        _emit(doc) if opts.json else render_analysis(session.streams.out, doc)


@cli.command(name="status")
@click.argument("run_id", required=False, shell_complete=_complete("run_ids"))
@click.option("--local", is_flag=True, help="Only read the local record; do not ask the cloud.")
@common
def status(run_id: str | None, local: bool, opts: Common) -> None:
    """My runs as the cloud sees them: leases, servers, addresses, time left, cost, drift and the next step."""
    from chameleon_provision.commands.profile_runs import observe_runs
    from chameleon_provision.commands.render import status_document, status_table
    from chameleon_provision.pipeline.startup import open_session

    with open_session({}, verbosity=opts.verbosity, env_file=opts.env_file) as session:
        store = session.store
        runs = [store.run(run_id)] if run_id else store.runs()  # an unknown id is a StateError
        # each run is read with the clouds.yaml profile it was made with, if any
        views = observe_runs(session, runs, local=local, verbosity=opts.verbosity, env_file=opts.env_file)
        state_dir = session.settings.state_dir
        _emit(status_document(views, state_dir)) if opts.json else status_table(session.streams.out, views, state_dir)


@cli.command(name="resume")
@click.argument("run_id", shell_complete=_complete("run_ids"))
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--keep-on-failure", is_flag=True, help="Leave created resources in place if a step fails.")
@common
def resume_cmd(run_id: str, yes: bool, keep_on_failure: bool, opts: Common) -> None:
    """Carry RUN_ID on from where it stopped, reusing its live lease, server and address."""
    from chameleon_provision.commands.profile_runs import open_run_session
    from chameleon_provision.commands.render import summary
    from chameleon_provision.pipeline.resume import resume

    with open_run_session(run_id, verbosity=opts.verbosity, env_file=opts.env_file) as (session, _run):
        doc = resume(session, run_id, keep_on_failure=keep_on_failure, confirm=_confirmer(yes))
        _emit(doc) if opts.json else summary(session.streams.out, doc)


@cli.command(name="destroy")
@click.argument("run_id", shell_complete=_complete("run_ids"))
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@common
def destroy(run_id: str, yes: bool, opts: Common) -> None:
    """Delete the lease, server and floating IP that RUN_ID created."""
    from chameleon_provision.commands.destroy import destroy_run
    from chameleon_provision.commands.profile_runs import open_run_session

    # unknown id -> StateError before anything else; a run made with a clouds.yaml profile uses it again
    with open_run_session(run_id, verbosity=opts.verbosity, env_file=opts.env_file) as (session, run):
        doc = destroy_run(session, run, _confirmer(yes), quiet_summary=opts.json)
    if opts.json:
        _emit(doc)


@cli.command(name="extend")
@click.argument("run_id")
@click.option("--hours", type=click.FloatRange(min=0, min_open=True, max=168), required=True,
              help="Hours to add to the lease's end (Chameleon: within 48 h of the end, at most 168).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@common
def extend_cmd(run_id: str, hours: float, yes: bool, opts: Common) -> None:
    """Prolong RUN_ID's lease by --hours, within Chameleon's rules."""
    from chameleon_provision.commands.extend import extend
    from chameleon_provision.pipeline.startup import open_session

    with open_session({}, verbosity=opts.verbosity, env_file=opts.env_file) as session:
        doc = extend(session, run_id, hours, _confirmer(yes))
        if opts.json:
            _emit(doc)
        else:
            session.streams.out.print(f"Run {run_id}: the lease now ends {doc['lease']['end']} UTC "
                                      f"(was {doc['lease']['end_before']})", highlight=False)


@cli.command(name="ssh", context_settings={"ignore_unknown_options": True})
@click.argument("run_id")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@common
def ssh_cmd(run_id: str, command: tuple[str, ...], opts: Common) -> None:
    """Open a shell on RUN_ID's node (or run `-- CMD...` there) with ssh and the run's Host block."""
    from chameleon_provision.commands.ssh import exec_ssh, ssh_argv
    from chameleon_provision.pipeline.startup import open_session

    with open_session({}, verbosity=opts.verbosity, env_file=opts.env_file) as session:
        argv = ssh_argv(session.settings.state_dir, session.store, run_id, command)
    exec_ssh(argv)


@cli.command(name="doctor")
@common
def doctor(opts: Common) -> None:
    """Check the environment: openstack CLI, credentials, endpoints, AI, state."""
    from chameleon_provision.commands.doctor import run_checks
    from chameleon_provision.pipeline.startup import open_session

    with open_session({}, verbosity=opts.verbosity, env_file=opts.env_file) as session:
        checks = run_checks(session)
        doc = {"schema_version": 1, "checks": [c.__dict__ for c in checks]}
        if not opts.json:
            for c in checks:
                mark = "[green]ok[/green]  " if c.ok else "[red]FAIL[/red]"
                session.streams.out.print(f"{mark} {c.name}: {c.detail}", highlight=False)
        failed = [c.name for c in checks if not c.ok]
        if failed:
            raise ChecksFailed(f"failing checks: {', '.join(failed)}", hint="see the lines above", details=doc)
        if opts.json:
            _emit(doc)


# The twin is its own package (`chameleon-twin`); loading it lazily keeps it out of every other command.
cli.add_command(LazyGroup("twin", "chameleon_twin.cli:twin_group",
                          help="Run the local Chameleon twin (CHI@UC, CHI@TACC and CHI@NCAR) for demos and tests."))


def main(argv: list[str] | None = None) -> None:
    """Console entry point: the one place errors become a message and an exit code."""
    opts = Common()
    try:
        cli.main(args=sys.argv[1:] if argv is None else argv, prog_name="provision", standalone_mode=False,
                 obj=opts)
    except click.ClickException as exc:
        exc.show()
        sys.exit(ExitCode.BAD_INPUT if isinstance(exc, click.UsageError) else exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        _report(Interrupted("interrupted"), opts)
    except ProvisionError as exc:
        if opts.traceback:
            raise
        _report(exc, opts)
    sys.exit(ExitCode.OK)


def _report(exc: ProvisionError, opts: Common) -> None:
    click.echo(f"Error: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""), err=True)
    if opts.json:
        _emit(exc.document())
    sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
