"""One exception hierarchy and one set of exit codes; `provision.main` turns each error into a line and a code.

The exit codes are part of the interface (scripts and CI branch on them); docs/exit-codes.md is checked
against `ExitCode` by a test, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    BAD_INPUT = 2
    CONFIG = 3
    REPOSITORY = 4
    CLOUD_COMMAND = 5
    CLOUD_UNREACHABLE = 6
    NO_CAPACITY = 10
    NO_MATCH = 11
    PROVISIONING_FAILED = 12
    CONFIRMATION_REQUIRED = 13
    STATE = 14
    ALLOCATION_EXCEEDED = 15
    SETUP_FAILED = 16
    LEASE_REFUSED = 17
    BATCH_PARTIAL = 20
    BATCH_FAILED = 21
    INTERRUPTED = 130


class ProvisionError(Exception):
    """Base of every error the tool reports to the user as one line."""

    exit_code: ExitCode = ExitCode.FAILURE
    #: a short hint shown after the message ("run X", "set Y")
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint
        #: extra fields for the `--json` error document (run id, what was removed or left, ...)
        self.details: dict[str, Any] = dict(details or {})

    @property
    def message(self) -> str:
        return str(self)

    def document(self) -> dict[str, Any]:
        """The `--json` document for this error."""
        error = {"type": type(self).__name__, "message": self.message, "hint": self.hint,
                 "exit_code": int(self.exit_code)}
        return {"schema_version": 1, **self.details, "error": error}


class InputError(ProvisionError):
    """Bad command-line input: an unusable repository argument, a malformed option value."""

    exit_code = ExitCode.BAD_INPUT


class ConfigError(ProvisionError):
    """Missing or invalid configuration: credentials, endpoints, settings."""

    exit_code = ExitCode.CONFIG


class RepositoryError(ProvisionError):
    """The repository could not be cloned or read."""

    exit_code = ExitCode.REPOSITORY


class OpenStackError(ProvisionError):
    """An `openstack` CLI call failed; carries the CLI's own error line."""

    exit_code = ExitCode.CLOUD_COMMAND

    def __init__(self, message: str, *, command: str = "", stderr: str = "", returncode: int | None = None,
                 hint: str | None = None, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, hint=hint, details=details)
        self.command = command
        self.stderr = stderr
        self.returncode = returncode


class AuthenticationError(OpenStackError):
    """Keystone refused the credentials."""

    exit_code = ExitCode.CONFIG


class CloudUnreachableError(OpenStackError):
    """The cloud's endpoints could not be reached at all."""

    exit_code = ExitCode.CLOUD_UNREACHABLE


class TeardownIncomplete(OpenStackError):
    """`destroy` (or a cleanup) could not remove everything; `details` lists what was removed and left."""


class DiscoveryError(ProvisionError):
    """The resource discovery API failed or returned something unusable."""

    exit_code = ExitCode.CLOUD_UNREACHABLE


class NoCapacityError(ProvisionError):
    """No adequate node is free at any candidate site for the lease window."""

    exit_code = ExitCode.NO_CAPACITY


class NoMatchError(ProvisionError):
    """An infeasible request: nothing in the catalog meets the requirements (no such hardware or image anywhere)."""

    exit_code = ExitCode.NO_MATCH


class ProvisioningFailed(ProvisionError):
    """A lease or server reached ERROR, or did not become ready in time."""

    exit_code = ExitCode.PROVISIONING_FAILED


class ConfirmationRequired(ProvisionError):
    """A create or delete needs confirmation but there is no terminal and no --yes."""

    exit_code = ExitCode.CONFIRMATION_REQUIRED


class StateError(ProvisionError):
    """Recorded run state is missing or inconsistent (unknown run id, corrupt database)."""

    exit_code = ExitCode.STATE


class AllocationExceeded(ProvisionError):
    """Chameleon refused the lease: the project's service units cannot cover it."""

    exit_code = ExitCode.ALLOCATION_EXCEEDED


class SetupFailed(ProvisionError):
    """The node is up but the repository's setup on it failed (the node and its lease are kept)."""

    exit_code = ExitCode.SETUP_FAILED


class LeaseRefused(ProvisionError):
    """Chameleon's lease rules forbid the change (an extension too early, too long, or of an ended lease)."""

    exit_code = ExitCode.LEASE_REFUSED


class ChecksFailed(ProvisionError):
    """`doctor` found at least one failing check."""


class BatchPartial(ProvisionError):
    """`provision batch`: some repositories succeeded and some did not (each has its own line on stdout)."""

    exit_code = ExitCode.BATCH_PARTIAL


class BatchFailed(ProvisionError):
    """`provision batch`: no repository succeeded."""

    exit_code = ExitCode.BATCH_FAILED


class Interrupted(ProvisionError):
    """Ctrl+C or SIGTERM during a run."""

    exit_code = ExitCode.INTERRUPTED
