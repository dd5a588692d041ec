"""Broadcast profiles: named audio settings, shipped as data and extendable per deployment."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from broadcaster.core.config import PROJECT_ROOT
from broadcaster.core.errors import BroadcasterError

SHIPPED = Path(__file__).resolve().parents[1] / "data" / "profiles.yaml"
JINGLES_DIR = PROJECT_ROOT / "audio" / "jingles"
DEFAULT_PROFILE = "loa-truyen-thanh"
# A chime value starting with this names a file in the deployment's custom jingles folder
# (instance/jingles/, see broadcaster.audio.customjingles) rather than the shipped audio/jingles/.
CUSTOM_PREFIX = "custom/"


class ProfileError(BroadcasterError):
    """A profile that is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Profile:
    name: str
    label: str
    sample_rate: int
    highpass_hz: float
    lowpass_hz: float
    compressor_threshold_db: float
    compressor_ratio: float
    compressor_attack_ms: float
    compressor_release_ms: float
    compressor_makeup_db: float
    target_lufs: float
    true_peak_db: float
    chime_open: Path | None
    chime_close: Path | None
    gap_s: float
    pause_s: float
    bitrate: str

    def fingerprint(self) -> dict[str, Any]:
        """Everything about the profile that changes the audio, chime contents included."""
        data = asdict(self)
        data.pop("label")
        data.pop("name")  # two profiles with the same settings share their files
        for key in ("chime_open", "chime_close"):
            path = data[key]
            data[key] = _file_digest(path) if path else None
        return data


@lru_cache(maxsize=32)
def _file_digest_cached(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _file_digest(path: Path) -> str:
    stat = path.stat()
    return _file_digest_cached(str(path), stat.st_mtime_ns, stat.st_size)


def _number(raw: dict, key: str, name: str, low: float, high: float) -> float:
    value = raw.get(key)
    if not isinstance(value, int | float) or not low <= value <= high:
        raise ProfileError(f"profile {name!r}: {key} must be a number from {low} to {high}")
    return float(value)


def _chime(
    raw: dict, key: str, name: str, jingles_dir: Path, custom_dir: Path | None = None
) -> Path | None:
    """A chime file: NAME.wav in `jingles_dir`, or custom/NAME.wav in the deployment's
    `custom_dir` (uploaded chimes); either way it must stay inside its folder."""
    value = raw.get(key)
    if value is None:
        return None
    text = str(value)
    folder = jingles_dir
    if text.startswith(CUSTOM_PREFIX):
        if custom_dir is None:
            raise ProfileError(
                f"profile {name!r}: {key} {value!r} names an uploaded chime, but no custom "
                "jingles folder was given"
            )
        folder, text = custom_dir, text.removeprefix(CUSTOM_PREFIX)
    path = (folder / text).resolve()
    if folder.resolve() not in path.parents or not path.is_file():
        raise ProfileError(f"profile {name!r}: {key} {value!r} is not a file in {folder}")
    return path


def parse_profile(
    name: str, raw: Any, *, jingles_dir: Path = JINGLES_DIR, custom_dir: Path | None = None
) -> Profile:
    if not isinstance(raw, dict):
        raise ProfileError(f"profile {name!r} must be a mapping of settings")
    compressor = raw.get("compressor") or {}
    if not isinstance(compressor, dict):
        raise ProfileError(f"profile {name!r}: compressor must be a mapping")
    sample_rate = raw.get("sample_rate")
    if sample_rate not in (16000, 22050, 24000, 32000, 44100, 48000):
        raise ProfileError(f"profile {name!r}: sample_rate must be an MP3 rate like 24000")
    bitrate = str(raw.get("bitrate", ""))
    if (
        not bitrate.endswith("k")
        or not bitrate[:-1].isdigit()
        or not 16 <= int(bitrate[:-1]) <= 320
    ):
        raise ProfileError(f"profile {name!r}: bitrate must look like 48k (16k to 320k)")
    highpass = _number(raw, "highpass_hz", name, 20, 2000)
    lowpass = _number(raw, "lowpass_hz", name, 1000, sample_rate / 2)
    if highpass >= lowpass:
        raise ProfileError(f"profile {name!r}: highpass_hz must be below lowpass_hz")
    return Profile(
        name=name,
        label=str(raw.get("label") or name),
        sample_rate=int(sample_rate),
        highpass_hz=highpass,
        lowpass_hz=lowpass,
        compressor_threshold_db=_number(compressor, "threshold_db", name, -60, 0),
        compressor_ratio=_number(compressor, "ratio", name, 1, 20),
        compressor_attack_ms=_number(compressor, "attack_ms", name, 0.01, 2000),
        compressor_release_ms=_number(compressor, "release_ms", name, 0.01, 9000),
        compressor_makeup_db=_number(compressor, "makeup_db", name, 0, 24),
        target_lufs=_number(raw, "target_lufs", name, -40, -5),
        true_peak_db=_number(raw, "true_peak_db", name, -9, 0),
        chime_open=_chime(raw, "chime_open", name, jingles_dir, custom_dir),
        chime_close=_chime(raw, "chime_close", name, jingles_dir, custom_dir),
        gap_s=_number(raw, "gap_s", name, 0, 10),
        pause_s=_number(raw, "pause_s", name, 0, 30),
        bitrate=bitrate,
    )


def load_profiles(
    extra_dir: Path | None = None, *, custom_dir: Path | None = None
) -> dict[str, Profile]:
    """The shipped profiles, then every *.yaml in `extra_dir` (same name replaces).

    `custom_dir` is where chimes written as custom/NAME.wav are found (the deployment's
    uploaded chimes, settings.instance_dir / "jingles"); without it such a chime is an error.
    """
    sources = [SHIPPED]
    if extra_dir and extra_dir.is_dir():
        sources += sorted(extra_dir.glob("*.yaml"))
    profiles: dict[str, Profile] = {}
    for source in sources:
        try:
            data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ProfileError(f"{source}: cannot read profiles: {exc}") from exc
        if not isinstance(data, dict):
            raise ProfileError(f"{source}: must map profile names to settings")
        for name, raw in data.items():
            profiles[str(name)] = parse_profile(str(name), raw, custom_dir=custom_dir)
    return profiles


def get_profile(
    name: str | None, extra_dir: Path | None = None, *, custom_dir: Path | None = None
) -> Profile:
    profiles = load_profiles(extra_dir, custom_dir=custom_dir)
    wanted = name or DEFAULT_PROFILE
    if wanted not in profiles:
        raise ProfileError(f"no profile named {wanted!r}; known: {', '.join(sorted(profiles))}")
    return profiles[wanted]


def deployment_profiles(settings) -> dict[str, Profile]:
    """The profiles this deployment sees: shipped, its own files, its uploaded chimes."""
    return load_profiles(settings.profiles_dir, custom_dir=settings.instance_dir / "jingles")


def deployment_profile(settings, name: str | None = None) -> Profile:
    return get_profile(
        name or settings.audio_profile,
        settings.profiles_dir,
        custom_dir=settings.instance_dir / "jingles",
    )
