"""Settings from the environment (BROADCASTER_*), parsed strictly."""

from __future__ import annotations

import ipaddress
import math
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from broadcaster.core.errors import BroadcasterError
from broadcaster.core.voices import DEFAULT_ENGINE, ENGINE_NAMES

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PREFIX = "BROADCASTER_"


class ConfigError(BroadcasterError):
    """A setting is present but unusable; the message names the variable."""


def _raw(env: dict[str, str], name: str) -> str | None:
    """Read NAME, or the contents of the file named by NAME_FILE (for secrets)."""
    key = PREFIX + name
    file_key = key + "_FILE"
    if key in env and file_key in env:
        raise ConfigError(f"set either {key} or {file_key}, not both")
    if file_key in env:
        try:
            return Path(env[file_key]).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{file_key}: cannot read {env[file_key]!r}: {exc}") from exc
    value = env.get(key)
    return value.strip() if value is not None else None


def env_bool(env: dict[str, str], name: str, default: bool) -> bool:
    value = _raw(env, name)
    if value is None or value == "":
        return default
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{PREFIX}{name}={value!r} is not a boolean (use true or false)")


def env_int(
    env: dict[str, str], name: str, default: int, *, minimum: int = 0, maximum: int | None = None
) -> int:
    value = _raw(env, name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name}={value!r} is not an integer") from None
    if number < minimum:
        raise ConfigError(f"{PREFIX}{name}={number} must be at least {minimum}")
    if maximum is not None and number > maximum:
        raise ConfigError(f"{PREFIX}{name}={number} must be at most {maximum}")
    return number


