"""Hardware statements in READMEs, and builds where the GPU port is one option among CPU ones."""

from __future__ import annotations

from pathlib import Path

from chameleon_provision.repo_analyzer import Analysis, analyze


def readme(tmp_path: Path, text: str, **files: str) -> Analysis:
    (tmp_path / "README.md").write_text(text)
    for name, body in files.items():
        path = tmp_path / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return analyze(tmp_path)


def found(a: Analysis, signal: str) -> list[tuple[object, str, int]]:
    return [(f.value, f.scope, f.evidence.line) for f in a.facts if f.signal == signal]


def test_statement_kinds(tmp_path: Path) -> None:
    a = readme(tmp_path, "# X\n\nThe training code runs within hours on a single RTX 4090.\n\n"
                         "On one A100 GPU this run takes about 3 minutes.\n\n"
                         "It needs a GPU with at least 16 GB of VRAM.\n")
    assert (24.0, "main", 3) in found(a, "readme.gpu_memory_tested")  # consumer GPU in a timing: it fits there
    assert all(line != 5 for _v, _s, line in found(a, "readme.gpu_memory_tested"))  # A100 timing: no floor
    assert found(a, "readme.gpu_memory") == [(16.0, "main", 7)]
    assert a.requirements.gpu.min_memory_gb == 16.0
    assert a.requirements.estimated_runtime_hours == 0.05


def test_scopes_from_headings_and_words(tmp_path: Path) -> None:
    a = readme(tmp_path, "# X\n\n## quick start\n\nI have a GPU.\n\n## reproducing the paper\n\n"
                         "You'll want at least an 8X A100 40GB node:\n\n"
                         "```sh\ntorchrun --nproc_per_node=8 train.py\n```\n\n"
                         "## QLoRA training\n\nTrain on a single consumer GPU.\n")
    counts = found(a, "readme.gpu_count") + found(a, "launch.command")
    assert (1, "main", 5) in counts
    assert (8, "full", 9) in counts and (8, "full", 12) in counts
    assert any(scope == "reduced" for _v, scope, _l in counts)
    assert a.requirements.gpu.count == 1


def test_skipped_sections_sponsors_and_badges(tmp_path: Path) -> None:
    a = readme(tmp_path, "# X\n\n[![GPU](https://img.shields.io/badge/GPU-A100-green)](x)\n\nA web app.\n\n"
                         "Thanks to our sponsor for 8 H100 GPUs.\n\n## News\n\nNow trained on 64 A100 GPUs.\n\n"
                         "## Acknowledgements\n\nAll experiments are powered by GPUs on a cloud.\n\n"
                         "## Usage\n\nRun `python app.py`.\n")
    assert a.requirements.gpu.required == "no"
    assert {line for _v, _s, line in found(a, "ignored.trap")} == {3, 7, 11, 15}


def test_cpu_statements(tmp_path: Path) -> None:
    a = readme(tmp_path, "# X\n\nTraining does not require any special hardware, it runs on a laptop, "
                         "but if you have a GPU training will fly faster.\n\nTurn on CPU offload to save memory.\n\n"
                         "It is 10x faster than on CPU.\n", **{"requirements.txt": "torch\n"})
    assert [line for _v, _s, line in found(a, "readme.cpu_ok")] == [3]
    assert found(a, "readme.gpu_count") == [] and found(a, "readme.gpu_required") == []
    assert a.requirements.gpu.count == 0  # the CPU is the documented main path


def test_conditional_hardware_is_not_a_floor(tmp_path: Path) -> None:
    a = readme(tmp_path, "# X\n\nUse at least CUDA 11.1 if running on an RTX 3090.\n\n"
                         "Users with multiple GPUs should read the FAQ.\n", **{"requirements.txt": "cupy\n"})
    assert found(a, "readme.gpu_memory") == [] and found(a, "readme.gpu_count") == []
    assert a.requirements.gpu.min_memory_gb is None and a.requirements.gpu.count == 1


