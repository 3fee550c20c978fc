"""The video page, its files and the API's video fields (issue #15): the player with frame
stepping and the keyframe strip, a keyframe compared with a photo and downloaded, outsiders
answered 404, a protected source's video shown through the Reader (no name, no recorded
location below editor), uploads through both doors."""

import io
import re

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from evidence.models import Evidence, Video
from evidence.services.evidence import evidence_ingest, photo_ingest
from tests.api.conftest import token_client
from tests.factories import ProtectedSourceFactory
from tests.images import upload
from tests.videos import iphone_tags, make_video, scene_frame

pytestmark = pytest.mark.django_db

# The location atom of the videos below: a protected source's must never show below editor.
LOCATION = "+40.1200+124.3900+012.500/"


@pytest.fixture
def video(personas, django_capture_on_commit_callbacks) -> Video:
    data = make_video(
        seconds=4.0,
        cuts=(2.0,),
        fmt="mov",
        metadata=iphone_tags(location=LOCATION),
        quicktime_tags=True,
        audio=True,
    )
    with django_capture_on_commit_callbacks(execute=True):
        evidence, _ = evidence_ingest(
            actor=personas.reporter,
            case=personas.case,
            file=upload(data, "IMG_0042.MOV", "video/quicktime"),
        )
    return Video.objects.get(pk=evidence.pk)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_video_page_has_player_frame_stepping_and_keyframe_strip(personas, video):
    response = logged_in(personas.viewer).get(reverse("web:evidence_detail", args=[video.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-video-player data-frame-rate="25.0"' in html
    assert f'src="/evidence/{video.pk}/video/preview/"' in html
    assert html.count('class="keyframe" data-seek=') == 2
    assert 'data-seek="2.000"' in html
    assert 'data-step="1"' in html and 'data-step="-1"' in html
    assert "/static/js/video.js" in html
    # CSP: no inline script, no inline style.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert " style=" not in html
    # Metadata, flags, custody.
    assert "iPhone 15" in html and "0:04.000" in html
    assert "No device metadata" not in html and "Edited or re-encoded" in html
    assert "video.processed" in html or "processed" in html


@pytest.mark.parametrize(
    "path",
    [
        "web:evidence_detail",
        ("web:video_file", "preview"),
        ("web:video_file", "poster"),
        ("web:video_file", "contact-sheet"),
        ("web:video_keyframe", 0),
        ("web:video_keyframe_thumbnail", 1),
    ],
)
def test_outsiders_get_404_members_get_the_files(personas, video, path):
    name, *extra = path if isinstance(path, tuple) else (path,)
    url = reverse(name, args=[video.pk, *extra])
    assert logged_in(personas.outsider).get(url).status_code == 404
    response = logged_in(personas.viewer).get(url)
    assert response.status_code == 200
    if name != "web:evidence_detail":
        assert response["Cache-Control"] == "private, no-store"
        assert response["X-Content-Type-Options"] == "nosniff"


def test_a_keyframe_downloads_as_a_jpeg_named_by_its_time(personas, video):
    url = reverse("web:video_keyframe", args=[video.pk, 1]) + "?download=1"
    response = logged_in(personas.viewer).get(url)
    assert response["Content-Type"] == "image/jpeg"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert f"evidence-{video.pk}-keyframe-01-0m02.000s.jpg" in disposition
    image = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert image.format == "JPEG" and image.size == (320, 240)


def test_a_keyframe_compares_with_a_photo(personas, video, django_capture_on_commit_callbacks):
    out = io.BytesIO()
    Image.fromarray(scene_frame(1, 0, 320, 240)).save(out, "JPEG", quality=90)
    with django_capture_on_commit_callbacks(execute=True):
        photo, _ = photo_ingest(
            actor=personas.reporter, case=personas.case, file=upload(out.getvalue())
        )
    keyframe = video.keyframes.get(index=1)
    page = (
        logged_in(personas.viewer)
        .get(reverse("web:evidence_detail", args=[video.pk]))
        .content.decode()
    )
    assert f"?k={keyframe.pk}&b={photo.pk}" in page  # the match, with a Compare link
    response = logged_in(personas.viewer).get(
        reverse("web:photo_compare", args=[personas.case.pk]) + f"?k={keyframe.pk}&b={photo.pk}"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "the frame at 0:02.000" in html
    assert f'src="/evidence/{video.pk}/keyframes/1/"' in html
    assert "pHash distance <strong>" in html
    # The photo's page names the video it appears in.
    photo_page = logged_in(personas.viewer).get(reverse("web:evidence_detail", args=[photo.pk]))
    assert "In videos" in photo_page.content.decode()
    # Another case's keyframe is not found.
    assert (
        logged_in(personas.outsider)
        .get(reverse("web:photo_compare", args=[personas.case.pk]) + f"?k={keyframe.pk}")
        .status_code
        == 404
    )


def test_api_carries_the_video_fields_keyframes_and_urls(personas, video):
    client = token_client(personas.viewer)
    body = client.get(reverse("api:evidence-detail", kwargs={"pk": video.pk})).json()
    assert body["kind"] == "video" and body["status"] == "ready"
    assert (body["width"], body["height"], body["camera_model"]) == (320, 240, "iPhone 15")
    assert body["taken_at"] == "2025-05-14T16:30:00+08:00"
    assert (body["gps_latitude"], body["gps_longitude"]) == (40.12, 124.39)
    own = body["video"]
    assert own["duration"] == pytest.approx(4.0, abs=0.05)
    assert (own["video_codec"], own["audio_codec"], own["frame_rate"]) == ("h264", "aac", 25.0)
    assert own["tags"] is None  # the full tags are for editors
    assert [k["time"] for k in own["keyframes"]] == [0.0, 2.0]
    assert own["keyframes"][1]["timecode"] == "0:02.000"
    assert body["thumbnail_url"] == own["poster_url"]
    for url in (own["poster_url"], own["preview_url"], own["keyframes"][1]["image_url"]):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Cache-Control"] == "private, no-store"
    assert client.get(own["preview_url"])["Content-Type"] == "video/mp4"
    assert token_client(personas.outsider).get(own["poster_url"]).status_code == 404
    editor = token_client(personas.editor).get(
        reverse("api:evidence-detail", kwargs={"pk": video.pk})
    )
    assert editor.json()["video"]["tags"]["com.apple.quicktime.model"] == "iPhone 15"
    photos = token_client(personas.viewer).get(
        reverse("api:case-evidence", kwargs={"case_id": personas.case.pk}) + "?kind=video"
    )
    assert [item["id"] for item in photos.json()["results"]] == [video.pk]


def test_a_protected_sources_video_hides_its_location_and_name_below_editor(
    personas, django_capture_on_commit_callbacks
):
    source = ProtectedSourceFactory(case=personas.case)
    data = make_video(
        seconds=2.0, fmt="mov", metadata=iphone_tags(location=LOCATION), quicktime_tags=True
    )
    with django_capture_on_commit_callbacks(execute=True):
        evidence, _ = evidence_ingest(
            actor=personas.editor,
            case=personas.case,
            file=upload(data, "clip.mov"),
            source=source,
            latitude=40.0,
            longitude=124.0,
        )
    api_url = reverse("api:evidence-detail", kwargs={"pk": evidence.pk})
    page_url = reverse("web:evidence_detail", args=[evidence.pk])
    for user in (personas.viewer, personas.reporter):
        body = token_client(user).get(api_url).json()
        assert body["gps_latitude"] is None and body["latitude"] is None
        assert body["source_name"] == source.pseudonym
        assert body["video"]["tags"] is None
        text = token_client(user).get(api_url).content.decode()
        page = logged_in(user).get(page_url).content.decode()
        for leaked in (source.name, "40.12", "124.39", "ISO6709"):
            assert leaked not in text and leaked not in page, (user, leaked)
    body = token_client(personas.editor).get(api_url).json()
    assert (body["gps_latitude"], body["source_name"]) == (40.12, source.name)


def test_uploaded_through_the_page_and_the_api(personas, settings):
    settings.CASEFILE_MAX_UPLOAD_BYTES = 1024  # a video may still be larger than other files
    data = make_video(seconds=1.0)
    client = logged_in(personas.reporter)
    response = client.post(
        reverse("web:evidence_upload", args=[personas.case.pk]),
        {"file": upload(data, "clip.mp4", "video/mp4")},
    )
    assert response.status_code == 201, response.content
    assert response.json()["message"] == "Uploaded — processing"
    api = token_client(personas.reporter).post(
        reverse("api:case-evidence", kwargs={"case_id": personas.case.pk}),
        {"file": upload(make_video(seconds=1.0, seed=2), "clip.webm"), "kind": "video"},
        format="multipart",
    )
    assert api.status_code == 201, api.content
    assert api.json()["kind"] == "video"
    # Other files still stop at the general limit.
    refused = client.post(
        reverse("web:evidence_upload", args=[personas.case.pk]),
        {"file": upload(b"x" * 4096, "notes.txt", "text/plain")},
    )
    assert refused.status_code == 413
    assert Evidence.objects.filter(kind="video").count() == 2


def test_the_preview_answers_byte_ranges_so_the_player_can_seek(personas, video):
    url = reverse("web:video_file", args=[video.pk, "preview"])
    client = logged_in(personas.viewer)
    whole = b"".join(client.get(url).streaming_content)
    part = client.get(url, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-199/{len(whole)}"
    assert b"".join(part.streaming_content) == whole[100:200]
    assert part["Cache-Control"] == "private, no-store"
    tail = client.get(url, HTTP_RANGE="bytes=-10")
    assert b"".join(tail.streaming_content) == whole[-10:]
    assert client.get(url, HTTP_RANGE=f"bytes={len(whole)}-").status_code == 416
    api = token_client(personas.viewer).get(
        reverse("api:evidence-video-preview", kwargs={"pk": video.pk}), HTTP_RANGE="bytes=0-9"
    )
    assert api.status_code == 206 and b"".join(api.streaming_content) == whole[:10]
