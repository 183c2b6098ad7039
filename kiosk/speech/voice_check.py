"""Checking a Piper voice before the kiosk takes it (`kiosk voice add`).

A voice that loads but lacks a sample rate the kiosk plays, the phonemes its lip sync needs, or the
speaker it is asked for would fail in front of visitors, or worse, speak with a frozen mouth. So every
check here runs on the files as they are, in the order a person would fix them: the files exist, the
config is JSON with a usable sample rate and phoneme map, the model loads in Piper, it speaks a test
sentence with every phoneme known to it, and the sentence's viseme timeline covers its audio. Each
refusal is a VoiceCheckError naming the file, what is wrong and what to do.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.config import SpeechSettings
from kiosk.events import VisemeSpan
from kiosk.speech.visemes import VISEMES, phoneme_to_viseme, phonemes_of

log = logging.getLogger(__name__)

SAMPLE_RATES = (16000, 22050, 24000, 44100, 48000)
"""Rates Piper voices are trained at (low = 16 kHz, medium/high = 22.05 kHz) and the usual device rates."""
REQUIRED_VISEMES = ("PP", "FF", "DD", "kk", "SS", "nn", "aa", "E", "ih", "oh", "ou")
"""Mouth shapes every language needs: a voice whose phoneme map has no phoneme for one of them leaves the
avatar's mouth in the wrong shape for those sounds."""
LANGUAGE_VISEMES = ("TH", "CH", "RR")
"""Shapes some languages do without (no θ/ð, no ʃ, no ɹ): missing ones are a warning, not a refusal."""
MARKERS = ("_", "^", "$")  # Piper's pad, start and end of an utterance: without them nothing is said
TIMELINE_TOLERANCE_S = 0.05
_OWN_CONFIG = "use the voice's own .onnx.json (the config its training wrote)"
SILENCE_PEAK = 300  # about -40 dBFS: a "spoken" sentence below this is silence
TEST_SENTENCES = {
    "en": "Welcome! Thank you for joining us; your badge, a short map and the Wi-Fi voucher are waiting "
          "at reception, just beyond the large glass doors.",
    "de": "Willkommen! Ihr Ausweis und eine kleine Karte des Gebäudes liegen am Empfang für Sie bereit.",
    "es": "¡Bienvenido! Su tarjeta de acceso y un pequeño mapa del edificio le esperan en la recepción.",
    "fr": "Bienvenue ! Votre badge et un petit plan du bâtiment vous attendent à l'accueil.",
    "it": "Benvenuto! Il suo badge e una piccola mappa dell'edificio la aspettano alla reception.",
    "nl": "Welkom! Uw pasje en een kleine plattegrond van het gebouw liggen klaar bij de receptie.",
    "pt": "Bem-vindo! O seu crachá e um pequeno mapa do edifício esperam por si na receção.",
}


class VoiceCheckError(ValueError):
    """A voice the kiosk must not take; the message names the file, the problem and the fix."""

    def __init__(self, path: Path, problem: str, fix: str) -> None:
        self.path, self.problem, self.fix = path, problem, fix
        super().__init__(f"{path}: {problem}\n  what to do: {fix}")


@dataclass(frozen=True)
class VoiceFiles:
    model: Path
    config: Path
    extras: tuple[Path, ...] = ()
    """files kept with the voice (its MODEL_CARD: the licence travels with the model)"""

    @property
    def stem(self) -> str:
        return self.model.name.removesuffix(".onnx")


@dataclass(frozen=True)
class VoiceInfo:
    """What a voice's .onnx.json says, in the kiosk's terms."""

    language: str  # ISO 639 code ("en"), or "multi" when the config does not say
    language_name: str
    sample_rate: int
    quality: str
    num_speakers: int
    speakers: dict[str, int]
    default_speaker: int
    espeak_voice: str
    phoneme_type: str

    @staticmethod
    def from_config(config: dict[str, Any]) -> VoiceInfo:
        """Best effort, for listing: never raises on a config that passed the checks."""
        lang, espeak, audio, speakers = (_table(config, k) for k in ("language", "espeak", "audio", "speaker_id_map"))
        code = str(lang.get("family") or lang.get("code") or espeak.get("voice") or "")
        family = code.replace("-", "_").split("_")[0].lower()
        return VoiceInfo(
            language=family if 2 <= len(family) <= 3 and family.isalpha() else "multi",
            language_name=str(lang.get("name_english") or lang.get("code") or espeak.get("voice") or "?"),
            sample_rate=int(audio.get("sample_rate") or 0), quality=str(audio.get("quality") or ""),
            num_speakers=int(config.get("num_speakers") or 1),
            speakers={str(k): int(v) for k, v in speakers.items()},
            default_speaker=int(config.get("default_speaker_id") or 0),
            espeak_voice=str(espeak.get("voice") or ""), phoneme_type=str(config.get("phoneme_type") or "espeak"))


