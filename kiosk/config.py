"""Kiosk settings: one frozen dataclass per TOML section, loaded and validated once at start-up.

The kiosk runs with no config file at all (built-in defaults: Ava, the onboarding coach). A file is
found in this order: --config, $KIOSK_CONFIG, ./kiosk.toml, /etc/kiosk/kiosk.toml. Every problem in
a file is reported at once, each with its file and line, so a person fixing a kiosk on site needs
one round trip, not ten. Path values are kept exactly as written; model names are checked against
the manifest elsewhere, here they only have to be non-empty.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.config_check import (
    ConfigError,
    KeyLocator,
    Problem,
    check_table,
    got,
    loads_toml,
    syntax_problem,
    unknown_section_message,
)

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (JetPack 6)
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = [
    "AnswerSettings",
    "AudioSettings",
    "ConfigError",
    "LLMSettings",
    "ListenSettings",
    "KnowledgeSettings",
    "LoggingSettings",
    "ModelsSettings",
    "ScreenSettings",
    "ServiceSettings",
    "PersonaSettings",
    "SECTIONS",
    "Settings",
    "SpeechSettings",
    "find_config_path",
    "load_settings",
    "parse_settings",
    "resolve_models_dir",
    "with_overrides",
]

log = logging.getLogger(__name__)

ETC_CONFIG_PATH = Path("/etc/kiosk/kiosk.toml")
"""The system-wide config, last in the search order (a module constant so tests can move it)."""
CONFIG_ENV = "KIOSK_CONFIG"
MODELS_DIR_ENV = "KIOSK_MODELS_DIR"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MANIFEST = REPO_ROOT / "models" / "manifest.toml"

_LANGUAGE = (r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*", 'a language code like "en", "en-US" or "de"')


def _f(default: Any, **meta: Any) -> Any:
    """A field with validation metadata (see config_check.check_value)."""
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class PersonaSettings:
    """[persona]: who the kiosk is and what it says."""

    name: str = _f("Ava", required=True)
    """the persona's first name, as it introduces itself"""
    role: str = "onboarding coach"
    """one-line role brief, e.g. "onboarding coach" ("You are Ava, the onboarding coach at ...")"""
    company: str = "Halvorsen Robotics"
    """the company the persona works for ("" = not mentioned)"""
    tone: str = "warm, concise and practical"
    """how it sounds, a short phrase"""
    greeting: str = "Hi, welcome! What can I help you with today?"
    """spoken when a visitor arrives"""
    system_prompt: str = ""
    """extra instructions appended to the built-in prompt; may be long and multi-line"""
    language: str = _f("en", required=True, pattern=_LANGUAGE)
    """answer language, BCP-47-ish: "en", "en-US", "de", "es" """
    voice: str = _f("en_US-joe-medium", required=True)
    """Piper voice: a model name from the model manifest (kind tts)"""
    llm: str = _f("smollm2-135m-instruct", required=True)
    """language model: a model name from the model manifest (kind llm)"""
    fallback_contact: str = "Please ask at the front desk, or call People Operations on extension 200."
    """what to offer when the persona does not know the answer"""
    avatar: str = ""
    """built-in avatar ("ava", "max") or an avatar pack folder (docs/avatar-format.md); "" = ava"""
    knowledge_base: str = ""
    """path to the SQLite document index ("" = none)"""


@dataclass(frozen=True)
class LLMSettings:
    """[llm]: how llama.cpp loads and runs the model."""

    n_ctx: int = _f(2048, range=(512, 32768))
    """context window, tokens"""
    n_threads: int = _f(0, range=(0, 64))
    """CPU threads (0 = auto)"""
    n_batch: int = _f(256, range=(16, 4096))
    """prompt-processing batch, tokens"""
    gpu_layers: int = _f(0, range=(-1, 1000))
    """layers offloaded to the GPU (0 = none, -1 = all)"""
    seed: int = 0
    """sampling seed, for repeatable answers"""
    flash_attn: bool = False
    """use flash attention (CUDA builds)"""


