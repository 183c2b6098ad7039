"""kiosk.config: defaults, the search order, the example personas and every kind of error message."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from kiosk import config
from kiosk.config import (
    SECTIONS,
    AnswerSettings,
    ConfigError,
    Settings,
    SpeechSettings,
    find_config_path,
    load_settings,
    parse_settings,
    resolve_models_dir,
    with_overrides,
)
from kiosk.config_check import KeyLocator

try:
    import tomllib
except ModuleNotFoundError:
    import tomli as tomllib

PERSONAS = Path(__file__).resolve().parent.parent / "provisioning" / "personas"


@pytest.fixture(autouse=True)
def no_etc_config(tmp_path, monkeypatch):
    """Never read the real /etc/kiosk/kiosk.toml of the machine running the tests."""
    monkeypatch.setattr(config, "ETC_CONFIG_PATH", tmp_path / "etc" / "kiosk.toml")


def write(dirpath: Path, text: str, name: str = "kiosk.toml") -> Path:
    path = dirpath / name
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> tuple[ConfigError, Path]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(str(path), env={}, cwd=tmp_path)
    return info.value, path


# --- defaults and the search order ----------------------------------------------------------------


def test_defaults_without_any_file(tmp_path):
    s = load_settings(None, env={}, cwd=tmp_path)
    assert s == Settings()
    assert s.source is None
    assert s.persona.name == "Ava"
    assert s.persona.voice == "en_US-joe-medium"
    assert s.persona.llm == "smollm2-135m-instruct"
    assert s.llm.n_ctx == 2048 and s.llm.gpu_layers == 0 and s.llm.flash_attn is False
    assert s.answer.temperature == 0.2 and s.answer.first_chunk_max_words == 12
    assert s.speech.sentence_pause_s == 0.12
    assert s.audio.sample_rate == 16000
    assert s.logging.level == "INFO"


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().persona.name = "Bob"  # type: ignore[misc]


def test_empty_file_gives_defaults_with_source(tmp_path):
    path = write(tmp_path, "# nothing yet\n")
    s = load_settings(str(path), env={})
    assert s.source == path
    assert dataclasses.replace(s, source=None) == Settings()


def test_search_order(tmp_path, monkeypatch):
    etc = write(tmp_path, '[persona]\nname = "Etc"\n', "etc.toml")
    monkeypatch.setattr(config, "ETC_CONFIG_PATH", etc)
    work = tmp_path / "work"
    work.mkdir()
    assert find_config_path(None, env={}, cwd=work) == etc
    assert load_settings(None, env={}, cwd=work).persona.name == "Etc"

    local = write(work, '[persona]\nname = "Local"\n')
    assert find_config_path(None, env={}, cwd=work) == local

    env_file = write(tmp_path, '[persona]\nname = "Env"\n', "env.toml")
    env = {"KIOSK_CONFIG": str(env_file)}
    assert find_config_path(None, env=env, cwd=work) == env_file

    cli = write(tmp_path, '[persona]\nname = "Cli"\n', "cli.toml")
    assert find_config_path(str(cli), env=env, cwd=work) == cli
    s = load_settings(str(cli), env=env, cwd=work)
    assert s.persona.name == "Cli" and s.source == cli


def test_relative_paths_are_relative_to_cwd(tmp_path):
    write(tmp_path, "", "mine.toml")
    assert find_config_path("mine.toml", env={}, cwd=tmp_path) == tmp_path / "mine.toml"
    assert find_config_path(None, env={"KIOSK_CONFIG": "mine.toml"}, cwd=tmp_path) == tmp_path / "mine.toml"


def test_missing_cli_config_is_an_error(tmp_path):
    write(tmp_path, "")  # a ./kiosk.toml must not be used instead
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        find_config_path(str(missing), env={}, cwd=tmp_path)
    assert str(info.value) == f"{missing}: config file not found (given with --config)"
    assert info.value.file == missing and info.value.line is None


def test_missing_env_config_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.toml: config file not found \(given with \$KIOSK_CONFIG\)"):
        load_settings(None, env={"KIOSK_CONFIG": str(tmp_path / "nope.toml")}, cwd=tmp_path)


def test_directory_given_as_config_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="not a file"):
        find_config_path(str(tmp_path), env={})


def test_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_bytes(b'[persona]\nname = "\xff"\n')
    with pytest.raises(ConfigError, match=r"kiosk\.toml: not UTF-8 text"):
        load_settings(str(path), env={})


# --- the example personas -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["onboarding-coach", "factory-explainer", "trade-show"])
def test_example_personas_load_and_are_complete(name):
    path = PERSONAS / f"{name}.toml"
    s = load_settings(str(path), env={})
    assert s.source == path
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    # Complete: every section and every key is spelled out, so the examples document everything.
    assert list(raw) == list(SECTIONS)
    for section, cls in SECTIONS.items():
        assert set(raw[section]) == {f.name for f in dataclasses.fields(cls)}, section
    words = len(s.persona.system_prompt.split())
    assert 250 <= words <= 350, words
    for marker in ("markdown", "never invent", "fallback contact", "instructions"):
        assert marker in s.persona.system_prompt.lower()


def test_example_personas_content():
    ava = load_settings(str(PERSONAS / "onboarding-coach.toml"), env={})
    max_ = load_settings(str(PERSONAS / "factory-explainer.toml"), env={})
    assert (ava.persona.name, ava.persona.company) == ("Ava", "Halvorsen Robotics")
    assert max_.persona.name == "Max" and "calm" in max_.persona.tone and "precise" in max_.persona.tone
    for term in ("lockout", "takt time", "protective equipment", "safety"):
        assert term in max_.persona.system_prompt.lower()
    rosa = load_settings(str(PERSONAS / "trade-show.toml"), env={})
    assert (rosa.persona.name, rosa.persona.company, rosa.listen.wake_phrase) == ("Rosa", "Ardlow Dairy Systems",
                                                                                 "hey rosa")
    for term in ("price", "never promise", "vat", "neighbouring exhibitors"):
        assert term in rosa.persona.system_prompt.lower()


# --- values ---------------------------------------------------------------------------------------


def test_values_are_read_and_kept_as_written():
    s = parse_settings('[persona]\ntone = "  dry  "\n[logging]\nlevel = "debug"\n', None)
    assert s.persona.tone == "  dry  "
    assert s.logging.level == "DEBUG"  # case-insensitive, stored the way logging wants it


def test_ints_accepted_for_floats():
    s = parse_settings(
        "[answer]\ntemperature = 1\ntop_p = 1\n[speech]\nrate = 2\nsentence_pause_s = 0\n", None
    )
    assert s.answer.temperature == 1.0 and isinstance(s.answer.temperature, float)
    assert isinstance(s.speech.rate, float) and isinstance(s.speech.sentence_pause_s, float)


def test_dotted_keys_and_inline_tables():
    s = parse_settings("answer.max_tokens = 64\nspeech = { rate = 1.5 }\n", None)
    assert s.answer.max_tokens == 64 and s.speech.rate == 1.5


def test_multiline_system_prompt_is_kept():
    text = '[persona]\nsystem_prompt = """\nLine one.\ntone = not a key\n"""\ntone = "dry"\n'
    s = parse_settings(text, None)
    assert s.persona.system_prompt == "Line one.\ntone = not a key\n"
    assert s.persona.tone == "dry"


def test_models_dir_resolution(tmp_path, monkeypatch):
    assert resolve_models_dir("/opt/m", {"KIOSK_MODELS_DIR": "/x"}) == Path("/opt/m")
    assert resolve_models_dir("", {"KIOSK_MODELS_DIR": "/x", "XDG_DATA_HOME": "/d"}) == Path("/x")
    assert resolve_models_dir("", {"XDG_DATA_HOME": "/d"}) == Path("/d/kiosk/models")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_models_dir("", {"XDG_DATA_HOME": "relative"}) == tmp_path / ".local/share/kiosk/models"
    monkeypatch.setenv("KIOSK_MODELS_DIR", "/from/env")
    assert Settings().models.resolved_dir == Path("/from/env")
    assert Settings().models.resolved_manifest == config.REPO_ROOT / "models" / "manifest.toml"


# --- error messages: file name, line number, key, message -----------------------------------------


def test_wrong_type(tmp_path):
    err, path = error_for(tmp_path, '# Ava\n\n[persona]\nname = "Ava"\ntone = 5\n')
    assert str(err) == f"{path}:5: persona.tone: expected text (a string), got 5 (an integer)"
    assert (err.file, err.line, err.key) == (path, 5, "persona.tone")
    assert err.message == "expected text (a string), got 5 (an integer)"


def test_out_of_range(tmp_path):
    err, path = error_for(tmp_path, "[llm]\nn_ctx = 4096\n\n[answer]\nmax_tokens = 100\ntemperature = 3.5\n")
    assert str(err) == f"{path}:6: answer.temperature: 3.5 is out of range; allowed 0.0 to 2.0"


def test_out_of_range_messages_for_ints_and_open_ranges():
    with pytest.raises(ConfigError) as info:
        parse_settings("[llm]\nn_ctx = 100\n[answer]\ntop_p = 0\n", Path("kiosk.toml"))
    assert str(info.value).splitlines() == [
        "kiosk.toml:2: llm.n_ctx: 100 is out of range; allowed 512 to 32768",
        "kiosk.toml:4: answer.top_p: 0.0 is out of range; allowed above 0.0 up to 1.0",
    ]


def test_not_one_of_the_choices():
    with pytest.raises(ConfigError) as info:
        parse_settings('[audio]\nsample_rate = 44000\n[logging]\nlevel = "TRACE"\n', Path("kiosk.toml"))
    assert str(info.value).splitlines() == [
        "kiosk.toml:2: audio.sample_rate: 44000 is not one of 16000, 22050, 44100, 48000",
        'kiosk.toml:4: logging.level: "TRACE" is not one of DEBUG, INFO, WARNING, ERROR',
    ]


def test_bad_language_code():
    with pytest.raises(
        ConfigError, match=r'kiosk.toml:2: persona.language: "English" is not a language code'
    ):
        parse_settings('[persona]\nlanguage = "English"\n', Path("kiosk.toml"))


def test_unknown_key_with_suggestion(tmp_path):
    err, path = error_for(tmp_path, "[answer]\nmax_tokens = 100\n\ntemprature = 0.3\n")
    allowed = ", ".join(f.name for f in dataclasses.fields(AnswerSettings))
    assert str(err) == (
        f'{path}:4: unknown key "temprature" in [answer]; did you mean "temperature"? Allowed keys: {allowed}'
    )
    assert err.key == "answer.temprature" and err.line == 4


def test_unknown_key_without_suggestion():
    with pytest.raises(ConfigError) as info:
        parse_settings("[llm]\nzzz = 1\n", Path("kiosk.toml"))
    assert str(info.value).startswith(
        'kiosk.toml:2: unknown key "zzz" in [llm]; allowed keys: n_ctx, n_threads'
    )


def test_key_in_the_wrong_section():
    with pytest.raises(ConfigError) as info:
        parse_settings("[llm]\ntemperature = 0.3\n", Path("kiosk.toml"))
    assert str(info.value).startswith(
        'kiosk.toml:2: unknown key "temperature" in [llm]; it belongs in [answer]. Allowed keys here: n_ctx'
    )


def test_unknown_section(tmp_path):
    err, path = error_for(tmp_path, '[persona]\nname = "Ava"\n\n[foo]\nbar = 1\n')
    allowed = ", ".join(SECTIONS)
    assert str(err) == f"{path}:4: unknown section [foo]; allowed sections: {allowed}"
    assert err.key == "foo" and err.line == 4


def test_unknown_section_with_suggestion_and_dotted_header(tmp_path):
    err, path = error_for(tmp_path, "\n[speach.extra]\nx = 1\n")
    assert str(err).startswith(
        f"{path}:2: unknown section [speach]; did you mean [speech]? Allowed sections: "
    )


def test_syntax_error_with_line(tmp_path):
    err, path = error_for(tmp_path, '[persona]\nname = "Ava"\ntone = \n')
    assert str(err) == f"{path}:3: TOML syntax error: Invalid value (column 8)"
    assert err.line == 3 and err.key == ""


def test_syntax_error_at_end_of_file(tmp_path):
    err, path = error_for(tmp_path, '[persona]\nname = "Ava"\ngreeting = "Hi\n')
    assert err.line == 3
    assert str(err).startswith(f"{path}:3: TOML syntax error: ")


def test_empty_required_string(tmp_path):
    err, path = error_for(tmp_path, '[persona]\nname = "Ava"\nvoice = "   "\nllm = ""\n')
    assert str(err).splitlines() == [
        f"{path}:3: persona.voice: must not be empty",
        f"{path}:4: persona.llm: must not be empty",
    ]


def test_cross_field_chunk_words(tmp_path):
    err, path = error_for(tmp_path, "[answer]\nfirst_chunk_min_words = 8\nfirst_chunk_max_words = 5\n")
    assert str(err) == (
        f"{path}:3: answer.first_chunk_max_words: first_chunk_max_words (5) must be at least "
        "first_chunk_min_words (8)"
    )


def test_cross_field_against_the_default_points_at_the_key_written():
    with pytest.raises(ConfigError) as info:
        parse_settings("[answer]\nfirst_chunk_min_words = 15\n", Path("kiosk.toml"))
    assert (info.value.key, info.value.line) == ("answer.first_chunk_min_words", 2)


def test_section_not_a_table(tmp_path):
    err, path = error_for(tmp_path, "# top\npersona = 5\n")
    assert str(err) == f"{path}:2: persona: expected a table (a [persona] section), got 5 (an integer)"


def test_all_problems_reported_at_once(tmp_path):
    text = (
        "[persona]\n"  # 1
        "name = 5\n"  # 2
        "\n"  # 3
        "[answer]\n"  # 4
        "temperature = 9\n"  # 5
        "max_tokns = 10\n"  # 6
        "\n"  # 7
        "[bogus]\n"  # 8
        "[llm]\n"  # 9
        "flash_attn = 1\n"  # 10
    )
    err, path = error_for(tmp_path, text)
    lines = str(err).splitlines()
    assert len(lines) == len(err.problems) == 5
    assert lines[0] == f"{path}:2: persona.name: expected text (a string), got 5 (an integer)"
    assert lines[1] == f"{path}:5: answer.temperature: 9.0 is out of range; allowed 0.0 to 2.0"
    assert lines[2].startswith(f'{path}:6: unknown key "max_tokns" in [answer]; did you mean "max_tokens"?')
    assert lines[3].startswith(f"{path}:8: unknown section [bogus]")
    assert lines[4] == f"{path}:10: llm.flash_attn: expected true or false (a boolean), got 1 (an integer)"
    # The attributes describe the first problem.
    assert (err.file, err.line, err.key) == (path, 2, "persona.name")


def test_bool_rejected_for_int_and_float():
    with pytest.raises(ConfigError) as info:
        parse_settings("[llm]\nn_threads = true\n[speech]\nrate = false\n", Path("kiosk.toml"))
    assert str(info.value).splitlines() == [
        "kiosk.toml:2: llm.n_threads: expected a whole number (an integer), got true (a boolean)",
        "kiosk.toml:4: speech.rate: expected a number, got false (a boolean)",
    ]


def test_float_rejected_for_int():
    with pytest.raises(
        ConfigError, match=r"llm.n_ctx: expected a whole number \(an integer\), got 2048.0 \(a float\)"
    ):
        parse_settings("[llm]\nn_ctx = 2048.0\n", Path("kiosk.toml"))


def test_error_without_a_source_or_a_locatable_line():
    with pytest.raises(ConfigError) as info:
        parse_settings("persona = { name = 5 }\n", None)
    # Inline table: the key has no line of its own, so the section's line is used.
    assert str(info.value) == "<config>:1: persona.name: expected text (a string), got 5 (an integer)"
    assert info.value.file is None


def test_locator_finds_keys_in_every_form():
    text = (
        "persona.name = 'x'\n"  # 1
        "[answer]\n"  # 2
        'system = """\n'  # 3
        "[llm]\n"  # 4  (inside a string: not a header)
        'temperature = 1 """\n'  # 5  (still inside)
        "  top_p = 0.5  # comment\n"  # 6
        '"max_tokens" = 3\n'  # 7
        "[ speech . extra ]\n"  # 8
        "[[logging]]\n"  # 9
    )
    loc = KeyLocator(text)
    assert loc.line("persona", "name") == 1
    assert loc.line("persona", "tone") == 1  # falls back to the section's first line
    assert loc.line("answer", "top_p") == 6
    assert loc.line("answer", "temperature") == 2  # the one at line 5 is string content
    assert loc.line("answer", "max_tokens") == 7
    assert loc.line("llm") is None
    assert loc.line("speech", "extra") == 8
    assert loc.line("logging") == 9
    assert loc.line("audio", "sample_rate") is None


# --- with_overrides -------------------------------------------------------------------------------


def test_with_overrides():
    base = parse_settings('[persona]\nname = "Max"\n', Path("x.toml"))
    s = with_overrides(base, answer={"max_tokens": 64, "temperature": 0}, speech=SpeechSettings(rate=1.3))
    assert s.answer.max_tokens == 64 and s.answer.temperature == 0.0
    assert s.answer.top_p == base.answer.top_p
    assert s.speech.rate == 1.3
    assert s.persona.name == "Max" and s.source == Path("x.toml")
    assert base.answer.max_tokens == 120  # the original is untouched


def test_with_overrides_validates():
    with pytest.raises(ConfigError) as info:
        with_overrides(Settings(), answer={"temperature": 5.0, "max_tokns": 3}, nope={})
    lines = str(info.value).splitlines()
    assert "<overrides>: answer.temperature: 5.0 is out of range; allowed 0.0 to 2.0" in lines
    assert any(line.startswith('<overrides>: unknown key "max_tokns" in [answer]') for line in lines)
    assert any(line.startswith("<overrides>: unknown section [nope]") for line in lines)
    with pytest.raises(TypeError):
        with_overrides(Settings(), answer=5)