def _table(config: dict[str, Any], key: str) -> dict[str, Any]:
    value = config.get(key)
    return value if isinstance(value, dict) else {}


@dataclass
class VoiceReport:
    files: VoiceFiles
    info: VoiceInfo
    speaker_id: int | None
    text: str
    duration_s: float = 0.0
    visemes: int = 0
    shapes: int = 0  # distinct mouth shapes (not counting sil): real speech moves through many
    aligned: bool = True  # Piper gave per-phoneme timings (else the mouth follows evenly spread phonemes)
    load_s: float = 0.0
    speak_s: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["files"] = {"model": str(self.files.model), "config": str(self.files.config),
                        "extras": [str(p) for p in self.files.extras]}
        return out


# ----------------------------------------------------------------------------- files and config


def find_voice_files(path: Path) -> VoiceFiles:
    """The .onnx and its .onnx.json from a file or a folder holding exactly one voice."""
    path = Path(path).expanduser()
    if not path.exists():
        raise VoiceCheckError(path, "no such file or folder", "give the voice's .onnx file or the folder holding it")
    if path.is_dir():
        models = sorted(path.glob("*.onnx"))
        if not models:
            raise VoiceCheckError(path, "no .onnx voice model in this folder",
                                  "give the folder holding NAME.onnx and NAME.onnx.json, or the .onnx file itself")
        if len(models) > 1:
            listed = ", ".join(m.name for m in models)
            raise VoiceCheckError(path, f"{len(models)} voice models in this folder ({listed})",
                                  "give the .onnx file of the one to add")
        path = models[0]
    elif path.name.endswith(".onnx.json"):
        path = path.with_name(path.name.removesuffix(".json"))
    if not path.name.endswith(".onnx") or not path.is_file():
        raise VoiceCheckError(path, "not a Piper voice model (.onnx file)", "give the voice's .onnx file")
    config = path.with_name(path.name + ".json")
    if not config.is_file():
        raise VoiceCheckError(config, "missing: a Piper voice is two files, the model and its config side by side",
                              f"put the voice's config next to {path.name} as {config.name} (Piper training writes "
                              "it to --data.config_path, e.g. config.json: copy it under this name)")
    extras = tuple(p for p in (path.parent / "MODEL_CARD",) if p.is_file())
    return VoiceFiles(path, config, extras)


def read_config(path: Path) -> dict[str, Any]:
    fix = "use the .onnx.json that came with the voice (Piper training writes it to --data.config_path)"
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as error:
        raise VoiceCheckError(path, f"not UTF-8 text (bad byte at offset {error.start})", fix) from None
    except json.JSONDecodeError as error:
        raise VoiceCheckError(path, f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}",
                              fix) from None
    except OSError as error:
        raise VoiceCheckError(path, f"cannot be read: {error.strerror or error}", fix) from None
    if not isinstance(data, dict):
        raise VoiceCheckError(path, "not a voice config: the JSON is not an object", fix)
    return data