@dataclass(frozen=True)
class AnswerSettings:
    """[answer]: sampling and how the answer is cut into speakable chunks."""

    max_tokens: int = _f(120, range=(16, 2048))
    """longest answer, tokens"""
    temperature: float = _f(0.2, range=(0.0, 2.0))
    """sampling temperature (0 = greedy)"""
    top_p: float = _f(0.9, range=(0.0, 1.0), open_lo=True)
    """nucleus sampling mass, above 0 up to 1"""
    repeat_penalty: float = _f(1.1, range=(1.0, 2.0))
    """penalty for repeated tokens (1 = none)"""
    history_turns: int = _f(4, range=(0, 50))
    """question+answer pairs kept per visitor"""
    first_chunk_min_words: int = _f(3, range=(1, 20))
    """the first spoken chunk waits for at least this many words"""
    first_chunk_max_words: int = _f(12, range=(2, 60))
    """...and is cut at this many words even without punctuation (>= first_chunk_min_words)"""
    max_sentence_chars: int = _f(200, range=(40, 1000))
    """a longer sentence is split before it is spoken, characters"""
    yield_to_speech: str = _f("auto", choices=("auto", "on", "off"))
    """pause token generation while a sentence is synthesized, so speech gets the CPU first
    (auto = on when the LLM runs on the CPU, i.e. llm.gpu_layers = 0)"""


@dataclass(frozen=True)
class SpeechSettings:
    """[speech]: Piper text-to-speech."""

    rate: float = _f(1.0, range=(0.5, 2.0))
    """speaking-rate multiplier (>1 = faster)"""
    use_cuda: bool = False
    """run Piper on the GPU through onnxruntime-gpu"""
    threads: int = _f(0, range=(0, 64))
    """onnxruntime intra-op threads (0 = auto)"""
    volume: float = _f(1.0, range=(0.0, 2.0))
    """output gain (1 = unchanged)"""
    sentence_pause_s: float = _f(0.12, range=(0.0, 2.0))
    """silence between sentences, seconds"""
    out_dir: str = ""
    """where `kiosk demo` writes WAV files ("" = none)"""
    speaker: int | str = ""
    """multi-speaker voices: the speaker id (a number) or name (from the voice's speaker_id_map); "" = the
    voice's default speaker (normally 0, the first). Checked against the voice when it loads"""


@dataclass(frozen=True)
class AudioSettings:
    """[audio]: sound devices."""

    output_device: str = ""
    """substring of a PortAudio output device name ("" = system default)"""
    input_device: str = ""
    """substring of a PortAudio input device name ("" = system default)"""
    sample_rate: int = _f(16000, choices=(16000, 22050, 44100, 48000))
    """device sample rate, Hz"""


def resolve_models_dir(configured: str = "", env: Mapping[str, str] = os.environ) -> Path:
    """The models directory: `configured` ([models] dir), else $KIOSK_MODELS_DIR,
    else $XDG_DATA_HOME/kiosk/models, else ~/.local/share/kiosk/models."""
    if configured:
        return Path(configured).expanduser()
    if env.get(MODELS_DIR_ENV):
        return Path(env[MODELS_DIR_ENV]).expanduser()
    xdg = env.get("XDG_DATA_HOME", "")
    if xdg and Path(xdg).is_absolute():  # the XDG spec says to ignore relative values
        return Path(xdg) / "kiosk" / "models"
    return Path.home() / ".local" / "share" / "kiosk" / "models"


@dataclass(frozen=True)
class ModelsSettings:
    """[models]: where model files live."""

    dir: str = ""
    """models directory ("" = $KIOSK_MODELS_DIR, else $XDG_DATA_HOME/kiosk/models or
    ~/.local/share/kiosk/models; see resolved_dir)"""
    manifest: str = ""
    """model manifest ("" = the repo's models/manifest.toml)"""

    @property
    def resolved_dir(self) -> Path:
        return resolve_models_dir(self.dir, os.environ)

    @property
    def resolved_manifest(self) -> Path:
        if self.manifest:
            return Path(self.manifest).expanduser()
        env = os.environ.get("KIOSK_MODELS_MANIFEST")  # set by systemd/kiosk.service for a non-editable install
        return Path(env).expanduser() if env else DEFAULT_MANIFEST