def test_vram_table_takes_largest_row(tmp_path: Path) -> None:
    a = readme(tmp_path, "# X\n\n| Size | Required VRAM | Speed |\n|---|---|---|\n| tiny | ~1 GB | 10x |\n"
                         "| large | ~10 GB | 1x |\n\nDone.\n", **{"requirements.txt": "torch\n"})
    assert found(a, "readme.vram_table") == [(10.0, "main", 6)]
    assert (a.requirements.gpu.required, a.requirements.gpu.min_memory_gb) == ("optional", 10.0)


def test_model_size_only_from_commands(tmp_path: Path) -> None:
    a = readme(tmp_path, "# X\n\nThe code extends easily to the 13b, 30b and 65b models.\n\n```bash\n"
                         "python finetune.py \\\n    --base_model 'decapoda-research/llama-7b-hf' \\\n"
                         "    --output_dir ./lora-out\n```\n", **{"requirements.txt": "peft\nbitsandbytes\n"})
    assert found(a, "readme.model_memory") == [(21.6, "main", 6)]  # 7B fp16 LoRA: 7 x 2 x 1.4 + 2


def test_setext_headings_and_fences_after_text(tmp_path: Path) -> None:
    a = readme(tmp_path, "Title\n=====\n\nOutput on an RTX 2070:\n```\n------ Device ------\nCUDA driver 10.20\n"
                         "GPU clock rate: 1620 MHz\n```\n")
    assert found(a, "readme.gpu_count") == [(1, "main", 4)]  # "an RTX 2070"; the output block is not prose


def test_gpu_port_among_cpu_ports(tmp_path: Path) -> None:
    cpu_make = "CXX = mpicxx\nall:\n\t$(CXX) -fopenmp main.cc\n"
    files = {f"{port}__Makefile": cpu_make for port in ("ref", "openmp", "mkl")}
    files["cuda__Makefile"] = "all:\n\tnvcc -arch=sm_70 main.cu\n"
    files["cuda__main.cu"] = "__global__ void k() {}\n"
    a = readme(tmp_path, "# MiniApp\n\nReference MPI implementation with several ports.\n", **files)
    assert "build.cuda" not in {f.signal for f in a.facts}
    assert a.requirements.gpu.count == 0 and a.requirements.gpu.required in ("optional", "no")


def test_gpu_ports_in_majority_stay_gpu(tmp_path: Path) -> None:
    files = {f"bench-{p}__CMakeLists.txt": "project(b LANGUAGES CXX CUDA)\n" for p in ("cuda", "hip", "sycl")}
    files["bench-cpu__CMakeLists.txt"] = "find_package(OpenMP)\n"
    a = readme(tmp_path, "# GPU benchmark\n\nEvaluates GPUs.\n", **files)
    assert a.requirements.gpu.required == "yes"


def test_makefile_with_cuda_as_one_target_of_many(tmp_path: Path) -> None:
    mk = ("all: omp tbb cuda\nomp:\n\t$(CXX) -fopenmp a.cc -o a\ntbb:\n\t$(CXX) b.cc -ltbb -o b\n"
          "cuda:\n\t$(NVCC) c.cu -o c\n")
    a = readme(tmp_path, "# Kernels\n", **{"Makefile": mk, "c.cu": "__global__ void k() {}\n"})
    assert {f.signal for f in a.facts if f.value == "nvidia"} == {"build.cuda_optional"}
    assert a.requirements.gpu.count == 0


def test_hip_repo_title(tmp_path: Path) -> None:
    a = readme(tmp_path, "# HIP-Examples\n\nExamples for HIP. See the ROCm docs.\n")
    assert (a.requirements.gpu.required, a.requirements.gpu.vendor) == ("yes", "amd")


def test_how_published_models_were_trained_and_multi_gpu_ddp_are_the_full_scale(tmp_path: Path) -> None:
    a = readme(tmp_path, "# Det\n\nThe released models were trained on COCO using a 4xA100 instance.\n\n"
                         "Train on a single GPU:\n\n```bash\npython train.py --device 0\n```\n\n"
                         "Multi-GPU DDP training is faster.\n\n", **{"requirements.txt": "torch\n"})
    scopes = {(f.value, f.scope) for f in a.facts if f.signal == "readme.gpu_count"}
    assert (4, "full") in scopes and (1, "main") in scopes
    assert a.requirements.gpu.count == 1