def check_config(config: dict[str, Any], path: Path) -> VoiceInfo:
    """Sample rate, speakers and the keys Piper needs; the phoneme map is check_phoneme_map's."""
    audio = config.get("audio")
    rate = audio.get("sample_rate") if isinstance(audio, dict) else None
    if rate is None:
        raise VoiceCheckError(path, "has no audio.sample_rate",
                              'add "audio": {"sample_rate": 22050} with the rate the voice was trained at '
                              "(training's --model.sample_rate; 22050 for medium and high voices, 16000 for low)")
    if isinstance(rate, bool) or not isinstance(rate, int) or rate not in SAMPLE_RATES:
        raise VoiceCheckError(path, f"audio.sample_rate = {rate!r} is not one the kiosk plays "
                              f"({', '.join(map(str, SAMPLE_RATES))})",
                              "set it to the rate the voice was trained at; retrain at 22050 Hz if it is another")
    from piper import PiperConfig

    try:
        PiperConfig.from_dict(config)
    except KeyError as error:
        raise VoiceCheckError(path, f"lacks the key {error.args[0]!r} Piper needs", _OWN_CONFIG) from None
    except (TypeError, ValueError, AttributeError) as error:
        raise VoiceCheckError(path, f"is not a Piper voice config: {error}", _OWN_CONFIG) from None
    try:
        info = VoiceInfo.from_config(config)
    except (TypeError, ValueError) as error:  # num_speakers = "two", speaker ids that are not numbers
        raise VoiceCheckError(path, f"is not a Piper voice config: {error}", _OWN_CONFIG) from None
    speakers = config.get("speaker_id_map") or {}
    if not isinstance(speakers, dict) or any(
            isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < max(1, info.num_speakers)
            for v in speakers.values()):
        raise VoiceCheckError(path, f"speaker_id_map must map names to ids 0 to {info.num_speakers - 1} "
                              f"(num_speakers = {info.num_speakers})", _OWN_CONFIG)
    return info


def check_phoneme_map(config: dict[str, Any], path: Path) -> list[str]:
    """Refuses a map without the phonemes the lip sync needs; returns warnings for language-dependent ones."""
    id_map = config.get("phoneme_id_map")
    fix = "use the phoneme_id_map the voice was trained with (its .onnx.json from training)"
    if not isinstance(id_map, dict) or not id_map:
        raise VoiceCheckError(path, "has no phoneme_id_map", fix)
    missing_markers = [m for m in MARKERS if m not in id_map]
    if missing_markers:
        raise VoiceCheckError(path, f"phoneme_id_map lacks Piper's markers {' '.join(missing_markers)} "
                              "(pad, start, end)", fix)
    shapes: dict[str, list[str]] = {}
    for phoneme in id_map:
        viseme = phoneme_to_viseme(phoneme)
        if viseme:
            shapes.setdefault(viseme, []).append(phoneme)
    lacking = [v for v in REQUIRED_VISEMES if v not in shapes]
    if lacking:
        examples = {v: _examples(v) for v in lacking}
        raise VoiceCheckError(path, "phoneme_id_map has no phoneme for the mouth shapes "
                              + ", ".join(f"{v} ({examples[v]})" for v in lacking)
                              + ": the avatar's lips could not follow those sounds", fix)
    return [f"phoneme_id_map has no phoneme for the mouth shape {v} ({_examples(v)}); fine if the language has "
            "no such sound" for v in LANGUAGE_VISEMES if v not in shapes]


def _examples(viseme: str) -> str:
    return " ".join(phonemes_of(viseme)[:4])


# ----------------------------------------------------------------------------- speaking


def check_timeline(spans: list[VisemeSpan] | tuple[VisemeSpan, ...], duration_s: float,
                   tolerance_s: float = TIMELINE_TOLERANCE_S) -> list[str]:
    """What is wrong with a clip's viseme timeline ([] = complete): it must cover the audio from its start
    to its end (within `tolerance_s`) without gaps, and move the mouth at least once."""
    if duration_s <= 0:
        return ["no audio"]
    if not spans:
        return ["no visemes at all"]
    problems = []
    if spans[0].start_s > tolerance_s:
        problems.append(f"starts at {spans[0].start_s:.3f} s, not at the start of the audio")
    if abs(spans[-1].end_s - duration_s) > tolerance_s:
        problems.append(f"ends at {spans[-1].end_s:.3f} s but the audio lasts {duration_s:.3f} s")
    gaps = sum(1 for a, b in zip(spans, spans[1:], strict=False) if abs(b.start_s - a.end_s) > 1e-6)
    if gaps:
        problems.append(f"{gaps} gap(s) or overlap(s) between spans")
    if any(s.viseme not in VISEMES for s in spans):
        problems.append("unknown viseme names")
    if all(s.viseme == "sil" for s in spans):
        problems.append("only silence: the mouth never moves")
    return problems


def sentence_for(info: VoiceInfo) -> tuple[str, list[str]]:
    if info.language in TEST_SENTENCES:
        return TEST_SENTENCES[info.language], []
    return TEST_SENTENCES["en"], [f"no built-in test sentence for language {info.language!r}: an English one was "
                                  "spoken; pass --text with a sentence in the voice's language"]


