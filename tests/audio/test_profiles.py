import pytest

from broadcaster.audio.profiles import DEFAULT_PROFILE, ProfileError, get_profile, load_profiles


def test_the_shipped_profile_suits_horn_loudspeakers():
    profile = get_profile(None)
    assert profile.name == DEFAULT_PROFILE
    assert (profile.highpass_hz, profile.lowpass_hz) == (300, 5000)
    assert profile.target_lufs == -16 and profile.true_peak_db == -1
    assert profile.chime_open.is_file() and profile.chime_close.is_file()


def test_a_province_adds_and_overrides_profiles_with_a_file(tmp_path):
    (tmp_path / "hue.yaml").write_text(
        "loa-truyen-thanh:\n"
        "  sample_rate: 24000\n  highpass_hz: 350\n  lowpass_hz: 4500\n"
        "  compressor: {threshold_db: -18, ratio: 4, attack_ms: 5, release_ms: 100,"
        " makeup_db: 16}\n"
        "  target_lufs: -18\n  true_peak_db: -2\n  chime_open: chime-open.wav\n"
        "  chime_close: null\n  gap_s: 0.5\n  pause_s: 3\n  bitrate: 64k\n",
        encoding="utf-8",
    )
    profiles = load_profiles(tmp_path)
    assert profiles["loa-truyen-thanh"].target_lufs == -18
    assert profiles["loa-truyen-thanh"].chime_close is None
    assert "truyen-thanh-ip" in profiles


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("  sample_rate: 12345\n", "sample_rate"),
        ("  bitrate: loud\n", "bitrate"),
        ("  chime_open: ../../etc/passwd\n", "chime_open"),
        ("  target_lufs: 3\n", "target_lufs"),
    ],
)
def test_a_bad_profile_is_named_with_its_fault(tmp_path, line, message):
    base = get_profile(None)
    text = (
        "mine:\n  sample_rate: 24000\n  highpass_hz: 300\n  lowpass_hz: 5000\n"
        "  compressor: {threshold_db: -18, ratio: 4, attack_ms: 5, release_ms: 100,"
        " makeup_db: 16}\n"
        "  target_lufs: -16\n  true_peak_db: -1\n  chime_open: null\n  chime_close: null\n"
        "  gap_s: 0\n  pause_s: 2\n  bitrate: 48k\n"
    )
    key = line.split(":")[0]
    lines = [row for row in text.splitlines(keepends=True) if not row.startswith(key + ":")]
    (tmp_path / "bad.yaml").write_text("".join(lines) + line, encoding="utf-8")
    with pytest.raises(ProfileError, match=message) as info:
        load_profiles(tmp_path)
    assert "mine" in str(info.value)
    assert base.name == DEFAULT_PROFILE


def test_an_unknown_profile_lists_the_known_ones():
    with pytest.raises(ProfileError, match="known: .*loa-truyen-thanh"):
        get_profile("khong-co")
