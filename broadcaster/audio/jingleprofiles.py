"""Using uploaded chimes in a profile: the override file in the profiles folder.

A profile uses an uploaded chime through OVERRIDE_FILE, which copies the profile's
settings and names the chime custom/<slug>.wav; broadcaster.audio.profiles resolves that
inside the custom folder. Every change is checked by loading the profiles again, and
undone if the profile does not end up with the chimes written.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml

from broadcaster.audio.jinglecheck import JingleError
from broadcaster.audio.jinglefiles import _remove, custom_dir
from broadcaster.audio.profiles import (
    CUSTOM_PREFIX,
    JINGLES_DIR,
    SHIPPED,
    ProfileError,
    load_profiles,
)
from broadcaster.core.config import Settings
from broadcaster.core.fsutil import write_atomically

# Profiles files are read in name order and a later file replaces a profile of the same
# name: "zz-" makes this one come after a province's own files, so the chimes chosen on
# the page win while the province's other settings are copied into it.
OVERRIDE_FILE = "zz-custom-chimes.yaml"
CHIME_KEYS = ("chime_open", "chime_close")


def _profile_files(settings: Settings) -> list[Path]:
    folder = settings.profiles_dir
    extra = sorted(folder.glob("*.yaml")) if folder and folder.is_dir() else []
    return [SHIPPED, *extra]


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise JingleError("profile", f"{path}: cannot read profiles: {exc}") from exc
    if not isinstance(data, dict):
        raise JingleError("profile", f"{path}: must map profile names to settings")
    return data


def _normalized_reference(value: object) -> str | None:
    """custom/x.wav however it is spelled (custom/./x.wav), else the value as text."""
    if value is None:
        return None
    text = str(value)
    if text.startswith(CUSTOM_PREFIX):
        return CUSTOM_PREFIX + os.path.normpath(text.removeprefix(CUSTOM_PREFIX))
    return os.path.normpath(text)


def chime_uses(settings: Settings) -> dict[str, list[tuple[str, str]]]:
    """Which (profile, key) pairs name each chime, in the profiles as they take effect.

    Read from the YAML itself, so a profile that fails to load still holds on to its chime.
    """
    effective: dict[str, Any] = {}
    for path in _profile_files(settings):
        try:
            data = _read_yaml(path)
        except JingleError:
            continue
        effective.update({str(name): raw for name, raw in data.items()})
    uses: dict[str, list[tuple[str, str]]] = {}
    for name, raw in effective.items():
        if not isinstance(raw, dict):
            continue
        for key in CHIME_KEYS:
            reference = _normalized_reference(raw.get(key))
            if reference:
                uses.setdefault(reference, []).append((name, key))
    return uses


def _base_settings(settings: Settings, profile: str) -> dict:
    """The profile's settings as they take effect without our override file."""
    found = None
    for path in _profile_files(settings):
        if path.name == OVERRIDE_FILE and path.parent == settings.profiles_dir:
            continue
        data = _read_yaml(path)
        if profile in data:
            found = data[profile]
    if not isinstance(found, dict):
        raise JingleError("profile", f"no profile named {profile!r}")
    return copy.deepcopy(found)


def _override_path(settings: Settings) -> Path:
    if settings.profiles_dir is None:
        raise JingleError("profile", "no profiles folder is configured")
    return settings.profiles_dir / OVERRIDE_FILE


def _write_yaml_atomically(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (
        "# Written by the chimes page (broadcaster.audio.customjingles): the profile's settings\n"
        "# with uploaded chimes. Remove a profile here to go back to its own chimes.\n"
        + yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    )
    # The temporary file is not *.yaml, so load_profiles never reads a half-written file.
    write_atomically(path, text.encode("utf-8"))


def _restore(path: Path, previous: str | None) -> None:
    if previous is None:
        _remove(path)
    else:
        write_atomically(path, previous.encode("utf-8"))


def _chimes_of(raw: dict | None) -> dict[str, Any]:
    raw = raw or {}
    return {key: raw.get(key) for key in CHIME_KEYS}


def _verify(settings: Settings, profile: str, wanted: dict[str, Path | None]) -> None:
    """The profiles load, and `profile` really uses the chimes we wrote."""
    try:
        loaded = load_profiles(settings.profiles_dir, custom_dir=custom_dir(settings))
    except ProfileError as exc:
        raise JingleError("profile", str(exc)) from exc
    chosen = loaded.get(profile)
    for key, path in wanted.items():
        actual = getattr(chosen, key, None) if chosen else None
        if (actual.resolve() if actual else None) != (path.resolve() if path else None):
            raise JingleError("profile", f"another profiles file overrides {profile!r}.{key}")


def _apply_override(settings: Settings, profile: str, entry: dict | None) -> None:
    """Write (or, with None, remove) `profile` in the override file, then check it took."""
    path = _override_path(settings)
    previous = path.read_text(encoding="utf-8") if path.is_file() else None
    data = _read_yaml(path) if previous is not None else {}
    if entry is None:
        data.pop(profile, None)
    else:
        data[profile] = entry
    if data:
        _write_yaml_atomically(path, data)
    else:
        _remove(path)
    try:
        base = _base_settings(settings, profile) if entry is None else entry
        wanted = {}
        for key in CHIME_KEYS:
            value = base.get(key)
            if value is None:
                wanted[key] = None
            elif str(value).startswith(CUSTOM_PREFIX):
                wanted[key] = custom_dir(settings) / str(value).removeprefix(CUSTOM_PREFIX)
            else:
                wanted[key] = JINGLES_DIR / str(value)
        _verify(settings, profile, wanted)
    except BaseException:
        _restore(path, previous)
        raise


def current_override(settings: Settings, profile: str) -> dict[str, Any] | None:
    """The chimes our override file sets for `profile`, or None when it sets nothing."""
    path = settings.profiles_dir / OVERRIDE_FILE if settings.profiles_dir else None
    if path is None or not path.is_file():
        return None
    raw = _read_yaml(path).get(profile)
    return _chimes_of(raw) if isinstance(raw, dict) else None
