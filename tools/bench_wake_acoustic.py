#!/usr/bin/env python3
"""Can Whisper verify a wake phrase acoustically, beyond the transcript's spelling? (issue 11)

    .venv/bin/python tools/bench_wake_acoustic.py --json docs/bench/2026-12-05-wake-acoustic.json   # ~6 min

Ten espeak-ng voices (accents, female/male variants, speeds 140-190, pitches 30-70) say 3 wake lines and
12 hard near misses ("Hey Cole, how are you?", "They coached the team.", "Hey, coast is clear.", ...). Each
utterance is transcribed once (Whisper base, as the kiosk does), then scored three ways against "hey coach":
- text: the kiosk's per-word phonetic match on the transcript (kiosk.listen.wake.match_phrase);
- forced: the mean log-probability of the phrase's tokens forced as the transcript's start (CTranslate2
  `align` on the same encoder output: the phrase decoded against the audio);
- ratio: forced minus the same for the free transcript's first tokens (how much less likely the phrase
  is than what Whisper heard);
- n-best: the phrase among the 8 best beam hypotheses of the transcript's first tokens;
- sound: the distance to the phrase spoken by espeak-ng template voices, by subsequence DTW over the
  encoder frames (kiosk.listen.wake_templates, what the kiosk uses). Voices that are also template
  voices (at another speed and pitch) are reported apart from held-out ones.
Each acoustic score is combined with the text match (either accepts), at several thresholds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

VOICES = [("en-us", 150, 50), ("en-us+f3", 160, 50), ("en-gb", 170, 40), ("en-us+f2", 140, 70),
          ("en-gb-x-rp", 180, 50), ("en-us+m7", 160, 30), ("en-gb+f4", 150, 60), ("en-us+f4", 190, 55),
          ("en-gb-scotland", 160, 50), ("en-us+m3", 150, 45)]
WAKES = ["Hey coach.", "Hey coach, where is the canteen?", "Hey coach, how do I reset my password?"]
NEAR_MISSES = ["Hey Joe.", "Hey Cole, how are you?", "The coach leaves at nine.", "Hey, could you hold the door?",
               "Okay, so we need to book the room.", "Hey folks, lunch is ready.", "Take off your coat.",
               "Hey, Coke or Pepsi?", "Hey, coast is clear.", "Hey guys, over here.", "They coached the team.",
               "A couch in the lobby."]
PHRASE = "hey coach"


def espeak(text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    from speech_corpus import speech_bounds

    from kiosk.audio.wav import read_pcm16k

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "e.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), "--stdin"],
                       input=text.encode(), check=True)
        x = np.frombuffer(read_pcm16k(wav), np.int16)
    a, b = speech_bounds(x)
    return np.concatenate([np.zeros(4800, np.int16), x[a:b], np.zeros(8000, np.int16)])


class Scorer:
    def __init__(self) -> None:
        from faster_whisper.tokenizer import Tokenizer

        from kiosk.listen.asr_whisper import WhisperEngine
        from kiosk.models.manifest import load_manifest

        self.engine = WhisperEngine(load_manifest().locate("whisper-base-ct2").path, language="en")
        model = self.engine._model
        self._encode, self.encoded = model.encode, None
        model.encode = self._keep
        self.tok = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language="en")
        self.sot = [*self.tok.sot_sequence, self.tok.no_timestamps]

    def _keep(self, features):  # noqa: ANN001, ANN202 - the encoder output, kept for forced scoring
        self.encoded = self._encode(features)
        return self.encoded

    def transcribe(self, pcm: np.ndarray):  # noqa: ANN201
        self.engine.start()
        self.engine.feed(pcm.tobytes())
        return self.engine.finish()

    def logprob(self, text: str, first: int | None = None) -> float:
        ids = self.tok.encode(text)
        result = self.engine._model.model.align(self.encoded, self.sot, [ids], self.engine._content)
        p = np.asarray(result[0].text_token_probs[:len(ids)])[:first]
        return float(np.log(np.maximum(p, 1e-9)).mean())

    def nbest(self, n: int = 8) -> list[tuple[str, float]]:
        result = self.engine._model.model.generate(self.encoded, [self.sot], beam_size=n, num_hypotheses=n,
                                                   max_length=9, return_scores=True)
        best = zip(result[0].sequences_ids, result[0].scores, strict=True)
        return [(self.tok.decode(ids), float(s)) for ids, s in best]


def main() -> None:
    from kiosk.listen.wake import match_phrase

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from kiosk.listen.wake_templates import TEMPLATE_VOICES, PhraseTemplates

    scorer = Scorer()
    sound = PhraseTemplates.build(scorer.engine, PHRASE, threshold=1.0)
    template_voices = {v for v, _, _ in TEMPLATE_VOICES}
    rows = []
    for voice, speed, pitch in VOICES:
        for label, texts in ((1, WAKES), (0, NEAR_MISSES)):
            for text in texts:
                result = scorer.transcribe(espeak(text, voice, speed, pitch))
                heard = result.text
                distance = sound.match(result.encoding).distance
                forced = max(scorer.logprob(v) for v in (" Hey coach", " Hey, coach"))
                k = len(scorer.tok.encode(" Hey coach"))
                free = scorer.logprob(" " + heard.strip(), k) if heard.strip() else -20.0
                hyps = scorer.nbest()
                rows.append({"voice": voice, "wake": label, "text": text, "heard": heard,
                             "text_match": match_phrase(heard.split(), PHRASE) is not None, "forced": forced,
                             "ratio": forced - free,
                             "nbest_match": any(match_phrase(h.split(), PHRASE) for h, _ in hyps),
                             "sound": distance, "template_voice": voice in template_voices})
                print(label, voice, repr(text), "->", repr(heard), file=sys.stderr)
    pos, neg = [r for r in rows if r["wake"]], [r for r in rows if not r["wake"]]

    def rates(accept) -> dict:  # noqa: ANN001
        return {"recall": round(float(np.mean([accept(r) for r in pos])), 3),
                "near_misses_accepted": int(sum(accept(r) for r in neg)), "near_misses": len(neg)}

    report = {"text": rates(lambda r: r["text_match"]),
              "text_or_nbest8": rates(lambda r: r["text_match"] or r["nbest_match"])}
    for key in ("forced", "ratio"):
        for thr in (-3.0, -2.5, -2.0, -1.5, -1.0):
            report[f"text_or_{key}>={thr}"] = rates(lambda r, k=key, t=thr: r["text_match"] or r[k] >= t)
    for thr in (0.12, 0.14, 0.15, 0.16, 0.18):
        for part, held in (("template_voices", False), ("held_out_voices", True)):
            sub = [r for r in rows if r["template_voice"] != held]
            report[f"text_or_sound<={thr}_{part}"] = {
                "recall": round(float(np.mean([r["text_match"] or r["sound"] <= thr for r in sub if r["wake"]])), 3),
                "near_misses_accepted": int(sum(r["text_match"] or r["sound"] <= thr for r in sub if not r["wake"])),
                "near_misses": sum(1 for r in sub if not r["wake"])}
    report["per_voice_text_or_sound<=0.15_recall"] = {
        v: round(float(np.mean([r["text_match"] or r["sound"] <= 0.15 for r in pos if r["voice"] == v])), 3)
        for v, _, _ in VOICES}
    report["per_voice_text_recall"] = {v: round(float(np.mean([r["text_match"] for r in pos if r["voice"] == v])), 3)
                                       for v, _, _ in VOICES}
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps({**report, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
