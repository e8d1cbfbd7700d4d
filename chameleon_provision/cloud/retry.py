"""Which `openstack` failures are passing, how to say what failed, and trying a read again with backoff.

Over a 10-30 minute bare-metal deploy a cloud answers 502, 503 and 429 now and then. The CLI reports
these only as text on stderr (HttpException lines, "(HTTP 503)", or a proxy's HTML page), so the status
is read from there. Only idempotent reads are retried here; a create is retried by its caller after it
has checked, by the resource's unique name, that the first attempt did not take effect. 401/403 are
never retried. The CLI does not show a 429's Retry-After header, so a 429 waits at least RATE_LIMIT_WAIT.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, stop_after_delay
from tenacity.wait import wait_exponential_jitter

from chameleon_provision.errors import AuthenticationError, CloudUnreachableError, OpenStackError

log = logging.getLogger(__name__)
T = TypeVar("T")

TRANSIENT_STATUS = frozenset({429, 502, 503, 504})
RATE_LIMIT_WAIT = 5.0
_STATUS = re.compile(r"(?:HttpException: |\(HTTP |HTTP |<h1>|^ERROR: |(?:Server|Client) Error for url: \S+, )(\d{3})\b",
                     re.MULTILINE)
# Network trouble, and the local `openstack` session dying under a command (a create then is checked by name).
_NETWORK = re.compile(r"(?i)unable to establish connection|connection (?:aborted|reset|refused)|remotedisconnected"
                      r"|read timed out|timed out|did not finish within|temporarily unavailable|was cut short")
_SERVICES = {"token": "Keystone", "project": "Keystone", "reservation": "Blazar", "server": "Nova",
             "keypair": "Nova", "flavor": "Nova", "image": "Glance", "floating": "Neutron", "network": "Neutron",
             "port": "Neutron", "subnet": "Neutron"}
_REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
            504: "Gateway Timeout"}


def http_status(exc: OpenStackError) -> int | None:
    match = _STATUS.search(f"{exc.stderr}\n{exc.message}")
    return int(match.group(1)) if match else None


def is_transient(exc: BaseException) -> bool:
    if not isinstance(exc, OpenStackError) or isinstance(exc, AuthenticationError):
        return False
    status = http_status(exc)
    if status is not None:
        return status in TRANSIENT_STATUS
    return bool(_NETWORK.search(f"{exc.stderr}\n{exc.message}"))


def service_of(command: str) -> str:
    words = command.split()
    word = words[1] if words[:1] == ["openstack"] and len(words) > 1 else (words[0] if words else "")
    return _SERVICES.get(word, "the cloud")


def explain(exc: OpenStackError) -> OpenStackError:
    """The same error with a message that names the service, the HTTP status and the CLI's own line."""
    status = http_status(exc)
    if status is None or isinstance(exc, AuthenticationError) or (status < 500 and status != 429):
        return exc  # a refusal's own line says what to fix; only server-side failures come as HTML or noise
    line = _cli_line(exc.stderr or exc.message)
    message = f"{service_of(exc.command)} answered HTTP {status} {_REASONS.get(status, '')}".rstrip()
    message += f" to `{exc.command}`" if exc.command else ""
    message += f": {line}" if line and str(status) not in line[:40] else (f" ({line})" if line else "")
    cls = CloudUnreachableError if service_of(exc.command) == "Keystone" and status >= 500 else type(exc)
    return cls(message, command=exc.command, stderr=exc.stderr, returncode=exc.returncode, hint=exc.hint,
               details=exc.details)


def _cli_line(text: str) -> str:
    """The CLI's last meaningful line, with any HTML page reduced to its words."""
    plain = html.unescape(re.sub(r"<[^>]+>", " ", text))
    lines = [" ".join(line.split()) for line in plain.splitlines()]
    lines = [line for line in lines if line and not line.startswith("Could not load ")]
    return lines[-1][:200] if lines else ""


def _wait(base: float, cap: float) -> Callable[[RetryCallState], float]:
    jittered = wait_exponential_jitter(multiplier=base, max=cap)

    def wait(state: RetryCallState) -> float:
        delay = jittered(state)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, OpenStackError) and http_status(exc) == 429:
            delay = max(delay, RATE_LIMIT_WAIT)
        return float(delay)
    return wait


def retry_read(call: Callable[[], T], *, attempts: int = 5, base: float = 1.0, cap: float = 20.0,
               deadline: float = 120.0) -> T:
    """`call()` again on a passing failure (5 tries, exponential backoff with jitter), then the explained error."""
    retrying = Retrying(stop=stop_after_attempt(attempts) | stop_after_delay(deadline), wait=_wait(base, cap),
                        retry=retry_if_exception(is_transient), reraise=True,
                        before_sleep=lambda s: log.info("retrying after %s", s.outcome.exception() if s.outcome
                                                        else "an error"))
    try:
        return retrying(call)
    except OpenStackError as exc:
        raise explain(exc) from None
