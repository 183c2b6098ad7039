"""What the voice is given to say: prices, units, "per" slashes and letter codes as they are read aloud."""

from __future__ import annotations

import pytest

from kiosk.speech.spoken_text import for_speech


@pytest.mark.parametrize(("written", "said"), [
    # heard back through Whisper as "price pound. XBDATLISPRIES, POM 148500" before
    ("Robot Model: AMR-2; Price (£, ex VAT) List price: £148,500",
     "Robot Model: A M R 2; Price (pounds, excluding VAT) List price: 148,500 pounds"),
    ("Model: AMR-2; Water use (litres/day): 1350", "Model: A M R 2; Water use (litres per day): 1350"),
    ("Specification: Weight; AMR-2 Twin: 3,150 kg", "Specification: Weight; A M R 2 Twin: 3,150 kilograms"),
    ("Dimensions (L × W × H): 3.10 × 2.35 × 2.55 m", "Dimensions (L × W × H): 3.10 by 2.35 by 2.55 metres"),
    ("A hot lunch plate costs $6.50.", "A hot lunch plate costs 6.50 dollars."),  # "$6.50" was "$1.6.50"
    ("Price per box/yr: £2,950", "Price per box per year: 2,950 pounds"),
    ("a 2.0 m³ bin and a 24 V battery", "a 2.0 cubic metres bin and a 24 volts battery"),
    ("It costs €1.2m over 5 years", "It costs 1.2 million euros over 5 years"),
    ("Keep it at 4 °C or colder.", "Keep it at 4 degrees or colder."),
])
def test_written_forms_are_said_as_read(written: str, said: str) -> None:
    assert for_speech(written) == said


@pytest.mark.parametrize("text", [
    "Go to Room 2.114 at 9:30 a.m.", "Welcome to Halvorsen Robotics.", "Lot A is behind building B.",
    "Call extension 4357 or 555-0142.", "The Wi-Fi is HALVORSEN-GUEST.", "It takes 3 to 5 days.",
])
def test_plain_sentences_are_left_as_they_are(text: str) -> None:
    assert for_speech(text) == text
