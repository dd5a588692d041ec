"""The Piper engine: neural, offline synthesis from a voice model the operator installed.

Owns ``PiperEngine`` and the checks of its model files (present, readable, Vietnamese).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from broadcaster.speech.synthesis import (
    EngineError,
    Speech,
    check_request,
    positive_number,
    run_tool,
    seal_wav,
)


class PiperEngine:
    """Neural, offline synthesis with Piper, for operators who installed a voice model.

    Needs ``model`` (``*.onnx``) with its ``*.onnx.json`` beside it, and the ``piper``
    executable (or the ``piper`` Python package, run as ``python -m piper``).  A Piper
    model is one speaker, so the requested region cannot be honoured; ``Speech.voice`` is
    the model's name.  Speed maps to Piper's ``length_scale`` (1 / speed).
    """

    name = "piper"

    def __init__(
        self,
        *,
        model: str | os.PathLike[str] | None,
        binary: str = "piper",
        timeout: float = 120.0,
    ) -> None:
        self.model = None if model is None else Path(model)
        self.binary = binary
        self.timeout = positive_number("piper timeout", timeout)

    def _model_files(self) -> tuple[Path, Path]:
        if self.model is None:
            raise EngineError(
                "no Piper voice model configured (set piper_model to a .onnx file "
                "with its .onnx.json beside it)",
                engine=self.name,
                retryable=False,
            )
        if not self.model.is_file():
            raise EngineError(
                f"Piper voice model {str(self.model)!r} does not exist",
                engine=self.name,
                retryable=False,
            )
        config = self.model.with_name(self.model.name + ".json")
        if not config.is_file():
            raise EngineError(
                f"Piper voice config {str(config)!r} is missing; a model is unusable "
                "without the .onnx.json that came with it",
                engine=self.name,
                retryable=False,
            )
        try:
            settings = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EngineError(
                f"Piper voice config {str(config)!r} is not valid JSON: {exc}",
                engine=self.name,
                retryable=False,
            ) from exc
        language = _piper_language(settings)
        # A non-Vietnamese model reads Vietnamese as gibberish; better to fall back.
        if language is not None and not language.lower().startswith("vi"):
            raise EngineError(
                f"Piper voice {self.model.name!r} is for language {language!r}, not Vietnamese",
                engine=self.name,
                retryable=False,
            )
        return self.model, config

    def _command(self) -> list[str]:
        found = shutil.which(self.binary)
        if found is not None:
            return [found]
        if self.binary == "piper" and importlib.util.find_spec("piper") is not None:
            return [sys.executable, "-m", "piper"]
        raise EngineError(
            f"Piper executable {self.binary!r} not found and the piper Python package is "
            "not installed (pip install piper-tts)",
            engine=self.name,
            retryable=False,
        )

    def check(self) -> None:
        """Raise the configuration error synthesize() would raise, without synthesizing."""
        self._model_files()
        self._command()

    def synthesize(self, text: str, *, voice: str, speed: float) -> Speech:
        check_request(text, voice, speed)
        model, config = self._model_files()
        command = self._command()
        with tempfile.TemporaryDirectory(prefix="broadcaster-piper-") as tmp:
            output = Path(tmp) / "speech.wav"
            command += [
                "--model",
                str(model),
                "--config",
                str(config),
                "--output_file",
                str(output),
                "--length_scale",
                f"{1 / speed:.3f}",
            ]
            # Piper treats each stdin line as a separate utterance (or file); one line
            # keeps the announcement in one output.
            run_tool(command, " ".join(text.split()).encode("utf-8"), self.timeout, self.name)
            try:
                data = seal_wav(output.read_bytes())
            except (OSError, ValueError) as exc:
                raise EngineError(
                    f"piper produced no usable audio: {exc}", engine=self.name, retryable=False
                ) from exc
        return Speech(data, "wav", engine=self.name, voice=model.name.removesuffix(".onnx"))


def _piper_language(settings: object) -> str | None:
    if not isinstance(settings, dict):
        return None
    language = settings.get("language")
    if isinstance(language, dict) and isinstance(language.get("code"), str):
        return language["code"]
    espeak = settings.get("espeak")
    if isinstance(espeak, dict) and isinstance(espeak.get("voice"), str):
        return espeak["voice"]
    return None