@dataclass(frozen=True)
class ScreenSettings:
    """[screen]: where and how the talking head is drawn."""

    mode: str = _f("auto", choices=("auto", "fullscreen", "window", "headless"))
    """auto = `kiosk run`: full screen without a pointer wherever there is a display (the product);
    `kiosk demo --window` and development tools: a window; no display: headless. "window" keeps a
    window and the pointer for development"""
    backend: str = _f("auto", choices=("auto", "pygame", "cuda"))
    """auto = CUDA (jetson-utils) where it is installed, else pygame on the CPU"""
    fps: int = _f(30, range=(10, 120))
    """frames per second the screen is drawn at"""
    width: int = _f(1920, range=(320, 7680))
    """window or video width, px (full screen uses the display's own size)"""
    height: int = _f(1080, range=(240, 4320))
    """window or video height, px"""
    input: str = _f("auto", choices=("auto", "window", "evdev"))
    """where taps and keys come from: "window" = the window's own events (pygame); "evdev" = the touchscreen
    and keyboard read from /dev/input, whoever owns the window (the CUDA backend's window has no input API);
    auto = evdev with the CUDA backend, the window otherwise"""
    touch_rotation: int = _f(0, choices=(0, 90, 180, 270))
    """degrees clockwise from the touch panel's axes to the picture, for a panel mounted turned (evdev input)"""


@dataclass(frozen=True)
class ServiceSettings:
    """[service]: `kiosk run` as an unattended appliance."""

    status_bind: str = "127.0.0.1"
    """address of the status endpoint; localhost unless monitoring needs it elsewhere"""
    status_port: int = _f(8787, range=(0, 65535))
    """port of the status endpoint (GET /status, JSON); 0 = off"""
    forget_after_s: float = _f(90.0, range=(10.0, 3600.0))
    """the visitor's conversation and captions are forgotten after this much quiet"""
    turn_timeout_s: float = _f(60.0, range=(5.0, 600.0))
    """a turn still running after this long counts as hung: the watchdog stops and systemd restarts"""
    greeting: bool = True
    """say persona.greeting when a new visitor wakes the kiosk and then stays silent through
    listen.question_window_s (a visitor who asks at once is answered, never greeted over)"""
    earcon: bool = True
    """a short chime the moment a wake is heard, so the visitor knows the kiosk is listening"""
    api_bind: str = "127.0.0.1"
    """address of the local API (docs/api.md); another address needs api_token_sha256, or kiosk run refuses"""
    api_port: int = _f(8788, range=(0, 65535))
    """port of the local API and /metrics; 0 = off"""
    api_token_sha256: str = ""
    """sha256 of the API token (`kiosk api token` makes one); callers send `Authorization: Bearer TOKEN`"""
    api_token_local: bool = False
    """also require the token from this machine (localhost callers need none by default)"""
    api_rate: float = _f(10.0, range=(0.0, 10000.0))
    """local API requests a second per caller address on average (0 = unlimited); over it a caller gets 429
    with Retry-After, held back up to a second, so a script retrying in a loop cannot slow the visitor"""
    api_burst: int = _f(20, range=(1, 10000))
    """requests a caller may send at once before api_rate applies"""
    questions_report: bool = True
    """keep the text of questions the documents did not answer, for the admin console's report (never audio,
    never who asked); false = only counts"""
    questions_keep_days: int = _f(30, range=(1, 3650))
    """days a question's text is kept in that report"""
    packs_root: str = "/var/lib/kiosk/packs"
    """where content packs are installed (`kiosk pack install --root`); the console's Content packs page"""
    packs_trust: str = "/etc/kiosk/trusted-keys"
    """the public key(s) a pack must be signed with (`kiosk pack install --trust`)"""
    admin_password_hash: str = ""
    """the admin console's password as an scrypt hash (`kiosk api password` makes it); "" = the console opens
    only on the kiosk itself"""


