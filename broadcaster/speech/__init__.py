"""Vietnamese speech: text normalization, the staff lexicon and TTS engines."""

from __future__ import annotations

from broadcaster.core.config import Settings
from broadcaster.speech.engines import Engine, EngineSettings, build_engine


def engine_settings(settings: Settings) -> EngineSettings:
    return EngineSettings(
        gtts_timeout=settings.gtts_timeout,
        gtts_retries=settings.gtts_retries,
        gtts_base_url=settings.gtts_url,
        gtts_ca_bundle=settings.gtts_ca_bundle,
        piper_binary=settings.piper_binary,
        piper_model=settings.piper_model,
    )


def engine_for(settings: Settings, name: str | None = None) -> Engine:
    """The engine (or fallback chain) named by `name`, else by BROADCASTER_TTS_ENGINE."""
    return build_engine(name or settings.tts_engine, engine_settings(settings))
