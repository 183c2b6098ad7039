from __future__ import annotations

import random
import re
import time

import pytest

from kiosk.answer.sentences import ChunkerSettings, SentenceChunker, split_sentences

# Keep the first-chunk rule out of the way when a test is about something else.
NO_FIRST = ChunkerSettings(first_chunk_min_words=1000, first_chunk_max_words=1000)


def chunks(text: str, settings: ChunkerSettings = NO_FIRST) -> list[str]:
    return split_sentences(text, settings)


def feed_pieces(pieces: list[str], settings: ChunkerSettings = NO_FIRST) -> list[str]:
    chunker = SentenceChunker(settings)
    out: list[str] = []
    for piece in pieces:
        out += chunker.feed(piece)
    return out + chunker.flush()


def random_pieces(text: str, rng: random.Random) -> list[str]:
    pieces, i = [], 0
    while i < len(text):
        step = rng.randint(1, 7)
        pieces.append(text[i : i + step])
        i += step
    return pieces


def token_pieces(text: str) -> list[str]:
    """LLM-like tokens: ' 8', ':', '45', '.', ' Next'."""
    return re.findall(r"\s*[^\W_]+|\s*[^\w\s]|\s+", text)


# -- edge cases: (text, expected chunks with NO_FIRST) --------------------------------

EDGE_CASES: dict[str, tuple[str, list[str]]] = {
    "plain": ("Hello there. How are you? Fine!", ["Hello there.", "How are you?", "Fine!"]),
    "title_abbrev": ("Ask Dr. Smith. Mrs. Lee is out.", ["Ask Dr. Smith.", "Mrs. Lee is out."]),
    "latin_abbrev": (
        "Bring ID, e.g. a passport, i.e. photo ID. Thanks.",
        ["Bring ID, e.g. a passport, i.e. photo ID.", "Thanks."],
    ),
    "abbrev_before_digit": (
        "It takes approx. 10 minutes. See No. 5 and Fig. 2. Done.",
        ["It takes approx. 10 minutes.", "See No. 5 and Fig. 2.", "Done."],
    ),
    "no_as_word": ("The answer is no. Please ask again.", ["The answer is no.", "Please ask again."]),
    "etc_ends": ("We have pens, paper, etc. Then we close.", ["We have pens, paper, etc.", "Then we close."]),
    "etc_midsentence": ("Pens, paper, etc. are free. Ok.", ["Pens, paper, etc. are free.", "Ok."]),
    "pm_ends": ("We close at 5 p.m. Please come early.", ["We close at 5 p.m.", "Please come early."]),
    "am_midsentence": ("Open at 9 a.m. on weekdays. Ok.", ["Open at 9 a.m. on weekdays.", "Ok."]),
    "company": ("Talk to Northwind Inc. They know.", ["Talk to Northwind Inc.", "They know."]),
    "us_and_street": (
        "The U.S. Army is on Main St. Louis is near.",
        ["The U.S. Army is on Main St. Louis is near."],
    ),
    "weekdays": ("Open Mon.–Fri. 9 to 5. Closed Sun. Ok.", ["Open Mon.–Fri. 9 to 5.", "Closed Sun. Ok."]),
    "initials": ("J. Smith and J.R.R. Tolkien wrote. Ok.", ["J. Smith and J.R.R. Tolkien wrote.", "Ok."]),
    "pronoun_i": ("Neither do I. Let us go.", ["Neither do I.", "Let us go."]),
    "decimals": ("It costs 3.50 or $3.50 total. Pay now.", ["It costs 3.50 or $3.50 total.", "Pay now."]),
    "decimal_at_end": ("The fee is 3.50. Pay now.", ["The fee is 3.50.", "Pay now."]),
    "versions": ("Install v2.1.3 today. Then reboot.", ["Install v2.1.3 today.", "Then reboot."]),
    "times": ("Come at 8:45. Or at 8.45am sharp. Ok.", ["Come at 8:45.", "Or at 8.45am sharp.", "Ok."]),
    "number_end": ("The total is 12. Please pay.", ["The total is 12.", "Please pay."]),
    "ellipsis_lower": (
        "Well... maybe later. Hmm… let me see. Ok.",
        ["Well... maybe later.", "Hmm… let me see.", "Ok."],
    ),
    "ellipsis_upper": ("Wait... What? Really?! Yes.", ["Wait...", "What?", "Really?!", "Yes."]),
    "urls": (
        "Visit www.example.com or mail hr@northwind.example. Run setup.exe now.",
        ["Visit www.example.com or mail hr@northwind.example.", "Run setup.exe now."],
    ),
    "quotes": (
        'He said "Stop." Then he left. "Really?" she asked. (See the map.) Next.',
        ['He said "Stop."', "Then he left.", '"Really?" she asked.', "(See the map.)", "Next."],
    ),
    "smart_quotes": ("She said “Hi.” “Bye!” Done.", ["She said “Hi.”", "“Bye!”", "Done."]),
    "numbered_list": (
        "Steps:\n1. Bring your badge\n2. Visit IT",
        ["Steps:", "1. Bring your badge", "2. Visit IT"],
    ),
    "numbered_list_sentences": (
        "1. Bring your badge. It opens doors.\n2. Visit IT.",
        ["1. Bring your badge.", "It opens doors.", "2. Visit IT."],
    ),
    "inline_enumeration": (
        "Step 1. Wear gloves. Step 2. Wash hands.",
        ["Step 1. Wear gloves.", "Step 2. Wash hands."],
    ),
    "bullets": (
        "You need:\n- a badge\n* a laptop\n• a smile\n> a note\n\nThat is all.",
        ["You need:", "a badge", "a laptop", "a smile", "a note", "That is all."],
    ),
    "markdown": (
        "# Welcome\n**Bold** and *soft* words with `setup.exe`. Then 5*3 is 15.",
        ["Welcome", "Bold and soft words with setup.exe.", "Then 5*3 is 15."],
    ),
    "newline_ends_chunk": ("First line\nSecond line", ["First line", "Second line"]),
    "short_merged": ("A. B. Hello world.", ["A. B. Hello world."]),
    "punctuation_only_dropped": ("Hello world.\n---\n", ["Hello world."]),
}


