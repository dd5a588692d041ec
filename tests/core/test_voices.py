"""The one list of voices and engines: every name a user can pick works and has a label."""

from __future__ import annotations

import pytest

from broadcaster.core.voices import (
    DEFAULT_ENGINE,
    DEFAULT_VOICE,
    ENGINE_LABELS,
    ENGINE_NAMES,
    VOICE_LABELS,
    VOICES,
)
from broadcaster.speech.engines import EngineSettings, EspeakEngine, build_engine


def test_it_labels_every_voice_and_engine_a_user_can_pick() -> None:
    assert list(VOICE_LABELS) == list(VOICES)
    assert list(ENGINE_LABELS) == list(ENGINE_NAMES)
    assert DEFAULT_VOICE in VOICES
    assert DEFAULT_ENGINE in ENGINE_NAMES


@pytest.mark.parametrize("name", ENGINE_NAMES)
def test_it_builds_every_engine_name(name: str) -> None:
    engine = build_engine(name, EngineSettings(piper_model="/nonexistent/vi.onnx"))
    assert callable(engine.synthesize)


def test_espeak_has_a_voice_for_every_region() -> None:
    assert set(EspeakEngine.VOICE_MAP) == set(VOICES)


def test_an_engine_name_outside_the_list_is_refused() -> None:
    with pytest.raises(ValueError, match="auto, gtts, espeak, piper"):
        build_engine("festival")
