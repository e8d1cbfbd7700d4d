"""Python and conda environment files: what repo2docker reads, with line numbers kept for evidence."""

from __future__ import annotations

import json
import logging
import re
import tomllib
from typing import Any

from chameleon_provision.repo_analyzer.facts import FactSink, line_of
from chameleon_provision.repo_analyzer.packages import index_url, requirement
from chameleon_provision.repo_analyzer.scanner import RepoFile

log = logging.getLogger(__name__)

_PY_VERSION = re.compile(r"(\d+\.\d+)")
_QUOTED = re.compile(r"""["']([A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]'"]*\])?\s*(?:[<>=!~]=?[^'"]*)?)["']""")


def parse_requirements(f: RepoFile, sink: FactSink) -> None:
    for no, raw in enumerate(f.text.splitlines(), 1):
        line = re.split(r"\s+#", raw, maxsplit=1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("--index-url", "--extra-index-url", "-i", "-f", "--find-links")):
            index_url(sink, line, no, raw)
        elif line.startswith("-e ") and "git+" in line:
            requirement(sink, line[3:], no, raw)
        elif not line.startswith("-"):
            requirement(sink, line, no, raw)


def parse_conda(f: RepoFile, sink: FactSink) -> None:
    section, pip_indent = "", -1
    for no, raw in enumerate(f.text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip())
        if indent == 0 and not stripped.startswith("-"):
            section, pip_indent = stripped.split(":", 1)[0].strip(), -1
            continue
        item = re.match(r"^-\s*(.+?)\s*(?:#.*)?$", stripped)
        if not item:
            continue
        value = item.group(1).strip("'\"")
        if section == "channels":
            if value.lower() == "nvidia":
                sink.add("pkg.conda_channel", "nvidia", no, raw)
            continue
        if section != "dependencies":
            continue
        if value.rstrip(":").strip() == "pip" and value.endswith(":"):
            pip_indent = indent
            continue
        if pip_indent >= 0 and indent > pip_indent:
            if value.startswith(("--index-url", "--extra-index-url", "-f", "--find-links")):
                index_url(sink, value, no, raw)
            elif not value.startswith("-") or value.startswith("-e git+"):
                requirement(sink, value.removeprefix("-e "), no, raw)
            continue
        pip_indent = -1
        name = requirement(sink, value, no, raw, conda=True)
        if name == "python" and (m := _PY_VERSION.search(value)):
            sink.add("runtime.python", m.group(1), no, raw)
        elif name == "r-base" and (m := _PY_VERSION.search(value)):
            sink.add("runtime.r", m.group(1), no, raw)


def parse_setup_py(f: RepoFile, sink: FactSink) -> None:
    depth, in_extras = 0, False
    for no, raw in enumerate(f.text.splitlines(), 1):
        if "extras_require" in raw:  # optional extras: a GPU extra is not a GPU requirement
            in_extras, depth = "{" in raw or "dict(" in raw, 0
        for spec in _QUOTED.findall(raw):
            requirement(sink, spec, no, raw, optional=in_extras)
        if in_extras:
            depth += raw.count("{") + raw.count("(") - raw.count("}") - raw.count(")")
            in_extras = depth > 0
        if m := re.search(r"python_requires\s*=\s*['\"][^\d]*(\d+\.\d+)", raw):
            sink.add("runtime.python", m.group(1), no, raw)
    text = f.text
    if "CUDAExtension" in text:
        line = line_of(text, "CUDAExtension")
        conditional = re.search(r"cuda\.is_available\(\)|FORCE_CUDA|CUDA_HOME\s+is\s+not\s+None", text)
        sink.add("build.cuda_optional" if conditional else "build.cuda_extension", "nvidia", line,
                 text.splitlines()[line - 1])


