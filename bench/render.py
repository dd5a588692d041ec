"""Rendering speed against the floor of the raw tools, and cache-hit lookups per second.

Floor: for each announcement, espeak-ng synthesis plus one ffmpeg MP3 encode of audio as
long as our finished programme (chimes, two readings, pauses). Target ratio ≤ 1.3.
Run: .venv/bin/python bench/render.py
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from broadcaster.audio.profiles import get_profile  # noqa: E402
from broadcaster.audio.render import AudioStore, RenderRequest, Tags, frame_for, render  # noqa: E402
from broadcaster.core import db  # noqa: E402
from broadcaster.core.config import PROJECT_ROOT  # noqa: E402
from broadcaster.speech.engines import EspeakEngine  # noqa: E402
from broadcaster.speech.normalize import normalize  # noqa: E402

TARGET_RATIO = 1.3
WORDS = 60
COUNT = 20


def announcements() -> list[str]:
    """20 different ~60-word texts cut from the shipped Bluezone scripts."""
    words: list[str] = []
    for path in sorted((PROJECT_ROOT / "scripts").rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        if text.startswith("---"):
            text = text.split("---", 2)[2]
        words += text.split()
    texts = []
    for index in range(COUNT):
        start = (index * 37) % max(1, len(words) - WORDS)
        texts.append(" ".join(words[start : start + WORDS]))
    return texts


def floor_seconds(spoken: str, voice: str, programme_s: float, rate: int, bitrate: str) -> float:
    started = time.perf_counter()
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "--stdout"],
        input=spoken.encode(),
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "wav",
            "-i",
            "pipe:0",
            "-af",
            f"apad=whole_dur={programme_s}",
            "-ar",
            str(rate),
            "-ac",
            "1",
            "-c:a",
            "libmp3lame",
            "-b:a",
            bitrate,
            "-f",
            "mp3",
            "-y",
            "/dev/null",
        ],
        input=wav,
        capture_output=True,
        check=True,
    )
    return time.perf_counter() - started


def main() -> int:
    profile = get_profile(None)
    engine = EspeakEngine()
    texts = announcements()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        db.upgrade(url)
        store = AudioStore(Path(folder) / "store")
        frame_for(profile)  # shared chimes are encoded once per process, not per render
        engine_db = db.make_engine(url)
        ours = floor = 0.0
        durations = []
        with db.session_scope(engine_db) as session:
            for index, text in enumerate(texts):
                request = RenderRequest(
                    text=text,
                    voice="central",
                    speed=1.0,
                    repeat=2,
                    profile=profile,
                    engine_name="espeak",
                    tags=Tags(title=f"Bản tin {index + 1}"),
                )
                started = time.perf_counter()
                result = render(session=session, store=store, request=request, engine=engine)
                ours += time.perf_counter() - started
                durations.append(result.audio.duration_s)
                floor += floor_seconds(
                    normalize(text),
                    "vi-vn-x-central",
                    result.audio.duration_s,
                    profile.sample_rate,
                    profile.bitrate,
                )
            lufs = [result.audio.lufs]
            started = time.perf_counter()
            hits = 0
            while time.perf_counter() - started < 2.0:
                for text in texts:
                    request = RenderRequest(
                        text=text,
                        voice="central",
                        speed=1.0,
                        repeat=2,
                        profile=profile,
                        engine_name="espeak",
                        tags=Tags(title=f"Bản tin {texts.index(text) + 1}"),
                    )
                    assert render(
                        session=session, store=store, request=request, engine=engine
                    ).cached
                    hits += 1
            hit_rate = hits / (time.perf_counter() - started)
        engine_db.dispose()
    ratio = ours / floor
    mean_words = sum(len(re.findall(r"\S+", t)) for t in texts) / len(texts)
    print(
        f"render: {COUNT} announcements (~{mean_words:.0f} words, "
        f"{sum(durations) / len(durations):.1f} s each): ours {ours:.2f} s, "
        f"floor {floor:.2f} s, ratio {ratio:.2f} (target ≤ {TARGET_RATIO}); last LUFS {lufs[0]}"
    )
    print(f"render cache hits: {hit_rate:,.0f} lookups/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