def env_float(env: dict[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    value = _raw(env, name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name}={value!r} is not a number") from None
    if not math.isfinite(number):
        raise ConfigError(f"{PREFIX}{name}={value!r} is not a finite number")
    if number < minimum:
        raise ConfigError(f"{PREFIX}{name}={number} must be at least {minimum}")
    return number


def env_choice(env: dict[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _raw(env, name)
    if value is None or value == "":
        return default
    if value not in choices:
        raise ConfigError(f"{PREFIX}{name}={value!r} must be one of: {', '.join(choices)}")
    return value


def env_timezone(env: dict[str, str], name: str, default: str) -> str:
    value = _raw(env, name) or default
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{PREFIX}{name}={value!r} is not a known time zone") from None
    return value


LOG_FORMATS = ("text", "json")
LOOPBACK_NETWORKS = "127.0.0.0/8,::1/128"


def log_format(env: dict[str, str]) -> str:
    """BROADCASTER_LOG_FORMAT: text (default, for people) or json (one object per line)."""
    return env_choice(env, "LOG_FORMAT", "text", LOG_FORMATS)


def env_networks(env: dict[str, str], name: str, default: str) -> tuple:
    """A comma-separated list of addresses or CIDR networks ("" allows none)."""
    value = _raw(env, name)
    if value is None:
        value = default
    networks = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        try:
            # strict: 10.0.0.1/8 is more likely a typo than a way to say 10.0.0.0/8
            networks.append(ipaddress.ip_network(part, strict=True))
        except ValueError:
            raise ConfigError(
                f"{PREFIX}{name}: {part!r} is not an IP address or network "
                "(e.g. 127.0.0.1, ::1 or 10.0.0.0/24)"
            ) from None
    return tuple(networks)


def _metrics_token(env: dict[str, str]) -> str | None:
    token = _raw(env, "METRICS_TOKEN") or None
    if token is not None and len(token) < 16:
        raise ConfigError(f"{PREFIX}METRICS_TOKEN must be at least 16 characters")
    return token


@dataclass(frozen=True)
class Settings:
    instance_dir: Path
    database_url: str = field(repr=False)  # may hold a database password
    audio_dir: Path
    timezone: str
    secret_key: str = field(repr=False)
    environment: str = "development"
    secure_cookies: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    default_locale: str = "vi"
    tts_engine: str = "espeak"
    gtts_timeout: float = 10.0
    gtts_retries: int = 2
    gtts_url: str | None = None
    gtts_ca_bundle: str | None = None
    piper_binary: str = "piper"
    piper_model: str | None = None
    profiles_dir: Path | None = None
    audio_profile: str = "loa-truyen-thanh"
    audio_retention_days: int = 30
    log_retention_days: int = 730
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    smtp_from: str = "broadcaster@localhost"
    alert_emails: tuple[str, ...] = ()
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    allow_self_approval: bool = False
    # Station API limits per worker process (0 turns the per-token limit off).
    api_rate_per_minute: int = 120
    api_burst: int = 120
    api_failures_per_minute: int = 10
    api_failure_burst: int = 20
    # Push (stations/push.py): how long a held request waits, how many a process holds
    # (0: as many as a gevent worker can, a few where each one holds a thread).
    push_hold_seconds: int = 50
    push_max_held: int = 0
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    log_format: str = "text"
    heartbeat_seconds: int = 15
    metrics_token: str | None = field(default=None, repr=False)
    metrics_networks: tuple = field(
        default_factory=lambda: tuple(ipaddress.ip_network(n) for n in LOOPBACK_NETWORKS.split(","))
    )
    audio_accel_redirect: str | None = None
    # The residents' pages: absolute URL printed in QR codes and feeds (None: the request's
    # host), and the per-address request limit per worker process.
    public_url: str | None = None
    public_rate_per_minute: int = 60
    public_burst: int = 30
    audio_store_url: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = field(default=None, repr=False)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _secret_key(env: dict[str, str], instance_dir: Path, environment: str) -> str:
    """The key from the environment, else one generated once into instance/."""
    configured = _raw(env, "SECRET_KEY")
    if configured:
        if len(configured) < 32:
            raise ConfigError(f"{PREFIX}SECRET_KEY must be at least 32 characters")
        return configured
    if environment == "production":
        # A generated key on one machine breaks sessions across several web machines,
        # so production must say which key it uses.
        raise ConfigError(
            f"{PREFIX}SECRET_KEY (or {PREFIX}SECRET_KEY_FILE) is required in production"
        )
    key_file = instance_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text(encoding="utf-8").strip()
    instance_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # O_EXCL so two processes starting together cannot each write a different key.
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key)
    return key


def _emails(env: dict[str, str]) -> tuple[str, ...]:
    raw = _raw(env, "ALERT_EMAILS") or ""
    emails = tuple(e.strip() for e in raw.split(",") if e.strip())
    for email in emails:
        if "@" not in email or " " in email:
            raise ConfigError(f"{PREFIX}ALERT_EMAILS: {email!r} is not an e-mail address")
    return emails


def _check_database_url(url: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    shown = url.split("@")[-1]  # never echo a password back
    try:
        make_url(url).get_dialect()
    except NoSuchModuleError:  # a subclass of ArgumentError: check it first
        raise ConfigError(
            f"{PREFIX}DATABASE_URL: unknown database kind in ...{shown!r} "
            "(use sqlite:/// or postgresql+psycopg://)"
        ) from None
    except (ArgumentError, ValueError):
        raise ConfigError(f"{PREFIX}DATABASE_URL=...{shown!r} is not a database URL") from None


_ACCEL_PREFIX = re.compile(r"/[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*/")
_S3_URL = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/[A-Za-z0-9._~/-]*)?")


def env_accel_prefix(env: dict[str, str], name: str) -> str | None:
    """An nginx internal location such as /_audio/ (starts and ends with a slash)."""
    value = _raw(env, name)
    if not value:
        return None
    if not _ACCEL_PREFIX.fullmatch(value) or "/../" in value or "/./" in value:
        raise ConfigError(
            f"{PREFIX}{name}={value!r} must be a location path such as /_audio/ "
            "(starting and ending with /)"
        )
    return value


def env_s3_url(env: dict[str, str], name: str) -> str | None:
    """s3://bucket or s3://bucket/prefix, normalized without a trailing slash."""
    value = _raw(env, name)
    if not value:
        return None
    if not _S3_URL.fullmatch(value) or "//" in value[5:]:
        raise ConfigError(
            f"{PREFIX}{name}={value!r} must look like s3://bucket or s3://bucket/prefix "
            "(bucket: lowercase letters, digits, dots and hyphens)"
        )
    return value.rstrip("/")


def env_http_url(env: dict[str, str], name: str) -> str | None:
    value = _raw(env, name)
    if not value:
        return None
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
        raise ConfigError(f"{PREFIX}{name}={value!r} must be an http:// or https:// URL")
    return value


def local_today(settings: Settings) -> date:
    """Today in the deployment's time zone (a UTC server is a day behind until 07:00 in Huế)."""
    return datetime.now(ZoneInfo(settings.timezone)).date()


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Build Settings from `env` (default: os.environ); raises ConfigError on junk."""
    env = dict(os.environ if env is None else env)
    instance_dir = Path(_raw(env, "INSTANCE_DIR") or PROJECT_ROOT / "instance").resolve()
    environment = env_choice(env, "ENV", "development", ("development", "production", "test"))
    database_url = _raw(env, "DATABASE_URL") or f"sqlite:///{instance_dir / 'broadcaster.db'}"
    _check_database_url(database_url)
    audio_dir = Path(_raw(env, "AUDIO_DIR") or PROJECT_ROOT / "audio" / "store").resolve()
    return Settings(
        instance_dir=instance_dir,
        database_url=database_url,
        audio_dir=audio_dir,
        timezone=env_timezone(env, "TIMEZONE", "Asia/Ho_Chi_Minh"),
        secret_key=_secret_key(env, instance_dir, environment),
        environment=environment,
        secure_cookies=env_bool(env, "SECURE_COOKIES", environment == "production"),
        host=_raw(env, "HOST") or "127.0.0.1",
        port=env_int(env, "PORT", 8000, minimum=1, maximum=65535),
        default_locale=env_choice(env, "LOCALE", "vi", ("vi", "en")),
        tts_engine=env_choice(env, "TTS_ENGINE", DEFAULT_ENGINE, ENGINE_NAMES),
        gtts_timeout=env_float(env, "GTTS_TIMEOUT", 10.0, minimum=0.1),
        gtts_retries=env_int(env, "GTTS_RETRIES", 2, minimum=0),
        gtts_url=_raw(env, "GTTS_URL") or None,
        gtts_ca_bundle=_raw(env, "GTTS_CA_BUNDLE") or None,
        piper_binary=_raw(env, "PIPER_BINARY") or "piper",
        piper_model=_raw(env, "PIPER_MODEL") or None,
        profiles_dir=Path(_raw(env, "PROFILES_DIR") or instance_dir / "profiles"),
        audio_profile=_raw(env, "AUDIO_PROFILE") or "loa-truyen-thanh",
        audio_retention_days=env_int(env, "AUDIO_RETENTION_DAYS", 30, minimum=1),
        log_retention_days=env_int(env, "LOG_RETENTION_DAYS", 730, minimum=365),
        smtp_host=_raw(env, "SMTP_HOST") or None,
        smtp_port=env_int(env, "SMTP_PORT", 25, minimum=1, maximum=65535),
        smtp_user=_raw(env, "SMTP_USER") or None,
        smtp_password=_raw(env, "SMTP_PASSWORD") or None,
        smtp_starttls=env_bool(env, "SMTP_STARTTLS", False),
        smtp_from=_raw(env, "SMTP_FROM") or "broadcaster@localhost",
        alert_emails=_emails(env),
        login_max_failures=env_int(env, "LOGIN_MAX_FAILURES", 5, minimum=1),
        login_lockout_minutes=env_int(env, "LOGIN_LOCKOUT_MINUTES", 15, minimum=1),
        allow_self_approval=env_bool(env, "ALLOW_SELF_APPROVAL", False),
        api_rate_per_minute=env_int(env, "API_RATE_PER_MINUTE", 120, minimum=0),
        api_burst=env_int(env, "API_BURST", 120, minimum=1),
        api_failures_per_minute=env_int(env, "API_FAILURES_PER_MINUTE", 10, minimum=1),
        api_failure_burst=env_int(env, "API_FAILURE_BURST", 20, minimum=1),
        push_hold_seconds=env_int(env, "PUSH_HOLD_SECONDS", 50, minimum=1, maximum=600),
        push_max_held=env_int(env, "PUSH_MAX_HELD", 0, minimum=0),
        trusted_proxies=env_networks(env, "TRUSTED_PROXIES", ""),
        log_format=log_format(env),
        heartbeat_seconds=env_int(env, "HEARTBEAT_SECONDS", 15, minimum=1, maximum=300),
        metrics_token=_metrics_token(env),
        metrics_networks=env_networks(env, "METRICS_ALLOW", LOOPBACK_NETWORKS),
        audio_accel_redirect=env_accel_prefix(env, "AUDIO_ACCEL_REDIRECT"),
        public_url=(env_http_url(env, "PUBLIC_URL") or "").rstrip("/") or None,
        public_rate_per_minute=env_int(env, "PUBLIC_RATE_PER_MINUTE", 60, minimum=1),
        public_burst=env_int(env, "PUBLIC_BURST", 30, minimum=1),
        **_s3_settings(env),
    )


def _s3_settings(env: dict[str, str]) -> dict:
    url = env_s3_url(env, "AUDIO_STORE_URL")
    key_id = _raw(env, "S3_ACCESS_KEY_ID") or None
    secret = _raw(env, "S3_SECRET_ACCESS_KEY") or None
    if bool(key_id) != bool(secret):
        # Half a credential would silently fall back to boto3's own search and fail later.
        raise ConfigError(
            f"{PREFIX}S3_ACCESS_KEY_ID and {PREFIX}S3_SECRET_ACCESS_KEY go together: set both "
            "or neither (then the usual AWS_* variables or instance role apply)"
        )
    return dict(
        audio_store_url=url,
        s3_endpoint_url=env_http_url(env, "S3_ENDPOINT_URL"),
        s3_region=_raw(env, "S3_REGION") or "us-east-1",
        s3_access_key_id=key_id,
        s3_secret_access_key=secret,
    )
