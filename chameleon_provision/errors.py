"""One exception hierarchy; the CLI turns each class into a message and an exit code in one place.

The exit codes are part of the interface (scripts and CI branch on them) and are listed in
docs/exit-codes.md; change both together.
"""

from __future__ import annotations


class ProvisionError(Exception):
    """Base of every error the tool reports to the user as one line."""

    exit_code = 1
    #: a short hint shown after the message ("run X", "set Y")
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    @property
    def message(self) -> str:
        return str(self)


class InputError(ProvisionError):
    """Bad command-line input: an unusable repository argument, a malformed option value."""

    exit_code = 2


class ConfigError(ProvisionError):
    """Missing or invalid configuration: credentials, endpoints, settings."""

    exit_code = 3


class RepositoryError(ProvisionError):
    """The repository could not be cloned or read."""

    exit_code = 4


class OpenStackError(ProvisionError):
    """An `openstack` CLI call failed; carries the CLI's own error line."""

    exit_code = 5

    def __init__(self, message: str, *, command: str = "", stderr: str = "", returncode: int | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.command = command
        self.stderr = stderr
        self.returncode = returncode


class AuthenticationError(OpenStackError):
    """Keystone refused the credentials."""

    exit_code = 3


class CloudUnreachableError(OpenStackError):
    """The cloud's endpoints could not be reached at all."""

    exit_code = 6


class DiscoveryError(ProvisionError):
    """The resource discovery API failed or returned something unusable."""

    exit_code = 6


class NoCapacityError(ProvisionError):
    """No adequate node is free at any candidate site for the lease window."""

    exit_code = 10


class NoMatchError(ProvisionError):
    """Nothing in the catalog meets the requirements (no such hardware or image anywhere)."""

    exit_code = 11


class ProvisioningFailed(ProvisionError):
    """A lease or server reached ERROR, or did not become ready in time."""

    exit_code = 12


class ConfirmationRequired(ProvisionError):
    """A create or delete needs confirmation but there is no terminal and no --yes."""

    exit_code = 13


class StateError(ProvisionError):
    """Recorded run state is missing or inconsistent (unknown run id, corrupt database)."""

    exit_code = 14


class Interrupted(ProvisionError):
    """Ctrl+C or SIGTERM during a run."""

    exit_code = 130