@pytest.mark.parametrize("name", list(EDGE_CASES))
def test_edge_case_whole_text(name: str) -> None:
    text, expected = EDGE_CASES[name]
    assert chunks(text) == expected


@pytest.mark.parametrize("name", list(EDGE_CASES))
@pytest.mark.parametrize("settings", [NO_FIRST, ChunkerSettings(), ChunkerSettings(max_chars=30)])
def test_fragmentation_independence(name: str, settings: ChunkerSettings) -> None:
    text = EDGE_CASES[name][0]
    whole = feed_pieces([text], settings)
    assert feed_pieces(list(text), settings) == whole
    assert feed_pieces(token_pieces(text), settings) == whole
    for seed in range(5):
        assert feed_pieces(random_pieces(text, random.Random(seed)), settings) == whole


def test_token_pieces_helper_is_lossless() -> None:
    text = "At 8:45. Next"
    assert "".join(token_pieces(text)) == text
    assert token_pieces(text) == ["At", " 8", ":", "45", ".", " Next"]


# -- streaming behaviour ----------------------------------------------------------------


def test_terminator_at_end_of_buffer_waits_for_next_char() -> None:
    chunker = SentenceChunker(NO_FIRST)
    assert chunker.feed("It costs 3.") == []  # could become 3.50
    assert chunker.feed("50. Next") == ["It costs 3.50."]
    assert chunker.flush() == ["Next"]


def test_exclamation_emitted_as_soon_as_space_arrives() -> None:
    chunker = SentenceChunker(NO_FIRST)
    assert chunker.feed("Welcome to Northwind!") == []
    assert chunker.feed(" ") == ["Welcome to Northwind!"]


def test_period_waits_for_next_word_to_check_case() -> None:
    chunker = SentenceChunker(NO_FIRST)
    assert chunker.feed("Ask Dr. ") == []
    assert chunker.feed("Smith today. ") == []
    assert chunker.feed("Bye") == ["Ask Dr. Smith today."]


def test_flush_resolves_pending_terminator() -> None:
    chunker = SentenceChunker(NO_FIRST)
    assert chunker.feed("Goodbye.") == []
    assert chunker.flush() == ["Goodbye."]


def test_flush_on_empty_and_whitespace() -> None:
    chunker = SentenceChunker()
    assert chunker.flush() == []
    chunker.feed("  \n\n ")
    assert chunker.flush() == []


def test_flush_emits_short_remainder_but_drops_pure_punctuation() -> None:
    assert chunks("Hello world. A") == ["Hello world.", "A"]
    assert chunks("Hello world. ?!") == ["Hello world."]


def test_flush_resets_for_next_stream() -> None:
    chunker = SentenceChunker()
    chunker.feed("One two three, four five.")
    chunker.flush()
    assert chunker.feed("Alpha beta gamma, delta. ") == ["Alpha beta gamma,"]


def test_reset_discards_buffer_and_restores_first_chunk_mode() -> None:
    chunker = SentenceChunker()
    assert chunker.feed("One two three, four. Five six seven, eight") == ["One two three,", "four."]
    chunker.reset()
    assert chunker.feed("Alpha beta gamma, delta") == ["Alpha beta gamma,"]
    assert chunker.flush() == ["delta"]


def test_custom_abbreviations_replace_builtin_list() -> None:
    chunker = SentenceChunker(NO_FIRST, abbreviations=frozenset({"Bldg."}))
    out = chunker.feed("Go to Bldg. North now. Ask Dr. Who. ") + chunker.flush()
    assert out == ["Go to Bldg. North now.", "Ask Dr.", "Who."]


# -- first chunk ------------------------------------------------------------------------


def test_first_chunk_cut_at_clause_boundary_after_min_words() -> None:
    assert chunks("Sure thing, my friend, the office opens at nine.", ChunkerSettings()) == [
        "Sure thing, my friend,",
        "the office opens at nine.",
    ]


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("Let me check; the office opens at nine.", "Let me check;"),
        ("Here is the plan: go to the lobby.", "Here is the plan:"),
        ("The office is closed – come back tomorrow.", "The office is closed –"),
        ("The office is closed - come back tomorrow.", "The office is closed -"),
    ],
)
def test_first_chunk_clause_kinds(text: str, first: str) -> None:
    assert chunks(text, ChunkerSettings())[0] == first


