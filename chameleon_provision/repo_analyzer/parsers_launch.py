"""How a run is launched: accelerate/DeepSpeed configs, trainer configs, Slurm/PBS scripts, launch lines.

These say how many GPUs one run of the documented recipe uses. accelerate's num_processes is the
total across machines (one process per GPU), so GPUs per node = num_processes / num_machines.
"""

from __future__ import annotations

import math
import re

from chameleon_provision.repo_analyzer.facts import FactSink
from chameleon_provision.repo_analyzer.packages import install_command
from chameleon_provision.repo_analyzer.scanner import RepoFile

_NPROC = re.compile(r"--nproc[_-]per[_-]node[= ](\d+)")
_NUM_PROCESSES = re.compile(r"--num[_-]processes[= ](\d+)")
_NUM_GPUS = re.compile(r"--num[_-]gpus[= ](\d+)")
_INCLUDE = re.compile(r"--include[= ]['\"]?localhost:([\d,]+)")
_VISIBLE = re.compile(r"\bCUDA_VISIBLE_DEVICES=['\"]?(\d+(?:,\d+)*)")
# the launcher's own options only: `srun -N1 -n4 ./app -n 40960` runs 4 ranks, not 40960
_LAUNCHER = re.compile(r"\b(?:mpirun|mpiexec|srun|aprun)"
                       r"((?:\s+-{1,2}[A-Za-z][\w-]*(?:[= ]?\d+\b|[= ](?!-)[\w.:/-]+)?)*)")
_RANKS = re.compile(r"\s-(?:n|np|-np|-ntasks)[= ]?(\d+)\b")
_SBATCH = re.compile(r"^\s*#(SBATCH|PBS|BSUB)\s+(.*)$")
_GRES = re.compile(r"--gres[= ]gpu(?::([A-Za-z][\w-]*))?(?::(\d+))?")
_GPUS = re.compile(r"--gpus(?:-per-node|-per-task)?[= ](?:([A-Za-z][\w-]*):)?(\d+)")
_AMD_MODELS = re.compile(r"mi\d{2,3}|instinct|radeon", re.I)


def launch_line(sink: FactSink, text: str, line: int, raw: str | None = None) -> bool:
    """torchrun / accelerate launch / deepspeed / CUDA_VISIBLE_DEVICES / mpirun in a command line."""
    raw = raw if raw is not None else text
    found = False
    for pattern in (_NPROC, _NUM_PROCESSES, _NUM_GPUS):
        if m := pattern.search(text):
            sink.add("launch.command", int(m.group(1)), line, raw)
            found = True
    if m := _INCLUDE.search(text):
        sink.add("launch.command", len(m.group(1).split(",")), line, raw)
        found = True
    if re.search(r"\baccelerate\s+launch\b.*--multi[_-]gpu", text):
        sink.add("launch.multi_gpu", "any", line, raw, confidence=0.7)
        found = True
    if m := re.search(r"\bdocker\s+run\b.*?--gpus[= ]['\"]?(all|\d+|device=[\d,]+)", text):
        sink.add("docker.run_gpus", "nvidia", line, raw)
        value = m.group(1)
        if value != "all":
            sink.add("launch.visible_devices", int(value) if value.isdigit() else len(value[7:].split(",")), line, raw)
        found = True
    if m := _VISIBLE.search(text):
        sink.add("launch.visible_devices", len(m.group(1).split(",")), line, raw)
        found = True
    if re.search(r"--device[= ]['\"]?cpu\b|--cpu\b|--no[-_]cuda\b", text):
        sink.add("launch.cpu", "cpu", line, raw, confidence=0.5)
        found = True
    if (m := _LAUNCHER.search(text)) and (r := _RANKS.search(m.group(1))):
        sink.add("mpi.ranks", int(r.group(1)), line, raw)
        found = True
    if re.search(r"\bnvidia-smi\b", text):
        sink.add("code.cuda_device", "nvidia", line, raw)
        found = True
    return found