def parse_setup_cfg(f: RepoFile, sink: FactSink) -> None:
    section, key = "", ""
    for no, raw in enumerate(f.text.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section, key = stripped[1:-1].strip().lower(), ""
            continue
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if not raw[:1].isspace() and "=" in stripped:
            key, _, value = (part.strip() for part in stripped.partition("="))
            key = key.lower()
            if key == "python_requires" and (m := _PY_VERSION.search(value)):
                sink.add("runtime.python", m.group(1), no, raw)
        else:
            value = stripped
        if value and ((section == "options" and key == "install_requires")
                      or section == "options.extras_require"):
            requirement(sink, value, no, raw, optional=section != "options")


def _toml(f: RepoFile) -> dict[str, Any] | None:
    try:
        return tomllib.loads(f.text)
    except tomllib.TOMLDecodeError as exc:
        log.debug("%s is not valid TOML: %s", f.rel, exc)
        return None


def _dep(sink: FactSink, text: str, spec: str, *, optional: bool = False) -> None:
    name = re.split(r"[\s\[<>=!~;@]", spec.strip(), maxsplit=1)[0]
    line = line_of(text, f'"{spec}"', 0) or line_of(text, name)
    requirement(sink, spec, line, text.splitlines()[line - 1] if text else spec, optional=optional)


def parse_pyproject(f: RepoFile, sink: FactSink) -> None:
    data = _toml(f)
    if data is None:
        return
    text, project = f.text, data.get("project") or {}
    for spec in project.get("dependencies") or []:
        _dep(sink, text, str(spec))
    for specs in (project.get("optional-dependencies") or {}).values():
        for spec in specs or []:
            _dep(sink, text, str(spec), optional=True)
    if (req := project.get("requires-python")) and (m := _PY_VERSION.search(str(req))):
        line = line_of(text, "requires-python")
        sink.add("runtime.python", m.group(1), line, text.splitlines()[line - 1])
    tool = data.get("tool") or {}
    poetry = tool.get("poetry") or {}
    groups = [(False, poetry.get("dependencies") or {})]
    groups += [(True, g.get("dependencies") or {}) for g in (poetry.get("group") or {}).values()]
    for optional, deps in groups:
        for name, spec in deps.items():
            if name.lower() == "python":
                continue
            version = spec if isinstance(spec, str) else str((spec or {}).get("version", ""))
            _dep(sink, text, f"{name}{'==' + version.lstrip('^~=') if version and version != '*' else ''}",
                 optional=optional or (isinstance(spec, dict) and bool(spec.get("optional"))))
    sources = list(poetry.get("source") or []) + list((tool.get("uv") or {}).get("index") or [])
    for source in sources:
        if isinstance(source, dict) and (url := source.get("url")):
            line = line_of(text, str(url))
            index_url(sink, str(url), line, text.splitlines()[line - 1])
    for specs in (data.get("dependency-groups") or {}).values():
        for spec in specs or []:
            if isinstance(spec, str):
                _dep(sink, text, spec, optional=True)


def parse_pipfile(f: RepoFile, sink: FactSink) -> None:
    if f.rel.endswith(".lock"):
        try:
            data = json.loads(f.text)
        except json.JSONDecodeError:
            return
        for source in (data.get("_meta") or {}).get("sources") or []:
            url = str(source.get("url", ""))
            index_url(sink, url, line_of(f.text, url), url)
        for name, info in (data.get("default") or {}).items():
            spec = name + str((info or {}).get("version", "") if isinstance(info, dict) else "")
            requirement(sink, spec, line_of(f.text, f'"{name}"'), spec)
        return
    data = _toml(f)
    if data is None:
        return
    for source in data.get("source") or []:
        url = str(source.get("url", ""))
        index_url(sink, url, line_of(f.text, url), url)
    for name, spec in (data.get("packages") or {}).items():
        version = spec if isinstance(spec, str) else str((spec or {}).get("version", ""))
        _dep(sink, f.text, name + ("" if version in ("", "*") else version))
    if (py := (data.get("requires") or {}).get("python_version")) and (m := _PY_VERSION.search(str(py))):
        sink.add("runtime.python", m.group(1), line_of(f.text, "python_version"), f"python_version = {py}")


def parse_conda_lock(f: RepoFile, sink: FactSink) -> None:
    lines = f.text.splitlines()
    for no, raw in enumerate(lines, 1):
        m = re.match(r"^\s*-?\s*name:\s*([\w.-]+)\s*$", raw)
        if not m:
            continue
        version = build = ""
        for follow in lines[no:no + 8]:
            if v := re.match(r"^\s*version:\s*['\"]?([\w.+-]+)", follow):
                version = v.group(1)
            elif b := re.match(r"^\s*build:\s*['\"]?([\w.+-]+)", follow):
                build = b.group(1)
            elif re.match(r"^\s*-\s", follow):
                break
        spec = m.group(1) + (f"={version}" if version else "") + (f"={build}" if build else "")
        requirement(sink, spec, no, raw.strip() + (f" {version} {build}".rstrip()), conda=True)


def parse_runtime(f: RepoFile, sink: FactSink) -> None:
    for no, raw in enumerate(f.text.splitlines(), 1):
        value = raw.strip().lower()
        if m := re.match(r"^python-?(\d+(?:\.\d+)?)", value):
            sink.add("runtime.python", m.group(1), no, raw)
        elif m := re.match(r"^r-(?:(\d+\.\d+(?:\.\d+)?)-)?\d{4}-\d{2}-\d{2}$", value):
            sink.add("pkg.language", "R", no, raw)
            if m.group(1):
                sink.add("runtime.r", m.group(1), no, raw)
