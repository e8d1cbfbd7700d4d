"""A stand-in `openstack` that behaves like the real CLI's interactive mode, for the fast lane.

It keeps what the session protocol relies on (reference/openstack-cli.md §5): `--log-file=PATH`
records in osc_lib's format, one command per input line split twice the way cliff does, `!` lines
run by the shell after output is flushed, and a failed command logged as an ERROR of the
`openstack` logger. Commands: `echo ARGS` (prints them as JSON), `fail`, `auth-fail`, `warn`,
`quiet`, `nonl`, `pid`, `hang`, `die`, `die-once list FILE`. FAKE_OPENSTACK=batch-only makes it
refuse interactive mode (a CLI whose session cannot start).
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

SCRIPT = r'''
import datetime, json, os, shlex, subprocess, sys, time

def record(level, message):
    if log is not None:
        now = datetime.datetime.now()
        log.write(f"{now:%Y-%m-%d %H:%M:%S}.{now.microsecond // 1000:03d} {os.getpid()} {level} openstack "
                  f"[  fake] {message}\n")
        log.flush()

args = sys.argv[1:]
log = None
for a in list(args):
    if a.startswith("--log-file="):
        log = open(a.split("=", 1)[1], "a")
        args.remove(a)
if not args and os.environ.get("FAKE_OPENSTACK") == "batch-only":
    sys.stderr.write("interactive mode is not available\n")
    sys.exit(1)
def commands():
    if args:  # one command per process, the way the one-process-per-call runner uses it
        yield args
        return
    for raw in sys.stdin:
        line = raw.rstrip("\n")
        if line.startswith("!"):
            sys.stdout.flush()
            subprocess.run(line[1:], shell=True)
        elif line:
            yield shlex.split(" ".join(shlex.split(line)))  # cliff's precmd rejoins, default() splits again

for argv in commands():
    if argv[-2:] == ["-f", "json"]:
        argv = argv[:-2]
    cmd = argv[0]
    if cmd == "echo":
        print(json.dumps(argv[1:]))
    elif cmd == "fail":
        sys.stderr.write("ERROR: boom\n")
        record("ERROR", "ERROR: boom")
    elif cmd == "auth-fail":
        sys.stderr.write("The request you have made requires authentication. (HTTP 401)\n")
        record("ERROR", "The request you have made requires authentication. (HTTP 401)")
    elif cmd == "warn":
        sys.stderr.write("Failed to contact the endpoint for discovery. Fallback to using that endpoint.\n")
        record("WARNING", "Failed to contact the endpoint for discovery.")
        print(json.dumps({"warned": True}))
    elif cmd == "quiet":
        pass
    elif cmd == "nonl":
        sys.stdout.write('{"a": 1}')
    elif cmd == "pid":
        print(json.dumps({"pid": os.getpid()}))
    elif cmd == "hang":
        time.sleep(3600)
    elif cmd == "die":
        os._exit(3)
    elif cmd == "die-once":
        flag = argv[-1]
        if not os.path.exists(flag):
            open(flag, "w").close()
            os._exit(3)
        print(json.dumps({"survived": True}))
    else:
        sys.stdout.write(f"openstack: '{' '.join(argv)}' is not an openstack command.\n")
    sys.stdout.flush()
    if args:
        sys.exit(1 if cmd in ("fail", "auth-fail") else 0)
'''


def make_fake_openstack(folder: Path) -> str:
    script = folder / "openstack"
    script.write_text(f"#!{sys.executable}\n{SCRIPT}")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)
