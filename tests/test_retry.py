"""Passing cloud failures (cloud.retry): which are retried, how long, and what the final message says."""

from __future__ import annotations

import pytest

from chameleon_provision.cloud import retry
from chameleon_provision.errors import AuthenticationError, CloudUnreachableError, OpenStackError

HTML_503 = ("ERROR: <html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n"
            "</body></html>")


def failure(stderr: str, command: str = "openstack reservation host list") -> OpenStackError:
    return OpenStackError(f"`{command}` failed: {stderr.splitlines()[-1]}", command=command, stderr=stderr,
                          returncode=1)


@pytest.mark.parametrize(("stderr", "status"), [
    (HTML_503, 503),
    ("HttpException: 502: Server Error for url: http://x/servers/detail, Unexpected API Error.", 502),
    ("HttpException: 429: Client Error for url: http://x/floatingips, 429 Too Many Requests", 429),
    ("Service Unavailable (HTTP 503) (Request-ID: req-1)", 503),
])
def test_gateway_and_rate_limit_answers_are_transient(stderr: str, status: int) -> None:
    exc = failure(stderr)
    assert retry.http_status(exc) == status and retry.is_transient(exc)


@pytest.mark.parametrize("stderr", [
    "ERROR: Not enough resources available with query [...] (HTTP 500)",
    "No server with a name or ID of 'x' exists.",
    "HttpException: 409: Client Error for url: http://x, Conflict",
])
def test_refusals_and_conflicts_are_not_transient(stderr: str) -> None:
    assert not retry.is_transient(failure(stderr))


def test_auth_failures_are_never_retried() -> None:
    assert not retry.is_transient(AuthenticationError("The request you have made requires authentication. "
                                                      "(HTTP 401)", command="openstack token issue"))


def test_a_burst_of_two_503s_is_ridden_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _s: None)
    answers = [failure(HTML_503), failure(HTML_503), ["host"]]

    def call() -> list[str]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert retry.retry_read(call) == ["host"] and answers == []


def test_a_lasting_503_ends_with_the_service_status_and_no_html(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _s: None)
    calls = []

    def call() -> None:
        calls.append(1)
        raise failure(HTML_503)

    with pytest.raises(OpenStackError) as info:
        retry.retry_read(call, attempts=3)
    assert len(calls) == 3
    message = info.value.message
    assert message.startswith("Blazar answered HTTP 503 Service Unavailable to `openstack reservation host list`")
    assert "<" not in message and "No server is available" in message


def test_an_unreachable_keystone_is_the_cloud_unreachable_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _s: None)

    def call() -> None:
        raise failure("Service Unavailable (HTTP 503) (Request-ID: req-1)", command="openstack token issue")

    with pytest.raises(CloudUnreachableError) as info:
        retry.retry_read(call, attempts=2)
    assert info.value.exit_code == 6 and "Keystone answered HTTP 503" in info.value.message


def test_a_429_waits_at_least_the_rate_limit_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("time.sleep", slept.append)
    answers = [failure("HttpException: 429: Client Error, 429 Too Many Requests"), "ok"]

    def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert retry.retry_read(call, base=0.01) == "ok" and slept and slept[0] >= retry.RATE_LIMIT_WAIT


def test_a_create_cut_short_by_a_dying_session_is_checked_by_name() -> None:
    cut = OpenStackError("`openstack server create` was cut short: the openstack session ended (it exited with "
                         "status -9)", command="openstack server create")
    assert retry.is_transient(cut)
