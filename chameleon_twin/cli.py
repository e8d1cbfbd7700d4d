"""`chameleon-twin serve` and `chameleon-twin env` (also reachable as `provision twin ...`)."""

from __future__ import annotations

import ipaddress
import shlex
import signal
import sys
import threading

import click

from chameleon_twin.clock import DEFAULT_SPEED
from chameleon_twin.env import AUTH_MODES, DEFAULT_HOST, DEFAULT_PORT, DEFAULT_SITE, base_url, twin_env
from chameleon_twin.inventory import SITES


def is_loopback(host: str) -> bool:
    """True for `localhost`, 127.0.0.0/8 and ::1: addresses other machines cannot reach."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # any other name may resolve to a routable address
        return False


@click.group(name="twin", context_settings={"help_option_names": ["-h", "--help"]})
def twin_group() -> None:
    """Run the local Chameleon twin (CHI@UC, CHI@TACC and CHI@NCAR) for demos and tests."""


@twin_group.command("serve")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on (loopback only, "
              "unless --allow-remote-admin).")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0 picks a free one).")
@click.option("--speed", default=DEFAULT_SPEED, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="How much faster than Chameleon leases start and servers boot (1 = real pace).")
@click.option("--quiet", is_flag=True, help="Do not log each request on stderr.")
@click.option("--allow-remote-admin", is_flag=True,
              help="Listen on a non-loopback address even though /_twin (reset, faults) needs no token.")
def serve(host: str, port: int, speed: float, quiet: bool, allow_remote_admin: bool) -> None:
    """Serve the twin in the foreground until interrupted (Ctrl-C or SIGTERM)."""
    # The admin API can reset or break the twin and has no auth, so it stays on loopback unless asked.
    if not is_loopback(host) and not allow_remote_admin:
        raise click.ClickException(f"--host {host} is not a loopback address and the /_twin admin API has no "
                                   "authentication; pass --allow-remote-admin to expose it anyway")
    from chameleon_twin.server import TwinServer  # the services load only when serving

    try:
        twin = TwinServer(host=host, port=port, speed=speed, log=None if quiet else sys.stderr)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    twin.start()
    click.echo(f"Chameleon twin ({', '.join(SITES)}) listening on {twin.base_url} (speed {speed:g}x)", err=True)
    if not is_loopback(host):
        click.echo(f"Warning: anyone who can reach {host} port {twin.port} can reset or break the twin "
                   "through /_twin", err=True)
    click.echo(f'Point the CLI at it:  eval "$(chameleon-twin env --port {twin.port})"', err=True)
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
    """Print `export` lines (like a Chameleon openrc) for the twin: eval "$(chameleon-twin env)"."""
    if site not in SITES:
        raise click.ClickException(f"unknown site {site!r}; the twin has {', '.join(SITES)}")
    for name, value in twin_env(base_url(host, port), site, auth).items():
        click.echo(f"export {name}={shlex.quote(value)}")


def main() -> None:
    """The `chameleon-twin` console script and `python -m chameleon_twin`."""
    twin_group.main()
