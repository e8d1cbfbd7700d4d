"""Evidence weighting on small repositories written here: comments, lock files, sub-projects, side material,
optional GPUs, requirement sentences under any heading, and model scale."""

from __future__ import annotations

from pathlib import Path

import pytest
from catalog import nodes

from chameleon_provision.decisions.hardware_rules import rules_choice
from chameleon_provision.errors import ExitCode, NoMatchError
from chameleon_provision.repo_analyzer import Analysis, analyze

CATALOG = nodes()
TORCH_README = "# tool\n\nA small PyTorch project.\n"


def repo(root: Path, files: dict[str, str]) -> Analysis:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return analyze(root)


def signals(a: Analysis) -> set[str]:
    return {f.signal for f in a.facts if f.scope != "ignored"}


# 1. comments ---------------------------------------------------------------------------------------------

def test_strip_comments_keeps_lines_and_live_directives() -> None:
    from chameleon_provision.repo_analyzer.comments import strip_comments

    text = '#!/bin/bash\n#SBATCH --gres=gpu:2\n##SBATCH --gres=gpu:8\necho "a # b"  # --gpus all\n'
    out = strip_comments(text, "shell").splitlines()
    assert len(out) == 4 and out[1] == "#SBATCH --gres=gpu:2" and "gpu:8" not in out[2]
    assert out[3].rstrip() == 'echo "a # b"'
    jsonc = '{\n  // "runArgs": ["--gpus=all"],\n  "image": "x", /* "gpu": true */\n  "url": "http://h/p"\n}'
    out = strip_comments(jsonc, "devcontainer").splitlines()
    assert len(out) == 5 and "gpus" not in out[1] and "gpu" not in out[2] and "http://h/p" in out[3]
    md = "text\n<!--\nrequires 8x A100\n-->\nmore\n"
    assert strip_comments(md, "readme").splitlines()[2].strip() == ""


def test_commented_out_devcontainer_gpu_is_no_evidence(tmp_path: Path) -> None:
    a = repo(tmp_path, {
        ".devcontainer/devcontainer.json": '{\n  "image": "mcr.microsoft.com/devcontainers/python:3.11",\n'
                                           '  // "runArgs": ["--gpus=all"],\n'
                                           '  /* "hostRequirements": {"gpu": true} */\n  "name": "dev"\n}\n',
        "requirements.txt": "numpy\n",
    })
    assert "devcontainer.gpu" not in signals(a)
    assert a.requirements.gpu.required == "no"


@pytest.mark.parametrize("files", [
    {"Dockerfile": "FROM python:3.11\nRUN pip install numpy  # torch --index-url "
                   "https://download.pytorch.org/whl/cu121\n"},
    {"run.sh": "#!/bin/sh\npython main.py  # torchrun --nproc_per_node=8 main.py\n# docker run --gpus all img\n",
     "requirements.txt": "numpy\n# cupy-cuda12x\n"},
    {"jobs/train.slurm": "#!/bin/bash\n##SBATCH --gres=gpu:4\n#SBATCH --cpus-per-task=8\npython main.py\n"},
    {"README.md": "# tool\n\n<!-- old notes\n\nThis requires 4x A100 80GB GPUs.\n\n-->\nRuns anywhere.\n"},
    {"environment.yml": "name: x\ndependencies:\n  - numpy\n  # - cudatoolkit=11.8\n  - pip:\n"
                        "    - pandas  # - cupy\n"},
])
def test_commented_out_lines_are_no_evidence(tmp_path: Path, files: dict[str, str]) -> None:
    a = repo(tmp_path, files)
    assert a.requirements.gpu.required == "no", [f.as_dict() for f in a.facts]


def test_live_sbatch_directive_still_counts(tmp_path: Path) -> None:
    a = repo(tmp_path, {"jobs/train.slurm": "#!/bin/bash\n#SBATCH --gres=gpu:2  # two GPUs\npython main.py\n"})
    assert "slurm.gpu" in signals(a) and a.requirements.gpu.count == 2


# 2. lock files and sub-projects --------------------------------------------------------------------------

def test_lock_file_transitive_gpu_packages_do_not_make_a_gpu_need(tmp_path: Path) -> None:
    lock = "package:\n" + "".join(
        f"- name: {name}\n  version: '1.0'\n  manager: conda\n  platform: linux-64\n"
        for name in ("numpy", "pytorch-cuda", "nvidia-cublas-cu12", "pandas"))
    a = repo(tmp_path, {"environment.yml": "name: x\ndependencies:\n  - numpy\n  - pandas\n",
                        "conda-lock.yml": lock, "poetry.lock": '[[package]]\nname = "nvidia-cublas-cu12"\n'})
    assert a.requirements.gpu.required == "no" or a.requirements.gpu.count == 0
    assert rules_choice(a.requirements, CATALOG).hardware.gpu_count == 0