def check_voice(files: VoiceFiles, speech: SpeechSettings | None = None, speaker: int | str = "",
                text: str | None = None) -> VoiceReport:
    """Every check, the slow ones (loading and speaking, a few seconds) last."""
    from kiosk.speech.piper_voice import PiperSpeaker
    from kiosk.speech.speakers import SpeakerChoiceError

    config = read_config(files.config)
    info = check_config(config, files.config)
    warnings = check_phoneme_map(config, files.config)
    if files.model.stat().st_size == 0:
        raise VoiceCheckError(files.model, "is empty", "copy the voice's .onnx again")
    if text is None:
        text, more = sentence_for(info)
        warnings += more
    settings = dataclasses.replace(speech or SpeechSettings(), speaker=speaker)
    t = time.perf_counter()
    try:
        voice = PiperSpeaker(files.model, settings, config_path=files.config)
    except SpeakerChoiceError as error:
        raise VoiceCheckError(files.config, str(error), "pass --speaker with one of its speakers") from None
    except Exception as error:  # noqa: BLE001 - onnx/onnxruntime raise many types for a damaged file
        raise VoiceCheckError(files.model, f"does not load in Piper ({_first_line(error)})",
                              "the file is damaged or truncated, or not a Piper voice: copy it again and compare its "
                              "size and sha256 with the original, or export it again with piper's export_onnx"
                              ) from None
    report = VoiceReport(files, info, voice.speaker_id, text, load_s=time.perf_counter() - t, warnings=warnings)
    _check_phonemes_known(voice, text, config, files.config)
    t = time.perf_counter()
    try:
        clips = list(voice.speak(text))
    except Exception as error:  # noqa: BLE001 - whatever onnxruntime says about a model that cannot run
        hint = (f"its config says {info.num_speakers} speakers: is the .onnx really that multi-speaker model?"
                if info.num_speakers > 1 else "check that the config belongs to this model (same training run)")
        raise VoiceCheckError(files.model, f"fails to speak the test sentence ({_first_line(error)})", hint) from None
    report.speak_s = time.perf_counter() - t
    if not clips or not any(c.pcm for c in clips):
        raise VoiceCheckError(files.model, f"spoke no audio for the test sentence {text!r}",
                              "check that the config belongs to this model (same training run)")
    peak = max(int(np.abs(np.frombuffer(c.pcm, dtype=np.int16).astype(np.int32)).max()) for c in clips if c.pcm)
    if peak < SILENCE_PEAK:
        raise VoiceCheckError(files.model, "spoke only silence for the test sentence",
                              "the model or its config is broken: export the voice again")
    for i, clip in enumerate(clips, 1):
        problems = check_timeline(clip.visemes, clip.duration_s)
        if problems:
            raise VoiceCheckError(files.model, f"the viseme timeline of sentence {i} is incomplete: "
                                  + "; ".join(problems), "the lip sync cannot follow this voice: export it again "
                                  "with piper's export_onnx, and keep the `onnx` package installed")
    report.duration_s = round(sum(c.duration_s for c in clips), 3)
    report.visemes = sum(len(c.visemes) for c in clips)
    report.shapes = len({s.viseme for c in clips for s in c.visemes} - {"sil"})
    report.aligned = len(voice.voice.session.get_outputs()) > 1  # the patched duration output exists
    if not report.aligned:
        report.warnings.append("Piper gives no phoneme timings for this model: the mouth follows evenly spread "
                               "phonemes, a rougher lip sync")
    return report


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0][:300]}" if text else type(error).__name__


def _check_phonemes_known(voice: Any, text: str, config: dict[str, Any], path: Path) -> None:
    """Piper drops phonemes its map lacks without a word: the audio and the mouth would skip those sounds."""
    id_map = config["phoneme_id_map"]
    try:
        sentences = voice.voice.phonemize(text)
    except Exception as error:  # noqa: BLE001 - espeak-ng rejects unknown voices in its own way
        raise VoiceCheckError(path, f"cannot turn text into phonemes with espeak voice "
                              f"{config.get('espeak', {}).get('voice')!r}: {error}",
                              "set espeak.voice to an espeak-ng voice (`espeak-ng --voices`)") from None
    unknown = sorted({p for sentence in sentences for p in sentence if p not in id_map})
    if unknown:
        raise VoiceCheckError(path, f"phoneme_id_map lacks {' '.join(unknown)}, used by the test sentence: Piper would "
                              "skip those sounds silently (missing syllables, a mouth out of step)",
                              "use the phoneme_id_map the voice was trained with")