def _hours(value: str) -> float | None:
    """Slurm --time: D-HH:MM:SS, HH:MM:SS, MM:SS, MM, D-HH."""
    m = re.match(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$", value.strip())
    if not m:
        return None
    days, a, b, c = (int(x) if x else None for x in m.groups())
    if days is not None:
        return days * 24 + (a or 0) + (b or 0) / 60
    if c is not None:
        return (a or 0) + (b or 0) / 60
    return (a or 0) / 60 if b is None else (a or 0) / 60 + (b or 0) / 3600


def batch_directive(sink: FactSink, raw: str, line: int) -> bool:
    m = _SBATCH.match(raw)
    if not m:
        return False
    args = m.group(2)
    if (g := _GRES.search(args)) or (g := _GPUS.search(args)):
        model = g.group(1) or ""
        vendor = "amd" if _AMD_MODELS.search(model) else ("nvidia" if model else "any")
        sink.add("slurm.gpu", vendor, line, raw)
        sink.add("slurm.gpus", int(g.group(2) or 1), line, raw)
    elif g := re.search(r"\b(?:ngpus|gpus|num)=(\d+)", args):
        sink.add("slurm.gpu", "any", line, raw)
        sink.add("slurm.gpus", int(g.group(1)), line, raw)
    if n := re.search(r"(?:--nodes[= ]|-N\s+)(\d+)", args):
        sink.add("slurm.nodes", int(n.group(1)), line, raw)
    if c := re.search(r"--cpus-per-task[= ](\d+)|\bncpus=(\d+)", args):
        sink.add("slurm.cores", int(c.group(1) or c.group(2)), line, raw)
    if mem := re.search(r"--mem[= ](\d+)([KMGT]?)", args, re.I):
        scale = {"K": 1 / 2**20, "M": 1 / 1024, "G": 1, "T": 1024, "": 1 / 1024}[mem.group(2).upper()]
        sink.add("slurm.mem", max(1, round(int(mem.group(1)) * scale)), line, raw)
    t = re.search(r"--time[= ](\S+)|walltime=(\S+)", args)
    if t and (hours := _hours(t.group(1) or t.group(2))) is not None:
        sink.add("slurm.time", round(hours, 2), line, raw)
    return True


def parse_script(f: RepoFile, sink: FactSink) -> None:
    """Slurm/PBS batch scripts, shell scripts, postBuild: directives, launches and installs."""
    for no, raw in enumerate(f.text.splitlines(), 1):
        if batch_directive(sink, raw, no):
            continue
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        launch_line(sink, stripped, no, raw)
        install_command(sink, stripped, no)
        if re.search(r"\bnvcc\b", stripped):
            sink.add("build.cuda", "nvidia", no, raw)
        elif re.search(r"\bhipcc\b", stripped):
            sink.add("build.hip", "amd", no, raw)


def parse_launch_config(f: RepoFile, sink: FactSink) -> None:
    """accelerate (YAML) and DeepSpeed (JSON) configs; generic trainer YAML with gpus/devices keys."""
    text = f.text
    if f.rel.endswith(".json"):
        if re.search(r'"(zero_optimization|train_micro_batch_size_per_gpu)"', text):
            no = next(i for i, s in enumerate(text.splitlines(), 1) if "zero_optimization" in s
                      or "train_micro_batch_size_per_gpu" in s)
            sink.add("launch.deepspeed", "any", no, text.splitlines()[no - 1])
        return
    keys: dict[str, tuple[str, int, str]] = {}
    for no, raw in enumerate(text.splitlines(), 1):
        if m := re.match(r"^\s*([A-Za-z_]+)\s*:\s*['\"]?([\w.,-]*)['\"]?\s*(?:#.*)?$", raw):
            keys.setdefault(m.group(1).lower(), (m.group(2), no, raw))
    dist = keys.get("distributed_type")
    cpu = keys.get("use_cpu", ("", 0, ""))[0].lower() == "true" or (dist and dist[0].upper() == "MULTI_CPU")
    if dist or "num_processes" in keys or "compute_environment" in keys:
        if cpu:
            where = keys.get("use_cpu") or dist
            if where:  # `cpu` is true only through one of the two
                sink.add("launch.cpu", "cpu", where[1], where[2])
            return
        if dist and dist[0].upper() in ("MULTI_GPU", "DEEPSPEED", "FSDP", "MEGATRON_LM"):
            sink.add("launch.multi_gpu", "any", dist[1], dist[2])
        if "num_processes" in keys and keys["num_processes"][0].isdigit():
            value, no, raw = keys["num_processes"]
            machines = keys.get("num_machines", ("1", 0, ""))[0]
            per_node = math.ceil(int(value) / max(1, int(machines) if machines.isdigit() else 1))
            sink.add("launch.num_processes", per_node, no, raw)
        if "deepspeed_config" in keys or "zero_stage" in keys:
            where = keys.get("zero_stage") or keys["deepspeed_config"]
            sink.add("launch.deepspeed", "any", where[1], where[2])
        return
    accel = keys.get("accelerator")
    gpu_accel = accel is not None and accel[0].lower() in ("gpu", "cuda", "auto")
    if accel and accel[0].lower() in ("gpu", "cuda"):
        sink.add("code.cuda_device", "any", accel[1], accel[2])
    elif accel and accel[0].lower() == "cpu":
        sink.add("launch.cpu", "cpu", accel[1], accel[2], confidence=0.5)
    for key in ("n_gpus", "ngpus", "num_gpus", "n_gpu", "gpus", "gpus_per_node", "devices"):
        if key in keys and keys[key][0].isdigit() and (key != "devices" or gpu_accel):
            value, no, raw = keys[key]
            if int(value) > 0:
                sink.add("launch.trainer_gpus", int(value), no, raw)
            break
