"""A stream is checked by connecting to it and decoding audio: real icecast2, real HLS."""

from __future__ import annotations

import pytest

from broadcaster.audio.streamcheck import StreamCheckError, check_stream
from tests._icecast import running_hls, serving_folder
from tests.helpers import free_port


def test_it_hears_a_live_mp3_and_aac_stream(icecast):
    mp3 = icecast.feed("/vov1.mp3")
    aac = icecast.feed("/hue.aac", codec="aac", bitrate="48k")
    heard = check_stream(mp3.url, seconds=1)
    assert (heard.kind, heard.codec, heard.bitrate_kbps) == ("mp3", "mp3", 64)
    assert heard.seconds >= 0.9
    assert check_stream(aac.url, seconds=1).kind == "aac"


def test_it_hears_an_hls_playlist_and_refuses_one_without_audio(tmp_path):
    with running_hls(tmp_path / "with") as stream:
        heard = check_stream(stream.url, seconds=1)
    assert (heard.kind, heard.codec) == ("hls", "aac")
    with running_hls(tmp_path / "without", audio=False) as stream:
        with pytest.raises(StreamCheckError) as refused:
            check_stream(stream.url, seconds=1)
    assert refused.value.code == "stream_playlist_without_audio"


def test_it_refuses_a_mount_nobody_feeds_and_a_port_nobody_listens_on(icecast):
    for url in (f"{icecast.url}/silent.mp3", f"http://127.0.0.1:{free_port()}/x.mp3"):
        with pytest.raises(StreamCheckError) as refused:
            check_stream(url, seconds=1, timeout_s=2)
        assert refused.value.code == "stream_unreachable", url


def test_it_refuses_a_web_page_and_a_non_http_address(tmp_path):
    (tmp_path / "index.html").write_text("<html><body>Đài phát thanh</body></html>")
    with serving_folder(tmp_path) as base:
        with pytest.raises(StreamCheckError) as refused:
            check_stream(f"{base}/index.html", seconds=1, timeout_s=2)
    assert refused.value.code == "stream_not_audio"
    for url in ("file:///etc/passwd", "rtmp://127.0.0.1/live", "vov1"):
        with pytest.raises(StreamCheckError) as refused:
            check_stream(url)
        assert refused.value.code == "stream_bad_url"
