"""The setup as one bash script: cloud-init runs it as root once the node boots (user-data).

It logs every step with timestamps to ~/.provision/setup.log and keeps ~/.provision/setup.status, a JSON
record (state running/waiting/ok/failed, the step, its position, and on failure the failing step and the
log's tail) that `provision` reads over SSH. `set -euo pipefail` and an EXIT trap make any failing
command end the setup with the failing step recorded. A step that finished leaves a marker, so running
the saved copy again (~/.provision/setup.sh) carries on after the last good step.

The paths (user, home, state folder) can be moved with PROVISION_USER, PROVISION_HOME and
PROVISION_STATE_DIR, which tests use to run the script in a temporary root.
"""

from __future__ import annotations

from chameleon_provision.setup.steps import Clone, Step, q

_HEADER = r"""#!/bin/bash
# Node setup written by chameleon-provision for {repo}{at}.
# Progress: ~/.provision/setup.log  State (JSON): ~/.provision/setup.status  See docs/setup.md.
set -euo pipefail
umask 022
PROVISION_USER="${{PROVISION_USER:-cc}}"
PROVISION_HOME="${{PROVISION_HOME:-/home/$PROVISION_USER}}"
STATE_DIR="${{PROVISION_STATE_DIR:-$PROVISION_HOME/.provision}}"
LOG="$STATE_DIR/setup.log"
STATUS="$STATE_DIR/setup.status"
REPO_DIR="$PROVISION_HOME/"{repo_q}
STEPS_TOTAL={total}
STEP=prepare
STEP_INDEX=0
STEP_STARTED=""

now() {{ date -u +%Y-%m-%dT%H:%M:%SZ; }}
STARTED="$(now)"

# A JSON string body from stdin: printable ASCII only, backslashes and quotes escaped, lines joined by \n.
json_text() {{
  LC_ALL=C tr -cd '\11\12\40-\176' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' | awk '{{printf "%s\\n", $0}}'
}}

write_status() {{
  local state="$1" code="${{2:-0}}" tail="" failed=null
  if [ "$state" = failed ]; then
    tail="$(tail -n 40 "$LOG" | json_text)"
    failed="\"$STEP\""
  fi
  printf '{{"schema_version": 1, "state": "%s", "step": "%s", "step_index": %d, "steps_total": %d, ' \
    "$state" "$STEP" "$STEP_INDEX" "$STEPS_TOTAL" >"$STATUS.tmp"
  printf '"started_at": "%s", "step_started_at": "%s", "updated_at": "%s", "failed_step": %s, ' \
    "$STARTED" "$STEP_STARTED" "$(now)" "$failed" >>"$STATUS.tmp"
  printf '"exit_code": %d, "log_tail": "%s"}}\n' "$code" "$tail" >>"$STATUS.tmp"
  mv -f "$STATUS.tmp" "$STATUS"
}}

on_exit() {{
  local code=$?
  if [ "$code" -ne 0 ]; then
    echo "[$(now)] setup FAILED in step $STEP (exit $code)"
    write_status failed "$code"
  fi
}}

as_root() {{ if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n -- "$@"; fi; }}
as_user() {{ if [ "$(id -un)" = "$PROVISION_USER" ]; then "$@"; else sudo -n -u "$PROVISION_USER" -H -- "$@"; fi; }}
in_repo() {{ (cd "$REPO_DIR" && as_user "$@"); }}
root_in_repo() {{ (cd "$REPO_DIR" && as_root "$@"); }}

{helpers}

ensure_docker() {{
  if ! command -v docker >/dev/null 2>&1; then
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io
  fi
}}

begin() {{
  STEP="$1"
  STEP_INDEX="$2"
  STEP_STARTED="$(now)"
  if [ -e "$STATE_DIR/done/$1" ]; then
    echo "[$(now)] step $1: done earlier, skipped"
    return 1
  fi
  echo "[$(now)] step $1 ($2/$STEPS_TOTAL): $3"
  write_status running
}}

finish() {{
  touch "$STATE_DIR/done/$1"
  echo "[$(now)] step $1: ok"
}}

mkdir -p "$STATE_DIR/done"
touch "$LOG"
if [ "$(id -u)" -eq 0 ] && id -u "$PROVISION_USER" >/dev/null 2>&1; then
  chown "$PROVISION_USER:" "$STATE_DIR" "$STATE_DIR/done" "$LOG"
fi
exec >>"$LOG" 2>&1
trap on_exit EXIT
if [ "$0" != "$STATE_DIR/setup.sh" ] && [ -f "$0" ]; then cp -- "$0" "$STATE_DIR/setup.sh"; fi
echo "[$STARTED] setup of $REPO_DIR started"
write_status running
"""