def test_one_gpu_module_of_a_monorepo_does_not_make_the_repository_gpu(tmp_path: Path) -> None:
    a = repo(tmp_path, {
        "README.md": "# Analyses\n\nIndependent analysis modules, one folder each.\n",
        "requirements.txt": "numpy\npandas\n",
        "modules/survey/requirements.txt": "pandas\nstatsmodels\n",
        "modules/maps/requirements.txt": "geopandas\n",
        "modules/text/environment.yml": "name: t\ndependencies:\n  - scikit-learn\n",
        "modules/vision/environment.yml": "name: v\ndependencies:\n  - pytorch\n  - pytorch-cuda=12.1\n",
    })
    assert a.requirements.gpu.count == 0, a.requirements.reason
    assert rules_choice(a.requirements, CATALOG).hardware.gpu_count == 0


# 3. GPU optional -----------------------------------------------------------------------------------------

CPU_PATH_REPO = {
    "requirements.txt": "--extra-index-url https://download.pytorch.org/whl/cu121\ntorch\n",
    "README.md": "# tool\n\nRun it on CPU:\n\n```\npython run.py --device cpu\n```\n\nA GPU speeds it up.\n",
}


def test_documented_cpu_path_without_stated_gpu_need_plans_a_cpu_node(tmp_path: Path) -> None:
    req = repo(tmp_path, CPU_PATH_REPO).requirements
    assert req.gpu.required == "optional" and req.gpu.count == 0
    assert "GPU optional: CPU path documented; --prefer-gpu for a GPU node" in req.reason
    assert rules_choice(req, CATALOG).hardware.gpu_count == 0
    from chameleon_provision.decisions.requirements import prefer_gpu

    preferred = prefer_gpu(req)
    assert preferred.gpu.count == 1 and "--prefer-gpu" in preferred.reason
    assert rules_choice(preferred, CATALOG).hardware.gpu_count >= 1


def test_stated_gpu_need_keeps_the_gpu_despite_a_cpu_recipe(tmp_path: Path) -> None:
    files = dict(CPU_PATH_REPO)
    files["README.md"] += "\n## Reproducing the paper\n\nTo reproduce the paper you'll want at least 8x A100 40GB.\n"
    req = repo(tmp_path, files).requirements
    assert req.gpu.count >= 1
    assert rules_choice(req, CATALOG).hardware.gpu_count >= 1


# 4. requirement sentences under any heading --------------------------------------------------------------

@pytest.mark.parametrize("title", ["Big LLM", "Big LLM pretraining", "Reproducing our paper"])
def test_requirement_sentence_counts_under_any_heading(tmp_path: Path, title: str) -> None:
    req = repo(tmp_path, {"requirements.txt": "torch\n",
                          "README.md": f"# {title}\n\nTraining requires 4x A100 80GB GPUs.\n"}).requirements
    assert (req.gpu.count, req.gpu.min_memory_gb) == (4, 80.0), req.reason


# 6. model scale ------------------------------------------------------------------------------------------

def test_model_scale_floor_above_one_gpu_needs_a_multi_gpu_node(tmp_path: Path) -> None:
    req = repo(tmp_path, {
        "requirements.txt": "jax[cuda12]\n",
        "README.md": "# Model\n\nThe model has 140B parameters, so a machine with enough GPU memory is needed "
                     "to run it.\n",
    }).requirements
    assert req.gpu.min_total_memory_gb is not None and req.gpu.min_total_memory_gb >= 280
    choice = rules_choice(req, CATALOG)
    assert choice.hardware.gpu_count * choice.hardware.gpu_memory_gb >= req.gpu.min_total_memory_gb


@pytest.mark.parametrize(("sentence", "floor"), [
    ("We serve the 70B model with GPTQ int4 weights.", 70 * 0.5),
    ("Inference with the 13B model in fp32.", 13 * 4),
    ("Inference with the 13B model in 8-bit.", 13 * 1),
    ("We serve a 7B model.", 7 * 2),
])
def test_model_scale_by_precision(tmp_path: Path, sentence: str, floor: float) -> None:
    req = repo(tmp_path, {"requirements.txt": "torch\n", "README.md": f"# M\n\n{sentence}\n"}).requirements
    total = req.gpu.min_total_memory_gb or (req.gpu.min_memory_gb or 0) * max(1, req.gpu.count)
    assert floor < total < floor * 1.5 + 4, (sentence, req.gpu)


