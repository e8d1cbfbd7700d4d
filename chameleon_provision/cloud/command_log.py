"""The runner every `openstack` command passes through on its way to the CLI: it writes each one to the run log.

One line per command with its arguments, its duration and its exit status (`timeout` when it was cut
off), and the request id when the CLI printed one (Nova, Neutron and Keystone errors carry
"Request-ID: req-…"). It wraps whichever runner the site uses, so the session and the
one-process-per-command runners log alike.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Sequence
from typing import Any, Protocol

from chameleon_provision.cloud.openstack_cli import OpenStackRunner
from chameleon_provision.errors import OpenStackError

_REQUEST_ID = re.compile(r"req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Options whose value is never written down, should a command ever carry one.
_HIDDEN = frozenset({"--password", "--secret", "--os-password", "--application-credential-secret", "--token"})


class EventSink(Protocol):
    def event(self, kind: str, text: str, **fields: object) -> None: ...


def shown(args: Sequence[str]) -> str:
    out, hide = [], False
    for arg in args:
        out.append("****" if hide else arg)
        hide = arg in _HIDDEN
    return shlex.join(out)


def request_ids(text: str) -> str | None:
    found = list(dict.fromkeys(_REQUEST_ID.findall(text)))
    return ",".join(found) if found else None


class LoggedRunner:
    """An OpenStackRunner that reports every command to `sink`; everything else is the wrapped runner's."""

    def __init__(self, runner: OpenStackRunner, sink: EventSink, site: str) -> None:
        self.inner = runner
        self.sink = sink
        self.site = site

    def __getattr__(self, name: str) -> Any:  # calls, processes, start, close, pid, ...
        return getattr(self.inner, name)

    def run(self, args: Sequence[str], *, output: str = "json", timeout: float | None = None) -> Any:
        started = time.monotonic()
        try:
            result = self.inner.run(args, output=output, timeout=timeout)
        except OpenStackError as exc:
            status = exc.returncode if exc.returncode is not None else (
                "timeout" if "did not finish" in exc.message else "failed")
            self._log(args, started, status, request_ids(f"{exc.stderr}\n{exc.message}"), exc.message)
            raise
        except BaseException:
            self._log(args, started, "interrupted", None, None)
            raise
        self._log(args, started, 0, request_ids(str(result)) if result is not None else None, None)
        return result

    def _log(self, args: Sequence[str], started: float, status: object, request: str | None,
             error: str | None) -> None:
        self.sink.event("openstack", shown(args), site=self.site, seconds=f"{time.monotonic() - started:.2f}",
                        exit=status, request=request, error=error[:300] if error else None)
