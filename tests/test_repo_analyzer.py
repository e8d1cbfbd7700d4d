"""Repository analysis on small fixture repositories: what each file kind yields and what the rules decide."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chameleon_provision.errors import InputError
from chameleon_provision.repo_analyzer import Analysis, analyze

FIXTURES = Path(__file__).parent / "fixtures" / "repos"


def run(name: str) -> Analysis:
    return analyze(FIXTURES / name)


def signals(a: Analysis) -> set[str]:
    return {f.signal for f in a.facts}


def fact(a: Analysis, signal: str):
    return next(f for f in a.facts if f.signal == signal)


def test_every_fact_quotes_its_line() -> None:
    for repo in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        a = analyze(repo)
        for f in a.facts:
            ev = f.evidence
            assert ev.file and ev.line >= 1 and 0.0 <= ev.confidence <= 1.0, f
            if ev.file in a.texts and f.signal not in ("r2d.buildpack",):
                line = a.texts[ev.file].splitlines()[ev.line - 1]
                assert ev.text[:12].strip("…") in " ".join(line.split()) or f.signal.startswith("readme"), f


def test_dockerfile_nvidia_cuda_base() -> None:
    a = run("docker_cuda")
    req = a.requirements
    assert (req.gpu.required, req.gpu.vendor, req.gpu.count) == ("yes", "nvidia", 1)
    assert (req.cuda, req.os) == ("11.8", "ubuntu22.04")  # ARG default substituted into FROM
    base = fact(a, "docker.gpu_base")
    assert (base.evidence.file, base.evidence.line) == ("Dockerfile", 3)
    assert "docker.gpu_env" in signals(a) and "pkg.cuda_index" in signals(a)
    assert req.decided_by == "rules" and req.reason.startswith("needs 1x NVIDIA GPU")


def test_cmake_cuda_and_mpi() -> None:
    a = run("cmake_cuda_mpi")
    assert a.requirements.gpu.required == "yes" and a.requirements.gpu.vendor == "nvidia"
    assert {"build.cuda", "build.mpi", "source.cuda_kernels", "mpi.ranks"} <= signals(a)
    assert a.requirements.cpu_cores == 4
    assert "MPI" in a.requirements.frameworks and "CUDA" in a.requirements.frameworks


def test_cuda_build_merely_possible_is_not_a_requirement() -> None:
    a = run("cmake_cuda_optional")
    req = a.requirements
    assert req.gpu.required == "optional" and req.gpu.count == 0  # the CPU is the main path
    assert "build.cuda" not in signals(a)
    assert {"build.cuda_optional", "build.openmp", "readme.cpu_ok", "readme.gpu_optional"} <= signals(a)


def test_hip_makefile_with_nvcc_branch_stays_amd() -> None:
    a = run("makefile_hip")
    assert (a.requirements.gpu.required, a.requirements.gpu.vendor) == ("yes", "amd")
    nvcc = [f for f in a.facts if "nvcc" in f.evidence.text]
    assert nvcc and all(f.signal == "build.cuda_optional" for f in nvcc)


def test_mpi_openmp_makefile_is_cpu() -> None:
    a = run("makefile_mpi")
    req = a.requirements
    assert (req.gpu.required, req.gpu.vendor, req.gpu.count) == ("no", "none", 0)
    assert req.cpu_cores == 8
    assert {"MPI", "OpenMP"} <= set(req.frameworks)


def test_devcontainer_gpu() -> None:
    a = run("devcontainer_gpu")
    assert a.requirements.gpu.required == "yes" and a.requirements.gpu.vendor == "nvidia"
    assert fact(a, "devcontainer.gpu").evidence.file == ".devcontainer/devcontainer.json"


def test_compose_gpu_device_request() -> None:
    a = run("compose_gpu")
    req = a.requirements
    assert (req.gpu.required, req.gpu.vendor, req.gpu.count) == ("yes", "nvidia", 2)
    assert fact(a, "compose.gpu_count").evidence.line == 10


def test_slurm_script() -> None:
    req = run("slurm_job").requirements
    assert (req.gpu.required, req.gpu.count) == ("yes", 4)
    assert (req.cpu_cores, req.ram_gb, req.estimated_runtime_hours) == (32, 128, 12.0)


def test_accelerate_and_deepspeed_configs() -> None:
    a = run("accelerate_cfg")
    req = a.requirements
    assert (req.gpu.required, req.gpu.count) == ("yes", 4)
    assert {"launch.multi_gpu", "launch.num_processes", "launch.deepspeed", "pkg.gpu_build"} <= signals(a)
    assert "readme.cpu_ok" not in signals(a)  # "CPU offload" is a GPU memory trick, not a CPU path


def test_rocm_repo() -> None:
    req = run("rocm_torch").requirements
    assert (req.gpu.required, req.gpu.vendor, req.rocm) == ("yes", "amd", "6.0")
    assert req.gpu.min_memory_gb == 32  # "tested on MI100"


def test_pure_cpu_pandas_repo() -> None:
    a = run("cpu_pandas")
    req = a.requirements
    assert (req.gpu.required, req.gpu.vendor) == ("no", "none")
    assert "Python 3.11" in req.frameworks and "pandas" in req.frameworks
    assert req.reason.startswith("no GPU signals")


def test_readme_traps_and_vendored_trees() -> None:
    a = run("readme_traps")
    req = a.requirements
    assert (req.gpu.required, req.gpu.vendor, req.gpu.count) == ("no", "none", 0)
    files = {f.evidence.file for f in a.facts}
    assert not any(f.startswith(("third_party", "node_modules")) or f == "CHANGELOG.md" for f in files)
    traps = [f for f in a.facts if f.signal == "ignored.trap"]
    assert len(traps) >= 3 and all(f.scope == "ignored" and f.confidence == 0 for f in traps)
    assert any("third_party" in n for n in a.notes)


def test_cuda_optional_with_cpu_recipe() -> None:
    req = run("cuda_optional_torch").requirements
    assert (req.gpu.required, req.gpu.count) == ("optional", 0)


def test_binder_folder_wins() -> None:
    a = run("binder_dir")
    assert a.requirements.gpu.required == "no"  # repo2docker builds binder/, not the root requirements.txt
    assert fact(a, "r2d.buildpack").value == "conda"
    torch = next(f for f in a.facts if f.value == "pytorch")
    assert torch.confidence < 0.4
    assert any("binder/ present" in n for n in a.notes)


def test_conda_cudatoolkit_and_memory_statement() -> None:
    req = run("conda_cudatoolkit").requirements
    assert (req.gpu.required, req.gpu.min_memory_gb, req.cuda) == ("yes", 10.0, "11.3")
    assert "Python 3.8" in req.frameworks
    assert any(e.file == "README.md" and e.line == 3 for e in req.evidence)


def test_poetry_cuda_source_and_flash_attn() -> None:
    req = run("poetry_cuda").requirements
    assert (req.gpu.required, req.cuda, req.gpu.min_compute_capability) == ("yes", "12.1", 8.0)


def test_r_project() -> None:
    a = run("r_project")
    assert a.requirements.gpu.required == "no"
    assert "R 4.3.2" in a.requirements.frameworks
    assert fact(a, "r2d.buildpack").value == "r"


def test_julia_cuda() -> None:
    req = run("julia_cuda").requirements
    assert (req.gpu.required, req.gpu.vendor) == ("yes", "nvidia")


def test_model_size_sets_memory() -> None:
    req = run("llm_70b").requirements
    assert req.gpu.min_memory_gb == 44.0  # 70B x 0.5 byte (4-bit) x 1.2 + 2 GB


def test_node_app_is_cpu() -> None:
    a = run("node_app")
    assert a.requirements.gpu.required == "no" and "node.js" in a.requirements.frameworks


def test_excerpts_are_bounded_and_quoted() -> None:
    a = run("readme_traps")
    for budget in (200, 12000):
        parts = a.excerpts(max_bytes=budget)
        assert sum(len(p["text"]) for p in parts) <= budget
        for p in parts:
            assert set(p) == {"file", "start_line", "text"}
            lines = a.texts[p["file"]].splitlines()
            assert p["text"].splitlines()[0] in lines[p["start_line"] - 1]
    parts = run("docker_cuda").excerpts()
    assert (parts[0]["file"], parts[0]["start_line"]) == ("README.md", 1)  # the project's own introduction
    assert parts[1]["file"] == "Dockerfile"  # then the most telling file


def test_to_dict_is_json(tmp_path: Path) -> None:
    doc = run("docker_cuda").to_dict()
    text = json.dumps(doc)
    assert '"requirements"' in text and doc["facts"][0]["file"]
    assert doc["files_scanned"] == 3 and doc["bytes_read"] > 0


def test_not_a_folder(tmp_path: Path) -> None:
    file = tmp_path / "x"
    file.write_text("")
    with pytest.raises(InputError):
        analyze(file)


def test_empty_repo(tmp_path: Path) -> None:
    a = analyze(tmp_path)
    assert a.requirements.gpu.required == "no" and a.facts == () and a.files_scanned == 0
    assert a.excerpts() == []


def test_malformed_files_do_not_stop_analysis(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\nname=")
    (tmp_path / "package.json").write_text("{not json")
    (tmp_path / "renv.lock").write_text("[]")
    (tmp_path / "requirements.txt").write_bytes(b"cupy\n\xff\xfe\n")
    (tmp_path / "binary.yml").write_bytes(b"\0\0\0")
    a = analyze(tmp_path)
    assert a.requirements.gpu.required == "yes"  # cupy still read


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "requirements.txt").write_text("cupy\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "requirements.txt").symlink_to(outside / "requirements.txt")
    (repo / "sub").symlink_to(outside, target_is_directory=True)
    assert analyze(repo).facts == ()
