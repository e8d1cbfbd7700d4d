"""`provision twin serve` and `provision twin env`."""

from __future__ import annotations

import shlex
import signal
import sys
import threading

import click

from chameleon_provision.twin.clock import DEFAULT_SPEED
from chameleon_provision.twin.env import AUTH_MODES, DEFAULT_HOST, DEFAULT_PORT, DEFAULT_SITE, base_url, twin_env
from chameleon_provision.twin.inventory import SITES


@click.group(name="twin")
def twin_group() -> None:
    """Run the local Chameleon twin (CHI@UC and CHI@TACC) for demos and tests."""


@twin_group.command("serve")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0 picks a free one).")
@click.option("--speed", default=DEFAULT_SPEED, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="How much faster than Chameleon leases start and servers boot (1 = real pace).")
@click.option("--quiet", is_flag=True, help="Do not log each request on stderr.")
def serve(host: str, port: int, speed: float, quiet: bool) -> None:
    """Serve the twin in the foreground until interrupted (Ctrl-C or SIGTERM)."""
    from chameleon_provision.twin.server import TwinServer  # the services load only when serving

    try:
        twin = TwinServer(host=host, port=port, speed=speed, log=None if quiet else sys.stderr)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    twin.start()
    click.echo(f"Chameleon twin (CHI@UC, CHI@TACC) listening on {twin.base_url} (speed {speed:g}x)", err=True)
    click.echo(f'Point the CLI at it:  eval "$(provision twin env --port {twin.port})"', err=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        twin.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("Chameleon twin stopped.", err=True)


@twin_group.command("env")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535),
              help="Port the twin listens on.")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address the twin listens on.")
@click.option("--site", default=DEFAULT_SITE, show_default=True,
              help=f"Region to point OS_* at ({', '.join(SITES)}).")
@click.option("--auth", "auth", default="password", show_default=True, type=click.Choice(AUTH_MODES),
              help="Password openrc, or the site's application credential.")
def env(port: int, host: str, site: str, auth: str) -> None:
    """Print `export` lines (like a Chameleon openrc) for the twin: eval "$(provision twin env)"."""
    if site not in SITES:
        raise click.ClickException(f"unknown site {site!r}; the twin has {', '.join(SITES)}")
    for name, value in twin_env(base_url(host, port), site, auth).items():
        click.echo(f"export {name}={shlex.quote(value)}")
