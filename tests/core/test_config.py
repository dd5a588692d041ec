import os
import stat

import pytest

from broadcaster.core.config import ConfigError, load_settings


def base_env(tmp_path, **extra):
    return {"BROADCASTER_INSTANCE_DIR": str(tmp_path / "instance"), **extra}


def test_it_defaults_to_sqlite_in_instance_and_ho_chi_minh_time(tmp_path):
    settings = load_settings(base_env(tmp_path))
    assert settings.database_url == f"sqlite:///{tmp_path / 'instance' / 'broadcaster.db'}"
    assert settings.timezone == "Asia/Ho_Chi_Minh"
    assert settings.tts_engine == "espeak"  # offline by default: no internet is assumed


def test_it_generates_the_secret_key_once_and_keeps_it_private(tmp_path):
    first = load_settings(base_env(tmp_path)).secret_key
    second = load_settings(base_env(tmp_path)).secret_key
    assert first == second and len(first) >= 32
    mode = stat.S_IMODE(os.stat(tmp_path / "instance" / "secret_key").st_mode)
    assert mode == 0o600


def test_it_refuses_a_generated_key_in_production(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings(base_env(tmp_path, BROADCASTER_ENV="production"))


def test_it_reads_secrets_from_file_variants(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("k" * 40 + "\n")
    settings = load_settings(base_env(tmp_path, BROADCASTER_SECRET_KEY_FILE=str(key_file)))
    assert settings.secret_key == "k" * 40


def test_it_refuses_both_a_value_and_a_file(tmp_path):
    with pytest.raises(ConfigError, match="not both"):
        load_settings(
            base_env(
                tmp_path,
                BROADCASTER_SECRET_KEY="k" * 40,
                BROADCASTER_SECRET_KEY_FILE=str(tmp_path / "k"),
            )
        )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BROADCASTER_SECURE_COOKIES", "maybe", "not a boolean"),
        ("BROADCASTER_PORT", "eighty", "not an integer"),
        ("BROADCASTER_PORT", "0", "at least 1"),
        ("BROADCASTER_TIMEZONE", "Mars/Olympus", "time zone"),
        ("BROADCASTER_TTS_ENGINE", "festival", "must be one of"),
        ("BROADCASTER_DATABASE_URL", "broadcaster.db", "not a database URL"),
        ("BROADCASTER_DATABASE_URL", "foo://x", "unknown database kind"),
        ("BROADCASTER_PORT", "70000", "at most 65535"),
        ("BROADCASTER_GTTS_TIMEOUT", "nan", "not a finite number"),
        ("BROADCASTER_GTTS_TIMEOUT", "soon", "not a number"),
        ("BROADCASTER_TRUSTED_PROXIES", "nginx", "not an IP address or network"),
        ("BROADCASTER_TRUSTED_PROXIES", "10.0.0.1/8", "not an IP address or network"),
        ("BROADCASTER_TRUSTED_PROXIES", "127.0.0.1, *", "not an IP address or network"),
        ("BROADCASTER_API_RATE_PER_MINUTE", "-1", "at least 0"),
        ("BROADCASTER_API_BURST", "0", "at least 1"),
        ("BROADCASTER_LOG_FORMAT", "xml", "must be one of"),
        ("BROADCASTER_HEARTBEAT_SECONDS", "0", "at least 1"),
        ("BROADCASTER_METRICS_ALLOW", "10.0.0.0/8,intranet", "not an IP address or network"),
        ("BROADCASTER_METRICS_TOKEN", "short", "at least 16 characters"),
        ("BROADCASTER_AUDIO_ACCEL_REDIRECT", "_audio", "such as /_audio/"),
        ("BROADCASTER_AUDIO_ACCEL_REDIRECT", "/_audio", "such as /_audio/"),
        ("BROADCASTER_AUDIO_ACCEL_REDIRECT", "/a/../b/", "such as /_audio/"),
        ("BROADCASTER_AUDIO_STORE_URL", "/var/lib/audio", "s3://bucket"),
        ("BROADCASTER_AUDIO_STORE_URL", "s3://Bad_Bucket/x", "s3://bucket"),
        ("BROADCASTER_S3_ENDPOINT_URL", "minio:9000", "http:// or https://"),
    ],
)
def test_it_rejects_junk_with_the_variable_named(tmp_path, name, value, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(base_env(tmp_path, **{name: value}))
    assert name in str(info.value)


def test_it_parses_booleans_strictly(tmp_path):
    assert load_settings(base_env(tmp_path, BROADCASTER_SECURE_COOKIES="true")).secure_cookies
    assert not load_settings(base_env(tmp_path, BROADCASTER_SECURE_COOKIES="0")).secure_cookies


def test_trusted_proxies_are_addresses_or_networks_and_none_by_default(tmp_path):
    assert load_settings(base_env(tmp_path)).trusted_proxies == ()
    settings = load_settings(
        base_env(tmp_path, BROADCASTER_TRUSTED_PROXIES="127.0.0.1, ::1,10.1.2.0/24")
    )
    assert [str(n) for n in settings.trusted_proxies] == ["127.0.0.1/32", "::1/128", "10.1.2.0/24"]


def test_no_secret_shows_in_the_settings_repr(tmp_path):
    database_password = "pg-Pa55word-in-url"
    settings = load_settings(
        base_env(
            tmp_path,
            BROADCASTER_SECRET_KEY="s" * 40,
            BROADCASTER_SMTP_PASSWORD="smtp-Pa55word",
            BROADCASTER_DATABASE_URL=f"postgresql+psycopg://bc:{database_password}@db/bc",
        )
    )
    shown = repr(settings)
    assert "s" * 40 not in shown and "smtp-Pa55word" not in shown
    assert database_password not in shown


def test_metrics_are_open_to_loopback_only_unless_configured(tmp_path):
    import ipaddress

    default = load_settings(base_env(tmp_path))
    assert ipaddress.ip_address("127.0.0.1") in default.metrics_networks[0]
    assert not any(ipaddress.ip_address("10.1.2.3") in n for n in default.metrics_networks)
    assert default.metrics_token is None
    closed = load_settings(base_env(tmp_path, BROADCASTER_METRICS_ALLOW=""))
    assert closed.metrics_networks == ()
    lan = load_settings(base_env(tmp_path, BROADCASTER_METRICS_ALLOW=" 10.0.0.0/8 , ::1 "))
    assert [str(n) for n in lan.metrics_networks] == ["10.0.0.0/8", "::1/128"]


def test_it_reads_the_production_audio_settings(tmp_path):
    (tmp_path / "s3-secret").write_text("s3cr3t\n")
    settings = load_settings(
        base_env(
            tmp_path,
            BROADCASTER_AUDIO_ACCEL_REDIRECT="/_audio/",
            BROADCASTER_AUDIO_STORE_URL="s3://hue-audio/prod/",
            BROADCASTER_S3_ENDPOINT_URL="https://s3.example.vn",
            BROADCASTER_S3_ACCESS_KEY_ID="AKIA1",
            BROADCASTER_S3_SECRET_ACCESS_KEY_FILE=str(tmp_path / "s3-secret"),
        )
    )
    assert settings.audio_accel_redirect == "/_audio/"
    assert settings.audio_store_url == "s3://hue-audio/prod"
    assert settings.s3_secret_access_key == "s3cr3t" and "s3cr3t" not in repr(settings)
    plain = load_settings(base_env(tmp_path))
    assert plain.audio_accel_redirect is None and plain.audio_store_url is None


def test_it_refuses_half_an_s3_credential(tmp_path):
    with pytest.raises(ConfigError, match="go together"):
        load_settings(base_env(tmp_path, BROADCASTER_S3_ACCESS_KEY_ID="AKIA1"))
