"""Durable replacement of files: a reader sees the old file or the new one, never part."""

import os

import pytest

from broadcaster.core.fsutil import replacing, write_atomically


def test_it_replaces_a_file_and_keeps_its_mode(tmp_path):
    target = tmp_path / "chime.wav"
    target.write_bytes(b"old")
    target.chmod(0o640)
    write_atomically(target, b"new")
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["chime.wav"]


def test_a_new_file_is_readable_by_other_users(tmp_path):
    # nginx and the player usually run as another user than the one who wrote the file.
    target = tmp_path / "new.mp3"
    write_atomically(target, b"audio")
    assert target.stat().st_mode & 0o777 == 0o644


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "playlist.m3u"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), replacing(target) as temporary:
        temporary.write_bytes(b"half")
        raise RuntimeError("ffmpeg died")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["playlist.m3u"]


def test_the_temporary_file_is_beside_the_target(tmp_path):
    # Beside it, so the rename is atomic (same filesystem).
    with replacing(tmp_path / "a.mp3") as temporary:
        assert temporary.parent == tmp_path
        assert temporary.name.startswith(".a.mp3.")
        temporary.write_bytes(b"x")
    assert (tmp_path / "a.mp3").read_bytes() == b"x"