def test_model_scale_beyond_every_node_is_infeasible(tmp_path: Path) -> None:
    req = repo(tmp_path, {
        "requirements.txt": "jax[cuda12]\n",
        "README.md": "# Model\n\nDue to the size of the model (314B parameters), a machine with enough GPU "
                     "memory is required to run it.\n",
    }).requirements
    with pytest.raises(NoMatchError) as err:
        rules_choice(req, CATALOG)
    assert err.value.exit_code == ExitCode.NO_MATCH
    assert "infeasible" in str(err.value) and "GB of GPU memory in total" in str(err.value)


# 7. side material ----------------------------------------------------------------------------------------

def test_side_material_does_not_size_the_node(tmp_path: Path) -> None:
    a = repo(tmp_path, {
        "README.md": "# Course\n\nChapters as notebooks; they run on a laptop CPU. The Docker setup in setup/ "
                     "is optional.\n",
        "requirements.txt": "torch\nnumpy\n",
        "setup/Dockerfile": "FROM nvidia/cuda:12.1.0-runtime-ubuntu22.04\n",
        "setup/.devcontainer/devcontainer.json": '{"runArgs": ["--gpus=all"]}\n',
        "appendix/ddp/train.sh": "torchrun --nproc_per_node=2 ddp.py\n",
        "appendix/ddp/requirements.txt": "flash-attn\n",
        "bonus/llama/README.md": "# Bonus\n\nWe fine-tune a 70B model here; this requires 4x H100 80GB GPUs.\n",
        "extras/requirements.txt": "bitsandbytes\n",
        "examples/gpu/requirements.txt": "cupy-cuda12x\n",
    })
    req = a.requirements
    choice = rules_choice(req, CATALOG)
    assert choice.hardware.gpu_count <= 1, (req.gpu, req.reason)


# 8. frameworks -------------------------------------------------------------------------------------------

def test_web_frameworks_are_frameworks(tmp_path: Path) -> None:
    a = repo(tmp_path, {"requirements.txt": "Flask==3.0\ndjango\nfastapi\n"})
    assert {"flask", "django", "fastapi"} <= {x.lower() for x in a.requirements.frameworks}
    assert a.requirements.gpu.required == "no"


def test_model_scale_reads_total_parameters_and_the_weights_precision(tmp_path: Path) -> None:
    req = repo(tmp_path, {
        "requirements.txt": "torch\nflash-attn\n",
        "README.md": "# M\n\nWe present M, a mixture-of-experts model with 200B total parameters with 20B activated "
                     "for each token.\n\nWe only provide FP8 weights; other tools support INT4 quantization.\n",
    }).requirements
    assert req.gpu.min_total_memory_gb == pytest.approx(200 * 1 * 1.1 + 2)


def test_contents_lists_and_bonus_sections_are_not_the_workload(tmp_path: Path) -> None:
    req = repo(tmp_path, {
        "requirements.txt": "torch\n",
        "README.md": "# Book\n\nThe chapters run on a laptop CPU; no GPU is required.\n\n"
                     "- [Generating a dataset with Llama 3.1 70B](ch07/gen.ipynb)\n"
                     "- [Training on 8 GPUs with DDP](ch05/ddp/README.md)\n\n"
                     "## Bonus material\n\nWe fine-tune a 70B model; this requires 8x A100 80GB GPUs.\n",
        "ch05/ddp/README.md": "# DDP\n\n`torchrun --nproc_per_node=4 ddp.py` trains on four GPUs.\n",
    }).requirements
    assert req.gpu.count == 0 and req.gpu.min_total_memory_gb is None, req.reason


def test_frameworks_in_modules_of_a_monorepo_do_not_make_the_gpu_the_main_path(tmp_path: Path) -> None:
    files = {"README.md": "# Analyses\n\nEach module runs on a laptop.\n", "requirements.txt": "numpy\n"}
    for name in ("a", "b", "c", "d"):
        files[f"modules/{name}/environment.yml"] = "name: m\ndependencies:\n  - pytorch\n  - numpy\n"
    req = repo(tmp_path, files).requirements
    assert req.gpu.count == 0 and rules_choice(req, CATALOG).hardware.gpu_count == 0


def test_optional_extras_in_the_requirements_folder_keep_the_main_dependencies(tmp_path: Path) -> None:
    req = repo(tmp_path, {"README.md": "# Tool\n\nOptional extras are listed in requirements/extra.txt.\n",
                          "requirements/base.txt": "cupy-cuda12x\n", "requirements/extra.txt": "rich\n"}).requirements
    assert req.gpu.required == "yes"
