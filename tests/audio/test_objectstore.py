"""Audio in S3-compatible object storage, against a real S3 HTTP server on loopback (moto)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta

import boto3
import pytest
from moto.server import ThreadedMotoServer
from sqlmodel import select

from broadcaster.audio.objectstore import RemoteError
from broadcaster.audio.profiles import get_profile
from broadcaster.audio.render import (
    RenderError,
    RenderRequest,
    Tags,
    collect_garbage,
    render,
    store_for,
)
from broadcaster.core.config import load_settings
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import AudioFile
from broadcaster.speech.engines import EspeakEngine
from tests.helpers import free_port

BUCKET = "broadcaster-audio"


@pytest.fixture(scope="module")
def s3_server():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_settings(s3_server, settings, tmp_path):
    env = {
        "BROADCASTER_ENV": "test",
        "BROADCASTER_INSTANCE_DIR": str(settings.instance_dir),
        "BROADCASTER_DATABASE_URL": settings.database_url,
        "BROADCASTER_AUDIO_DIR": str(settings.audio_dir),
        # A fresh prefix per test: the server lives for the whole module.
        "BROADCASTER_AUDIO_STORE_URL": f"s3://{BUCKET}/{tmp_path.name}",
        "BROADCASTER_S3_ENDPOINT_URL": s3_server,
        "BROADCASTER_S3_ACCESS_KEY_ID": "testing",
        "BROADCASTER_S3_SECRET_ACCESS_KEY_FILE": str(tmp_path / "s3-secret"),
    }
    (tmp_path / "s3-secret").write_text("testing-secret\n")
    loaded = load_settings(env)
    client = bucket_client(loaded)
    if BUCKET not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket=BUCKET)
    return loaded


def bucket_client(settings):
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing-secret",
    )


def objects(settings) -> dict[str, bytes]:
    client = bucket_client(settings)
    prefix = settings.audio_store_url.split("/", 3)[3] + "/"
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {
        o["Key"].removeprefix(prefix): client.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
        for o in listed
    }


def request(text="Loa phường Thuận An xin thông báo.") -> RenderRequest:
    return RenderRequest(
        text=text,
        voice="central",
        speed=1.0,
        repeat=1,
        profile=get_profile(None),
        engine_name="espeak",
        tags=Tags(title="Thử", script="thu v1", commune="Phường Thuận An", date="2020-08-13"),
    )


def do_render(session, settings, req=None):
    result = render(
        session=session, store=store_for(settings), request=req or request(), engine=EspeakEngine()
    )
    session.commit()
    return result


def test_it_uploads_each_render_before_recording_it(session, s3_settings):
    result = do_render(session, s3_settings)
    stored = objects(s3_settings)
    assert list(stored) == [result.audio.path]
    assert stored[result.audio.path] == result.path.read_bytes()
    assert hashlib.sha256(stored[result.audio.path]).hexdigest() == result.audio.sha256


def test_a_machine_without_the_file_fetches_it_back_and_checks_it(session, s3_settings):
    first = do_render(session, s3_settings)
    original = first.path.read_bytes()
    first.path.unlink()  # a new web machine, or a wiped cache
    path = store_for(s3_settings).local(first.audio)
    assert path == first.path and path.read_bytes() == original
    first.path.unlink()
    again = do_render(session, s3_settings)
    assert again.cached and again.path.read_bytes() == original  # fetched, not re-rendered
    assert not [p for p in first.path.parent.iterdir() if p.name.startswith(".")]


def test_a_damaged_object_is_refused_and_nothing_is_put_in_place(session, s3_settings):
    result = do_render(session, s3_settings)
    prefix = s3_settings.audio_store_url.split("/", 3)[3]
    bucket_client(s3_settings).put_object(
        Bucket=BUCKET, Key=f"{prefix}/{result.audio.path}", Body=b"ID3 not the audio"
    )
    result.path.unlink()
    with pytest.raises(RemoteError, match="sha256"):
        store_for(s3_settings).local(result.audio)
    assert list(result.path.parent.iterdir()) == []
    again = do_render(session, s3_settings)  # rendered anew, and the object replaced
    assert not again.cached and again.path.is_file()
    assert objects(s3_settings)[again.audio.path] == again.path.read_bytes()


def test_an_unreachable_bucket_fails_the_render_and_records_nothing(session, s3_settings):
    broken = replace(s3_settings, audio_store_url="s3://no-such-bucket-here/x")
    with pytest.raises(RenderError, match="object store") as failure:
        render(
            session=session,
            store=store_for(broken),
            request=request("Thông báo khác."),
            engine=EspeakEngine(),
        )
    assert failure.value.retryable
    session.rollback()
    assert session.exec(select(AudioFile)).all() == []
    assert objects(s3_settings) == {}


def test_garbage_collection_removes_the_object_too(session, s3_settings):
    result = do_render(session, s3_settings)
    result.audio.last_used_at = utcnow() - timedelta(days=60)
    session.add(result.audio)
    session.commit()
    removed = collect_garbage(
        session=session, store=store_for(s3_settings), retention=timedelta(days=30)
    )
    session.commit()
    assert removed == 1 and objects(s3_settings) == {} and not result.path.exists()


def _station_audio(settings) -> tuple[AudioFile, str]:
    """Audio in HUE-THUAN-AN's manifest, and the station's token."""
    from broadcaster.core import db
    from broadcaster.stations.api import rotate_token
    from tests import stationapi_support as support

    engine = db.make_engine(settings.database_url)
    with db.session_scope(engine) as session:
        how_to = support.schedule_for(session, support.HOW_TO, ["HUE-THUAN-AN"])
        occurrence = support.add_occurrence(
            session, settings, how_to, "HUE-THUAN-AN", utcnow() + timedelta(hours=1)
        )
        audio = session.get(AudioFile, occurrence.audio_id)
        token = rotate_token(session, support.station(session, "HUE-THUAN-AN"))
    engine.dispose()
    return audio, token


def _api_get(settings, audio, token):
    from web import create_app

    app = create_app({"SETTINGS": settings, "TESTING": True})
    try:
        response = app.test_client().get(
            f"/api/v1/audio/{audio.sha256}.mp3", headers={"Authorization": f"Bearer {token}"}
        )
        response.get_data()
        response.close()
        return response
    finally:
        app.extensions["engine"].dispose()


def test_the_station_api_serves_audio_this_machine_lacks_from_the_bucket(s3_settings):
    audio, token = _station_audio(s3_settings)
    local = s3_settings.audio_dir / audio.path
    original = local.read_bytes()
    local.unlink()
    response = _api_get(s3_settings, audio, token)
    assert response.status_code == 200 and response.get_data() == original


def test_an_unreachable_object_store_is_a_503_in_json_not_a_crash(s3_settings):
    audio, token = _station_audio(s3_settings)
    (s3_settings.audio_dir / audio.path).unlink()
    down = replace(s3_settings, s3_endpoint_url=f"http://127.0.0.1:{free_port()}")
    response = _api_get(down, audio, token)
    assert response.status_code == 503 and response.get_json()["status"] == 503
