"""Camera stream URLs → how a browser plays them; simulated frames."""
from __future__ import annotations

import io

import pytest

from dashboard.services.cameras import FRAME_SIZE, play_spec, render_frame


@pytest.mark.parametrize("url, kind, src", [
    ("sim://CAM007", "mjpeg", "/cameras/CAM007/mjpeg"),
    ("sim://", "mjpeg", "/cameras/C1/mjpeg"),
    ("http://10.1.2.3/live/c1/index.m3u8", "hls", "http://10.1.2.3/live/c1/index.m3u8"),
    ("https://nvr.lan/hls/c1.m3u8?token=x", "hls", "https://nvr.lan/hls/c1.m3u8?token=x"),
    ("http://10.1.2.3/cgi-bin/snapshot.cgi?ch=1", "snapshot", "http://10.1.2.3/cgi-bin/snapshot.cgi?ch=1"),
    ("http://10.1.2.3/still.JPG", "snapshot", "http://10.1.2.3/still.JPG"),
    ("http://10.1.2.3/mjpg/video.mjpg", "mjpeg", "http://10.1.2.3/mjpg/video.mjpg"),
    ("rtsp://10.1.2.3/stream1", "none", None),
    ("", "none", None),
])
def test_play_spec(url, kind, src):
    spec = play_spec("C1", url)
    assert spec["type"] == kind and spec["url"] == src


def test_frames_are_small_jpegs_that_change_over_time():
    from PIL import Image

    a = render_frame("CAM1", "西五路口", "兴乐社区第01网格", tick=0.0)
    b = render_frame("CAM1", "西五路口", "兴乐社区第01网格", tick=1.5)
    assert a[:2] == b"\xff\xd8" and len(a) < 30_000
    assert Image.open(io.BytesIO(a)).size == FRAME_SIZE
    assert a != b  # the vehicle moved