@dataclass(frozen=True)
class LoggingSettings:
    """[logging]"""

    level: str = _f("INFO", upper=True, choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    """DEBUG, INFO, WARNING or ERROR (any case)"""
    journald: bool = False
    """log to the systemd journal instead of stderr"""


_SYNONYMS = (
    ("canteen", "cafeteria", "lunch", "food", "restaurant"),
    ("wifi", "wi-fi", "wireless", "internet"),
    ("badge", "id card", "access card", "keycard"),
    ("vacation", "pto", "time off", "holiday", "holidays", "leave"),
    ("laptop", "computer", "notebook"),
    ("car park", "parking", "park"),
)


@dataclass(frozen=True)
class KnowledgeSettings:
    """[knowledge]: the company's documents (local RAG). The index path is persona.knowledge_base."""

    documents_dir: str = ""
    """the folder of the company's documents that the admin console manages (upload, remove, re-index into
    persona.knowledge_base); "" = the console only shows what the index holds"""
    top_k: int = _f(4, range=(1, 20))
    """passages given to the LLM at most"""
    context_tokens: int = _f(600, range=(100, 4000))
    """token budget for those passages"""
    min_coverage: float = _f(0.4, range=(0.0, 1.0))
    """below this share of the question's content words found in the best passage, the kiosk
    says it does not know (and offers persona.fallback_contact) instead of answering (0.4 and
    scattered_coverage 0.65 with answer_check: chosen on the sample company, confirmed on a validation
    company; docs/benchmarks.md, "Built-in defaults")"""
    faq_coverage: float = _f(0.75, range=(0.0, 1.0))
    """an FAQ entry matching at least this share of the question's words is answered verbatim"""
    max_file_mb: float = _f(20.0, range=(0.1, 2048.0))
    """larger files are skipped at ingest, with the reason"""
    synonyms: tuple[tuple[str, ...], ...] = _SYNONYMS
    """groups of words that mean the same to visitors, e.g. [["canteen", "cafeteria", "lunch"]]"""
    thesaurus: bool = True
    """also use the built-in groups of everyday workplace words (kiosk/knowledge/thesaurus.py:
    "login" for "sign in", "clothes" for "work wear"), after `synonyms`"""
    abbreviations: bool = True
    """abbreviations the documents define ("safety data sheet (SDS)") count as their long form, and back,
    when the sentence to quote is chosen; "what does SDS stand for?" is answered with the definition
    (kiosk/knowledge/abbreviations.py)"""
    misheard_words: bool = True
    """a question word of 6+ letters the documents never use also stands for their words a sound or two from it,
    as the recognizer mishears the documents' own words ("fourklifts" for "forklifts"); trades a little of "I
    don't know" for a real word the documents lack ("promotion" counts as "probation")
    (kiosk/knowledge/misheard.py)"""
    embedding: str = ""
    """optional embedding model (manifest name, kind embedding) for dense retrieval fused with BM25"""
    scattered_coverage: float = _f(0.65, range=(0.0, 1.0))
    """a question of several words none of which stand together in any passage (only scattered
    single-word matches) is declined unless the best passage covers at least this share of it"""
    min_similarity: float = _f(0.35, range=(0.0, 1.0))
    """with an embedding model: below this cosine similarity between the question and the closest
    passage the kiosk also says it does not know (words alone cannot tell "is the company going
    public" from a passage about public transport)"""
    answer_check: str = "all-minilm-l6-v2"
    """embedding model (manifest name, kind embedding) that checks the answering sentence means what the
    question asks, not only shares its words ("is the company going public" -> "do not paste company
    information into public AI chat services"); "" = words alone decide. Not installed: the kiosk answers by
    the words alone and `kiosk doctor` warns (`kiosk models install-embedded all-minilm-l6-v2 --pip`)"""
    min_answer_similarity: float = _f(0.3, range=(0.0, 1.0))
    """with answer_check: below this cosine similarity between the question and the sentence that would
    answer it (with its section heading), the kiosk says it does not know"""
    quote_runner_up: float = _f(0.5, range=(0.0, 1.0))
    """quoting: the next best sentence of the same passage is said too when it scores at least this share of
    the best (answers are often split over two sentences); 0 = the best sentence only. 0.5 held more key
    facts on both evaluation companies (+4 and +3 points) for answers ~9 words longer (docs/benchmarks.md)"""
    answer_style: str = _f("auto", choices=("auto", "generate", "quote"))
    """generate: the LLM answers from the passages; quote: the best-matching document sentences are
    spoken word for word; auto: quote when the LLM is a tiny one (GGUF under 400 MB), else generate"""
    judge: str = _f("auto", choices=("auto", "on", "off"))
    """before saying it does not know, the kiosk asks the LLM whether one of the best few document sentences
    answers after all (visitors' words are often not the documents' words): on, off, or auto = when the LLM
    is large enough to read them (GGUF of 400 MB or more). One short prompt per sentence, only for questions
    that would be declined (kiosk/answer/judge.py; docs/benchmarks.md, "A second opinion before I don't know")"""
    judge_threshold: float = _f(0.75, range=(0.5, 1.0))
    """how sure the judge must be (its probability of answering yes) for a sentence to be said instead of the
    decline; 0.75 kept every unanswerable question of the tuning set declined with Qwen2.5-Coder-1.5B. Another
    model may need its own value: `kiosk eval` shows what a change does"""
    judge_candidates: int = _f(6, range=(1, 12))
    """sentences the judge reads at most, best by the words first"""


_WAKE_DECOYS = (
    "hey", "hi", "hello", "okay", "the", "a", "to", "and", "is", "it", "i", "you", "we", "what", "where",
    "when", "how", "who", "can", "do", "go", "so", "no", "yes", "joe", "here", "there", "this", "that",
    "please", "thanks", "good", "morning", "time", "coat", "couch", "coach", "code", "cold",
)


@dataclass(frozen=True)
class ListenSettings:
    """[listen]: speech recognition."""

    engine: str = _f("auto", choices=("auto", "vosk", "whisper"))
    """auto = Vosk when listen.vosk_model is installed (streaming, grammars), else Whisper"""
    vosk_model: str = ""
    """Vosk model from the manifest (kind asr), e.g. "vosk-model-small-en-us-0.15"; fetched at provisioning"""
    whisper_model: str = "whisper-base-ct2"
    """faster-whisper model from the manifest (kind asr); embedded from PyPI"""
    whisper_window_s: float = _f(20.0, range=(3.0, 30.0))
    """seconds of audio Whisper's encoder looks at when it listens for the wake phrase (longer utterances
    get theirs plus 1 s); shorter is faster; 30 = Whisper's own window, which also decides when a wake phrase
    is in doubt"""
    whisper_question_window_s: float = _f(10.0, range=(3.0, 30.0))
    """the same for a question after the wake: 10 s decodes ~100 ms sooner than 20 s at the same word error
    rate (docs/benchmarks.md, "Recognition window" and "End of turn")"""
    whisper_beam_size: int = _f(1, range=(1, 8))
    """Whisper's beam: 1 = greedy, the most likely word each time (fastest); more keeps that many hypotheses
    and may hear hard voices better, for a slower decode (docs/benchmarks.md, "Whisper's beam")"""
    language: str = "en"
    """language Whisper listens for ("" = detect)"""
    vocabulary: str = _f("auto", choices=("auto", "off"))
    """auto = Whisper is primed with the documents' unusual words (names, room codes, "canteen") taken
    from persona.knowledge_base, so it writes "B-214" and "the Galley" instead of "Ruby 214" and "the
    valley"; off = Whisper as it is. Vosk cannot be primed: its missing words are reported instead"""
    vocabulary_extra: tuple[str, ...] = _f((), keep_case=True)
    """words the company wants recognized, before the documents' own, e.g. ["Halvorsen", "Kestrel"]
    (spelled as Whisper should write them)"""
    vocabulary_tokens: int = _f(120, range=(0, 223))
    """room the vocabulary may take in Whisper's prompt, tokens: more words are primed, but each costs
    decoding time and a long list makes Whisper likelier to write a listed word that was not said"""
    wake_phrase: str = _f("hey coach", required=True)
    """what a visitor says to start a conversation (tap, key or API always work too)"""
    wake_decoys: tuple[str, ...] = _WAKE_DECOYS
    """Vosk spotting: common words in the listening language that are NOT the wake phrase, so other
    speech is not forced onto it (words missing from the model are left out)"""
    wake_sensitivity: float = _f(0.5, range=(0.0, 1.0))
    """higher = accepts looser matches of the wake phrase (more wakes, more false ones)"""
    wake_acoustic: float = _f(0.15, range=(0.0, 1.0))
    """Whisper: a wake phrase whose transcript is misspelt ("take off", "here coach") still wakes the
    kiosk when it sounds this close to the phrase spoken by several voices (0 = off; needs espeak-ng);
    higher hears more voices and more near misses ("hey Cole")"""
    wake_samples: str = ""
    """a folder of recordings of the wake phrase by the company's own people (WAV; `kiosk wake record`, `kiosk
    wake add`), each one more sound template: for voices and accents the synthetic ones miss. Relative paths are
    from this file's folder; "" = $XDG_DATA_HOME/kiosk/wake-samples (~/.local/share/kiosk/wake-samples)"""
    vad: str = _f("silero", choices=("silero", "energy"))
    """voice activity detector: silero (ONNX model, robust to noise) or energy (level only, no model)"""
    vad_threshold: float = _f(0.5, range=(0.05, 0.95))
    """speech probability at which an utterance starts"""
    hangover_ms: int = _f(900, range=(100, 3000))
    """silence that ends an utterance whose words sound unfinished ("where is the ..."), or whenever no
    early transcript is available to judge it (early decoding off)"""
    hangover_complete_ms: int = _f(200, range=(100, 3000))
    """silence that ends an utterance whose transcript so far reads as a complete question or request
    ("... on my first day?"): shorter answers sooner, longer cuts fewer visitors off (>= hangover_ms: off)"""
    early_decode_ms: int = _f(60, range=(0, 3000))
    """after this much silence, a batch recognizer (Whisper) starts decoding while the hangover runs,
    so the transcript is ready sooner; thrown away if the speaker goes on (>= hangover_ms: off)"""
    min_speech_ms: int = _f(250, range=(50, 2000))
    """shorter sounds are not speech (coughs, clicks)"""
    max_utterance_s: float = _f(15.0, range=(2.0, 60.0))
    """an utterance is cut here even if the speaker goes on"""
    preroll_ms: int = _f(300, range=(0, 1500))
    """audio kept from before speech was detected, so the first syllable is not lost"""
    question_window_s: float = _f(5.0, range=(1.0, 30.0))
    """after a wake (phrase, tap, key, API), the question may start within this; people pause after a
    wake phrase, waiting for the kiosk to react"""
    follow_up_s: float = _f(4.0, range=(0.0, 60.0))
    """after the kiosk has answered, another question may start within this without the wake phrase;
    only utterances that seem addressed to the kiosk are taken, and chatter does not extend it"""
    bystander_level_db: float = _f(7.0, range=(0.0, 40.0))
    """in the follow-up window (and after a voice wake), speech this much quieter than the visitor's own
    wake phrase or question is a bystander's (0 = off); lower rejects more bystanders but also visitors
    who step back"""
    speaker_similarity: float = _f(0.5, range=(0.0, 1.0))
    """in the follow-up window, a voice less similar than this to the visitor's (speaker embeddings,
    when the model is installed) is a bystander's (0 = off); higher rejects more bystanders and more
    visitors heard through noise (docs/benchmarks.md, "Speaker embeddings")"""
    follow_up_form: bool = True
    """in the follow-up window only a question or a request is taken ("and on weekends?", "tell me
    about parking"); statements and thanks are chatter"""
    merge_s: float = _f(1.5, range=(0.0, 10.0))
    """speech resuming within this of a question's end continues that question ("where is the ..." /
    "IT help desk?") instead of replacing it, and stops an answer that has just begun"""
    refractory_s: float = _f(2.0, range=(0.0, 30.0))
    """after a wake, further wake detections are ignored for this long"""
    gate_tail_ms: int = _f(300, range=(0, 3000))
    """half-duplex: the microphone stays closed this long after the kiosk stops speaking (echo, reverb)"""
    barge_in: str = _f("wake", choices=("tap", "wake", "voice"))
    """interrupting the kiosk while it speaks: tap (screen/key only), wake (also the wake phrase), voice
    (any speech; only with an echo-cancelling audio stack, or the kiosk interrupts itself)"""
    record_dir: str = ""
    """a folder where `kiosk run` keeps what its microphone gave the listener (WAV) and the kiosk's control
    calls (JSON lines), to hear it again with `kiosk listen --input REC.wav --controls REC.jsonl`: the same
    wakes and words as live. "" = off; on, it keeps visitors' voices on disk until someone deletes them"""


@dataclass(frozen=True)
class LearnSettings:
    """[learn]: activities the idle screen offers beside questions (docs/learning.md)"""

    quizzes: tuple[str, ...] = _f((), keep_case=True)
    """quiz files (TOML; kiosk quiz check FILE), each a button and asked for by voice ("quiz me", "start the
    safety quiz"); relative paths are from this file's folder. A draft (draft = true) is never offered"""
    scenarios: tuple[str, ...] = _f((), keep_case=True)
    """practice-conversation scenario files (kiosk roleplay check FILE), each a button ("let's practise a
    conversation")"""
    judge: str = _f("auto", choices=("auto", "rules", "model"))
    """who rates a practice conversation: rules (phrases, questions, talking time), the model too where it is
    capable (auto: a model file of 400 MB or more), or the model always"""
    results: bool = True
    """count quiz results (anonymous: per question right/wrong, per quiz passed/failed; never what was said),
    kept service.questions_keep_days days; `kiosk report`"""


SECTIONS: dict[str, type] = {
    "persona": PersonaSettings,
    "llm": LLMSettings,
    "answer": AnswerSettings,
    "speech": SpeechSettings,
    "audio": AudioSettings,
    "models": ModelsSettings,
    "logging": LoggingSettings,
    "knowledge": KnowledgeSettings,
    "listen": ListenSettings,
    "screen": ScreenSettings,
    "service": ServiceSettings,
    "learn": LearnSettings,
}
# Every known key -> its section, to tell someone who put `temperature` under [llm] where it goes.
_KEY_HOME = {f.name: s for s, cls in reversed(SECTIONS.items()) for f in dataclasses.fields(cls)}


@dataclass(frozen=True)
class Settings:
    """All settings, built once at start-up and passed down."""

    persona: PersonaSettings = field(default_factory=PersonaSettings)
    llm: LLMSettings = field(default_factory=LLMSettings)
    answer: AnswerSettings = field(default_factory=AnswerSettings)
    speech: SpeechSettings = field(default_factory=SpeechSettings)
    audio: AudioSettings = field(default_factory=AudioSettings)
    models: ModelsSettings = field(default_factory=ModelsSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    knowledge: KnowledgeSettings = field(default_factory=KnowledgeSettings)
    listen: ListenSettings = field(default_factory=ListenSettings)
    screen: ScreenSettings = field(default_factory=ScreenSettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    learn: LearnSettings = field(default_factory=LearnSettings)
    source: Path | None = None
    """the file these settings came from; None for built-in defaults"""


# --- finding and loading --------------------------------------------------------------------------


def _anchor(path: str, cwd: Path | None) -> Path:
    p = Path(path).expanduser()
    return cwd / p if cwd is not None and not p.is_absolute() else p


def _must_exist(path: Path, how: str) -> Path:
    if not path.exists():
        if path.is_symlink():  # exists() is False for a dangling link and for a link loop alike
            try:
                target = f"a link to {path.resolve(strict=True)} that cannot be read"
            except RuntimeError:  # Python 3.11 reports a loop this way; 3.13 as OSError(ELOOP)
                target = "a symbolic link loop"
            except OSError as error:
                loop = error.errno == errno.ELOOP
                target = "a symbolic link loop" if loop else f"a broken symbolic link to {os.readlink(path)}"
            raise ConfigError.single(path, f"config file is {target} (given with {how})")
        raise ConfigError.single(path, f"config file not found (given with {how})")
    if not path.is_file():
        raise ConfigError.single(path, f"not a file (given with {how})")
    return path


def find_config_path(
    cli_path: str | None, env: Mapping[str, str] = os.environ, cwd: Path | None = None
) -> Path | None:
    """The config file to load: --config, $KIOSK_CONFIG, ./kiosk.toml, /etc/kiosk/kiosk.toml.

    An explicitly named file (--config or $KIOSK_CONFIG) must exist: silently falling back to the
    defaults would put the wrong persona in front of visitors. None means built-in defaults.
    """
    if cli_path:
        return _must_exist(_anchor(cli_path, cwd), "--config")
    if env.get(CONFIG_ENV):
        return _must_exist(_anchor(env[CONFIG_ENV], cwd), f"${CONFIG_ENV}")
    local = (cwd if cwd is not None else Path.cwd()) / "kiosk.toml"
    if local.is_file():
        return local
    if ETC_CONFIG_PATH.is_file():
        return ETC_CONFIG_PATH
    return None


def load_settings(
    cli_path: str | None = None, env: Mapping[str, str] = os.environ, cwd: Path | None = None
) -> Settings:
    """Find, read and validate the config; built-in defaults when there is no file."""
    path = find_config_path(cli_path, env, cwd)
    if path is None:
        log.info("no config file found; using built-in defaults")
        return Settings()
    try:
        text = path.read_bytes().decode("utf-8-sig")  # -sig: tolerate a BOM from Windows editors
    except UnicodeDecodeError as e:
        raise ConfigError.single(path, f"not UTF-8 text (bad byte at offset {e.start})") from None
    except OSError as e:
        raise ConfigError.single(path, f"cannot read the file: {e.strerror or e}") from None
    settings = parse_settings(text, path)
    log.info("config loaded from %s (persona %s)", path, settings.persona.name)
    return settings


def parse_settings(text: str, source: Path | None = None) -> Settings:
    """Parse and validate config text. Raises ConfigError listing every problem."""
    try:
        data = loads_toml(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(source, [syntax_problem(e, text)]) from None
    return _build(data, source, KeyLocator(text))


def _build(
    data: Mapping[str, Any], source: Path | None, locator: KeyLocator | None, label: str | None = None
) -> Settings:
    problems: list[Problem] = []
    sections: dict[str, Any] = {}

    def line(section: str, key: str | None = None) -> int | None:
        return locator.line(section, key) if locator else None

    for name, table in data.items():
        cls = SECTIONS.get(name)
        if cls is None:
            problems.append(
                Problem(name, unknown_section_message(name, list(SECTIONS)), line(name), show_key=False)
            )
        elif not isinstance(table, dict):
            problems.append(Problem(name, f"expected a table (a [{name}] section), {got(table)}", line(name)))
        else:
            values, found = check_table(name, cls, table, locator, _KEY_HOME)
            problems += found
            sections[name] = cls(**values)

    answer = sections.get("answer", AnswerSettings())
    if answer.first_chunk_max_words < answer.first_chunk_min_words:
        table = data.get("answer", {})
        key = "first_chunk_max_words" if "first_chunk_max_words" in table else "first_chunk_min_words"
        problems.append(
            Problem(
                f"answer.{key}",
                f"first_chunk_max_words ({answer.first_chunk_max_words}) must be at least "
                f"first_chunk_min_words ({answer.first_chunk_min_words})",
                line("answer", key),
            )
        )

    if problems:
        raise ConfigError(source, problems, label)
    return Settings(**sections, source=source)


def with_overrides(settings: Settings, **section_updates: Any) -> Settings:
    """A copy of `settings` with some values changed, validated like a config file.

    Each keyword names a section and gives either a mapping of field updates or a whole section:
    `with_overrides(s, answer={"max_tokens": 64}, speech=SpeechSettings(rate=1.2))`.
    """
    data: dict[str, Any] = {name: dataclasses.asdict(getattr(settings, name)) for name in SECTIONS}
    for name, update in section_updates.items():
        cls = SECTIONS.get(name)
        if cls is not None and isinstance(update, cls):
            data[name] = dataclasses.asdict(update)  # type: ignore[call-overload]  # a settings dataclass
        elif isinstance(update, Mapping):
            current = data.get(name, {})
            data[name] = {**current, **update}
        else:
            raise TypeError(
                f"with_overrides({name}=...): expected a mapping or {name} settings, got {update!r}"
            )
    new = _build(data, None, None, label="<overrides>")
    return dataclasses.replace(new, source=settings.source)