_CONDA = """CONDA_DIR="$PROVISION_HOME/miniforge3"
CONDA=conda
ensure_conda() {
  if command -v conda >/dev/null 2>&1; then CONDA="$(command -v conda)"; return 0; fi
  if [ ! -x "$CONDA_DIR/bin/conda" ]; then
    as_user curl -fsSL -o "$STATE_DIR/miniforge.sh" \
      "https://github.com/conda-forge/miniforge/releases/latest/download/Miniforge3-Linux-$(uname -m).sh"
    as_user bash "$STATE_DIR/miniforge.sh" -b -p "$CONDA_DIR"
  fi
  CONDA="$CONDA_DIR/bin/conda"
}
"""

_FOOTER = """
STEP="done"
STEP_INDEX=$STEPS_TOTAL
STEP_STARTED="$(now)"
write_status ok
echo "[$(now)] setup finished: ok"
"""


def clone_step(clone: Clone) -> Step:
    """https: cloned as the user at boot. agent: only with a forwarded agent, so at boot the script waits."""
    url = q(clone.url)
    checkout = (f'as_user git -C "$REPO_DIR" checkout --detach {q(clone.commit)}',) if clone.commit else ()
    get: tuple[str, ...]
    if clone.mode == "https":
        get = (f'if [ ! -d "$REPO_DIR/.git" ]; then as_user git clone -- {url} "$REPO_DIR"; fi',)
    else:
        get = ('if [ ! -d "$REPO_DIR/.git" ] && [ -z "${SSH_AUTH_SOCK:-}" ]; then',
               '  echo "[$(now)] waiting: a private repository is cloned over ssh -A with the user\'s agent"',
               '  write_status waiting',
               '  trap - EXIT',
               '  exit 0',
               'fi',
               'if [ ! -d "$REPO_DIR/.git" ]; then',
               f'  as_user env GIT_SSH_COMMAND="ssh -o StrictHostKeyChecking=accept-new" git clone -- {url} '
               '"$REPO_DIR"',
               'fi')
    return Step("clone", f"git clone {clone.url}" + (f" @ {clone.commit[:12]}" if clone.commit else ""),
                get + checkout)


def render(repo: str, commit: str | None, steps: list[Step], in_env: str, *, conda: bool = False) -> str:
    """`repo` must already be a checked name (it becomes a folder name); every step body is trusted shell."""
    at = f" at {commit}" if commit else ""
    parts = [_HEADER.format(repo=_comment(repo), at=_comment(at), repo_q=q(repo), total=len(steps),
                            helpers=(_CONDA + "\n" if conda else "") + in_env + "\n")]
    for index, step in enumerate(steps, 1):
        body = "\n".join("  " + line for line in step.commands)
        if step.name.startswith("setup-cmd-"):  # the user's line is quoted on purpose: it expands on the node
            parts.append("\n# shellcheck disable=SC2016")
        parts.append(f"\nif begin {step.name} {index} {q(_comment(step.title))}; then\n{body}\n"
                     f"  finish {step.name}\nfi\n")
    parts.append(_FOOTER)
    return "".join(parts)


def _comment(text: str) -> str:
    """One printable line (for comments and titles): no newlines or control characters."""
    return "".join(c if c.isprintable() else " " for c in text)[:200]