def test_first_chunk_not_cut_before_min_words_or_inside_numbers() -> None:
    text = "Hello, yes, we open at 8:45 and it costs 1,500 dollars."
    assert chunks(text, ChunkerSettings()) == [text]


def test_first_chunk_cut_at_word_boundary_after_max_words() -> None:
    text = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen."
    assert chunks(text, ChunkerSettings(first_chunk_max_words=5)) == [
        "one two three four five",
        "six seven eight nine ten eleven twelve thirteen fourteen.",
    ]


def test_first_chunk_rule_only_applies_to_first_chunk() -> None:
    text = "Hi. Sure thing, my friend, the office opens at nine. Yes, of course, gladly."
    assert chunks(text, ChunkerSettings()) == [
        "Hi.",
        "Sure thing, my friend, the office opens at nine.",
        "Yes, of course, gladly.",
    ]


# -- long sentences ---------------------------------------------------------------------

LONG = (
    "The cafeteria on the ground floor serves breakfast from seven until ten, "
    "lunch from half past eleven until two and snacks in the afternoon, "
    "and the coffee bar next to the main entrance stays open until six in the evening "
    "so that visitors who arrive late can still get something warm to drink."
)


def test_long_sentence_split_at_clause_boundaries() -> None:
    out = chunks(LONG, ChunkerSettings(max_chars=100))
    assert out == [
        "The cafeteria on the ground floor serves breakfast from seven until ten,",
        "lunch from half past eleven until two and snacks in the afternoon,",
        "and the coffee bar next to the main entrance stays open until six in the evening",
        "so that visitors who arrive late can still get something warm to drink.",
    ]


def test_long_sentence_split_before_conjunction_without_punctuation() -> None:
    text = "we walk to the lobby and then we take the lift up to the third floor because it is faster"
    out = chunks(text, ChunkerSettings(max_chars=80, first_chunk_max_words=1000))
    assert out == [
        "we walk to the lobby and then we take the lift up to the third floor",
        "because it is faster",
    ]


def test_long_sentence_split_at_last_space_never_mid_word() -> None:
    text = "word " * 30 + "end ."
    out = chunks(text, ChunkerSettings(max_chars=40, first_chunk_max_words=1000))
    assert all(len(c) <= 40 for c in out[:-1])
    assert " ".join(out).split() == text.split()
    assert all(re.search(r"\w", c) for c in out)  # never a punctuation-only chunk


def test_overlong_word_is_not_cut() -> None:
    url = "https://example.com/" + "a" * 80
    out = chunks(f"Open {url} now please.", ChunkerSettings(max_chars=30))
    assert any(url in c for c in out)


@pytest.mark.parametrize("max_chars", [20, 50, 200])
def test_chunks_respect_max_chars_roughly(max_chars: int) -> None:
    out = chunks(LONG + " " + LONG, ChunkerSettings(max_chars=max_chars))
    assert all(len(c) <= max_chars + 1 for c in out)


# -- properties -------------------------------------------------------------------------

PROPERTY_TEXTS = [text for text, _ in EDGE_CASES.values()] + [
    LONG,
    "Sure! Room 3.50 is on floor 2. Bring: badge, laptop, e.g. a ThinkPad... and snacks.\n\n"
    "1. Go to reception\n2. Ask for Mr. Lee at 8:45 a.m. He waits.\n",
]
INLINE_MARKDOWN = re.compile(r"\*\*|`|(?<=\s)\*(?=\w)|(?<=\w)\*(?=\s)")
LINE_MARKDOWN = re.compile(r"^\s*(?:[-*•>]|#+)\s", re.M)


def strip_markdown(text: str) -> str:
    return INLINE_MARKDOWN.sub("", LINE_MARKDOWN.sub(" ", text))


def words(text: str) -> list[str]:
    return [w for w in text.split() if re.search(r"[^\W_]", w)]


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize(
    "settings", [ChunkerSettings(), ChunkerSettings(max_chars=25, first_chunk_min_words=1)]
)
def test_property_words_preserved_in_order(seed: int, settings: ChunkerSettings) -> None:
    rng = random.Random(seed)
    for text in PROPERTY_TEXTS:
        out = feed_pieces(random_pieces(text, rng), settings)
        assert out == split_sentences(text, settings)
        assert all(c and c == " ".join(c.split()) for c in out)
        assert words(" ".join(out)) == words(strip_markdown(text))


def test_long_answer_char_by_char_is_fast() -> None:
    text = " ".join(PROPERTY_TEXTS) * 5  # ~6000 chars, 3x a long answer
    chunker = SentenceChunker()
    start = time.perf_counter()
    out = [c for ch in text for c in chunker.feed(ch)] + chunker.flush()
    assert time.perf_counter() - start < 2.0  # quadratic rescanning would be far slower
    assert out == split_sentences(text)
