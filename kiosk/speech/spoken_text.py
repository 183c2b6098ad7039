"""What the voice is given to say: an answer's written forms as an English speaker reads them aloud.

Quotes from price lists and spec sheets are written for the eye ("£148,500", "Water use (litres/day): 1350",
"AMR-2", "3.10 × 2.35 × 2.55 m"). Piper's phonemizer (espeak-ng) reads them symbol by symbol: heard back through
Whisper, "Price (£, ex VAT) List price: £148,500" came out as "price pound. XBDATLISPRIES, POM 148500" and "AMR-2"
as "Amortoo". The caption keeps the written form; only the speech changes, and only for English voices.
"""

from __future__ import annotations

import re

_CURRENCY = {"£": "pounds", "$": "dollars", "€": "euros"}
_MONEY = re.compile(r"([£$€])\s?(\d[\d,]*(?:\.\d+)?)(\s?(?:million|m|k)\b)?")
_BARE_CURRENCY = re.compile(r"\(([£$€])(?=[,)])")  # a column's unit: "Price (£, ex VAT)"
_PER = re.compile(r"(?<=[A-Za-z)])/(day|week|month|year|yr|hour|hr|night|box|cow|head|person|machine)\b", re.I)
_PER_WORDS = {"yr": "year", "hr": "hour"}
# A unit after a number: "1,480 kg", "2.1 kW", "400 V", "2.55 m", "2.0 m³"
_UNITS = (("m³", "cubic metres"), ("m²", "square metres"), ("km/h", "kilometres an hour"), ("mph", "miles an hour"),
          ("kg", "kilograms"), ("kW", "kilowatts"), ("kWh", "kilowatt hours"), ("km", "kilometres"),
          ("cm", "centimetres"), ("mm", "millimetres"), ("m", "metres"), ("V", "volts"), ("°C", "degrees"),
          ("°F", "degrees Fahrenheit"), ("l", "litres"), ("ml", "millilitres"), ("h", "hours"))
_UNIT = re.compile(r"(?<=\d) ?(" + "|".join(re.escape(u) for u, _ in sorted(_UNITS, key=lambda u: -len(u[0])))
                   + r")(?![\w²³/])")
_UNIT_WORDS = dict(_UNITS)
_TIMES = re.compile(r"(?<=\d) ?[×x] ?(?=\d)")
_CODE = re.compile(r"\b([A-Z]{2,4})-(\d{1,4})\b")  # "AMR-2", "HS-3": letters said one by one
_ABBREVIATIONS = ((re.compile(r"\bex VAT\b"), "excluding VAT"), (re.compile(r"\bincl\. "), "including "),
                  (re.compile(r"\be\.g\. "), "for example "), (re.compile(r"\bi\.e\. "), "that is "))


def for_speech(text: str) -> str:
    """`text` with prices, units, "per" slashes, "×" and letter codes written as they are said."""
    for pattern, said in _ABBREVIATIONS:
        text = pattern.sub(said, text)
    text = _MONEY.sub(_money, text)
    text = _BARE_CURRENCY.sub(lambda m: f"({_CURRENCY[m.group(1)]}", text)
    text = _PER.sub(lambda m: f" per {_PER_WORDS.get(m.group(1).lower(), m.group(1))}", text)
    text = _TIMES.sub(" by ", text)
    text = _UNIT.sub(lambda m: f" {_UNIT_WORDS[m.group(1)]}", text)
    return _CODE.sub(lambda m: f"{' '.join(m.group(1))} {m.group(2)}", text)


def _money(m: re.Match[str]) -> str:
    scale = {"m": " million", "k": " thousand"}.get((m.group(3) or "").strip().lower(), m.group(3) or "")
    return f"{m.group(2)}{scale} {_CURRENCY[m.group(1)]}"
