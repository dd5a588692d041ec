"""Vietnamese is the source language; the English catalog must cover every string."""

import subprocess
import sys

from babel.messages.pofile import read_po

from broadcaster.core.config import PROJECT_ROOT


def test_every_ui_string_has_an_english_translation(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "N_",
            "--no-location",
            "-o",
            str(pot),
            ".",
        ],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        wanted = {m.id for m in read_po(handle) if m.id}
    po_path = PROJECT_ROOT / "web/translations/en/LC_MESSAGES/messages.po"
    with po_path.open("rb") as handle:
        translated = {
            m.id for m in read_po(handle) if m.id and m.string and all(m.string) and not m.fuzzy
        }
    missing = sorted(wanted - translated, key=str)  # plural ids are tuples
    assert missing == [], "run bin/update-translations and translate: " + "; ".join(
        map(str, missing)
    )
