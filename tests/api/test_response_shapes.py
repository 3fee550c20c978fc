"""Every object a response carries has the keys its schema component declares, no more and no
fewer, nested objects and list items included: a key added to an output without a line in the
schema fails here (the schema closes every response object, `api.schema.close_response_objects`,
so it would be a schema violation too).

One populated case is built once for the module and every endpoint that answers JSON is called
on it, as a viewer (protected identities hidden) and as an editor (revealed): a processed photo
with EXIF, flags, a near-duplicate, thumbnail and preview; a protected source; testimony, a web
link and a document; claims with links of every stance, reviewed; comments, one edited; a phone
photo (MPF, IPTC, XMP history) and one with broken Content Credentials; the activity record;
custody records, one of deleted and purged evidence; exports; tokens. Each
object component of a response, as read from the schema, is one test: a new output serializer
has a test at once, which fails until some call here renders it.
"""

import io
import json
from collections import defaultdict
from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import TestCase, override_settings
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from PIL import Image

from api.schema import FREE_FORM
from cases.models import Role
from cases.services import claim_submit
from cases.tokens import token_create
from evidence.models import Capture, CaptureFile, KeyframeMatch, PhotoMatch, VideoMatch
from evidence.services.comments import comment_create
from evidence.services.evidence import photo_ingest, video_ingest
from evidence.services.links import evidence_link
from evidence.services.timestamps import timestamps_fill_due
from tests.api.conftest import token_client
from tests.c2pa_signing import signed_jpeg, tampered
from tests.conftest import Personas
from tests.custody_case import custody_case
from tests.factories import CaseFactory, MembershipFactory, UserFactory
from tests.images import history_xmp, jpeg_bytes, mpo_bytes, upload, with_iptc
from tests.texts import jpeg_of, sign_picture
from tests.tsa import TestTsa
from tests.videos import iphone_tags, make_video, scene_frame

# The database is set up for the tests that ask for it: these do (the module's world needs it).
pytestmark = pytest.mark.django_db


def _schema() -> dict:
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document))


SCHEMA = _schema()
COMPONENTS = SCHEMA["components"]["schemas"]


def _name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _is_object(schema: dict) -> bool:
    return schema.get("type") == "object" or "properties" in schema


def response_components() -> list[str]:
    """The object components that some response reaches (through lists and nested objects),
    except those open on purpose (`x-free-form`: the error shape)."""
    found: set[str] = set()

    def reach(schema) -> None:
        if isinstance(schema, dict):
            if "$ref" in schema:
                name = _name(schema["$ref"])
                if name not in found:
                    found.add(name)
                    reach(COMPONENTS[name])
                return
            for value in schema.values():
                reach(value)
        elif isinstance(schema, list):
            for value in schema:
                reach(value)

    for operations in SCHEMA["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict):
                reach(operation.get("responses"))
    return sorted(
        name for name in found if _is_object(COMPONENTS[name]) and FREE_FORM not in COMPONENTS[name]
    )


# --- Checking a response against its schema --------------------------------------------------


@dataclass
class Seen:
    """What the calls rendered, by component: the objects (with where, and whether protected
    identities were revealed), and every key that was not declared or was missing."""

    objects: dict = field(default_factory=lambda: defaultdict(list))
    problems: dict = field(default_factory=lambda: defaultdict(list))
    calls: list = field(default_factory=list)

    def check(self, value, schema: dict, *, at: str, component: str, reveal: bool) -> None:
        if value is None:
            return
        if "$ref" in schema:
            name = _name(schema["$ref"])
            target = COMPONENTS[name]
            if isinstance(value, dict) and _is_object(target):
                self.objects[name].append((at, reveal, value))
                component = name
            self.check(value, target, at=at, component=component, reveal=reveal)
            return
        for part in schema.get("allOf", ()):
            self.check(value, part, at=at, component=component, reveal=reveal)
        for key in ("oneOf", "anyOf"):
            branches = schema.get(key, ())
            # Only enums are alternatives today; an object among them needs a rule here.
            assert not isinstance(value, dict | list) or not branches, (at, key)
        if isinstance(value, dict):
            if FREE_FORM in schema:
                return
            if not _is_object(schema) and "allOf" in schema:
                return  # the object is checked against the component the allOf names
            declared = schema.get("properties", {})
            extra = sorted(set(value) - set(declared))
            missing = sorted(set(schema.get("required", ())) - set(value))
            if extra:
                self.problems[component].append(f"{at}: undeclared keys {extra}")
            if missing:
                self.problems[component].append(f"{at}: missing keys {missing}")
            for key in set(value) & set(declared):
                self.check(
                    value[key], declared[key], at=f"{at}.{key}", component=component, reveal=reveal
                )
        elif isinstance(value, list) and "items" in schema:
            for i, item in enumerate(value):
                self.check(
                    item, schema["items"], at=f"{at}[{i}]", component=component, reveal=reveal
                )

    def response(self, response, *, template: str, method: str, reveal: bool) -> None:
        """Check a response against the schema of its operation and status code."""
        operation = SCHEMA["paths"][template][method.lower()]
        code = str(response.status_code)
        assert code in operation["responses"], (template, method, code)
        content = operation["responses"][code].get("content", {})
        schema = content["application/json"]["schema"]
        at = f"{method} {template} {code} ({'revealed' if reveal else 'hidden'})"
        self.calls.append((template, method.lower()))
        self.check(response.json(), schema, at=at, component=at, reveal=reveal)


# --- The world, built and called once --------------------------------------------------------

REVEALED = ("editor", "owner")
READERS = ("viewer", "editor")  # every read is made hidden and revealed


def _personas() -> Personas:
    owner = UserFactory(username="alice")
    case = CaseFactory(title="The Dandong freight train", created_by=owner)
    people = {"owner": owner}
    MembershipFactory(case=case, user=owner, role=Role.OWNER)
    for role, name in (("editor", "erin"), ("reporter", "bob"), ("viewer", "victor")):
        people[role] = UserFactory(username=name)
        MembershipFactory(case=case, user=people[role], role=role, added_by=owner)
    people["outsider"] = UserFactory(username="charlie")
    return Personas(case=case, **people)


def _call_everything(seen: Seen) -> None:
    capture = TestCase.captureOnCommitCallbacks
    personas = _personas()
    case = personas.case
    things = custody_case(personas, capture=capture)
    with capture(execute=True):
        # A near-duplicate of the public photo (the same scene, smaller), from the protected
        # source; a photo edited in software (a flag); a document.
        duplicate, _ = photo_ingest(
            actor=personas.reporter,
            case=case,
            file=upload(jpeg_bytes(seed=2, size=(480, 360), software="Adobe Photoshop"), "d.jpg"),
            source=things.protected,
            title="The loaded train again",
        )
    assert PhotoMatch.objects.filter(case=case).exists(), "no near-duplicate found"
    with capture(execute=True):
        # A phone photo with an MPF image, IPTC and an XMP editing history; a picture whose
        # Content Credentials (with an ingredient) were broken by an edit after signing.
        history = history_xmp(("created", "2024-05-14T09:30:00+08:00", "Camera app"))
        phone, _ = photo_ingest(
            actor=personas.reporter,
            case=case,
            file=upload(
                with_iptc(
                    mpo_bytes(21, xmp=history),
                    byline="Newsroom photographer",
                    keywords=["train", "Dandong"],
                    city="Dandong",
                ),
                "phone.jpg",
            ),
        )
        credentialed, _ = photo_ingest(
            actor=personas.reporter,
            case=case,
            file=upload(
                tampered(signed_jpeg(jpeg_bytes(seed=23), ai=True, ingredient=jpeg_bytes(seed=24))),
                "generated.jpg",
            ),
        )
    # The same bytes as the loaded train from another source (a second provenance); the
    # near-duplicate and the phone photo support "arrived": a claim whose corroboration has a
    # line of near-duplicates, a flagged item and a file from two sources.
    again, created = photo_ingest(
        actor=personas.editor,
        case=case,
        file=upload(
            jpeg_bytes(seed=2, taken_at="2024:05:14 09:30:00", offset="+08:00", make="Nikon"),
            "copy.jpg",
        ),
        source=things.protected,
    )
    assert again == things.public_photo and not created
    for item in (duplicate, things.public_photo, phone):
        evidence_link(
            actor=personas.reporter, claim=things.arrived, evidence=item, stance="supports"
        )
    # A photo of a sign, its text read (OCR, after ready): words with their boxes.
    with override_settings(CASEFILE_OCR=True), capture(execute=True):
        photo_ingest(
            actor=personas.reporter,
            case=case,
            file=upload(jpeg_of(sign_picture((800, 600))), "sign.jpg"),
        )
    with capture(execute=True):
        # Issue #15: a video, the same video re-encoded from another source, and a photo of
        # one of its frames: keyframes, both kinds of near-duplicate, the full tags (editors).
        clip = dict(seconds=3.0, cuts=(1.5,), seed=7)
        video_ingest(
            actor=personas.reporter,
            case=case,
            file=upload(
                make_video(**clip, fmt="mov", metadata=iphone_tags(), quicktime_tags=True),
                "clip.mov",
            ),
            source=things.protected,
        )
        video_ingest(
            actor=personas.reporter,
            case=case,
            file=upload(make_video(**clip, width=480, height=360, audio=True), "copy.mp4"),
        )
        still = io.BytesIO()
        Image.fromarray(scene_frame(7001, 0, 640, 480)).save(still, "JPEG", quality=90)
        photo_ingest(actor=personas.reporter, case=case, file=upload(still.getvalue(), "still.jpg"))
    assert VideoMatch.objects.filter(case=case).exists(), "no video near-duplicate found"
    assert KeyframeMatch.objects.filter(case=case).exists(), "no keyframe near-duplicate found"
    claim_submit(actor=personas.reporter, claim=things.arrived)
    comment = comment_create(actor=personas.reporter, claim=things.arrived, text="Check this")
    comment_create(actor=personas.reporter, evidence=things.secret_photo, text="Same cars?")
    clients = {role: token_client(personas.by_role(role)) for role in Role.values}

    def call(role, method, template, *, status=200, body=None, files=False, **ids):
        url = template.format(**{"case_id": case.pk, **ids})
        client = clients[role]
        send = getattr(client, method.lower())
        if files:
            response = send(url, body, format="multipart")
        elif body is not None:
            response = send(url, body, format="json")
        else:
            response = send(url)
        assert response.status_code == status, (method, url, role, response.content[:300])
        seen.response(response, template=template, method=method, reveal=role in REVEALED)
        return response.json()

    def read(template, **ids):
        for role in READERS:
            call(role, "GET", template, **ids)

    # Writes, each rendering its output serializer (the reads below then find their objects).
    for role in ("viewer", "editor"):
        user = personas.by_role(role)
        body = {"username": user.username, "password": "pass-word-123", "name": "script"}
        call(role, "POST", "/api/v1/auth/token/", status=201, body=body)
    other = call("owner", "POST", "/api/v1/cases/", status=201, body={"title": "Another case"})
    call(
        "owner",
        "PATCH",
        "/api/v1/cases/{case_id}/",
        body={"summary": "Moved."},
        case_id=other["id"],
    )
    call(
        "owner",
        "POST",
        "/api/v1/cases/{case_id}/members/",
        status=201,
        body={"username": "charlie", "role": "viewer"},
    )
    call(
        "owner",
        "PATCH",
        "/api/v1/cases/{case_id}/members/{user_id}/",
        body={"role": "reporter"},
        user_id=personas.outsider.pk,
    )
    source = call(
        "reporter",
        "POST",
        "/api/v1/cases/{case_id}/sources/",
        status=201,
        body={"kind": "publication", "name": "Daily News"},
    )
    call("editor", "PATCH", "/api/v1/sources/{id}/", body={"reliability": "B"}, id=source["id"])
    call(
        "editor",
        "PATCH",
        "/api/v1/sources/{id}/",
        body={"notes": "Met twice."},
        id=things.protected.pk,
    )
    document = call(
        "reporter",
        "POST",
        "/api/v1/cases/{case_id}/evidence/",
        status=201,
        files=True,
        body={
            "kind": "document",
            "file": SimpleUploadedFile("notes.txt", b"Timetable notes\n", "text/plain"),
            "source": things.protected.pk,
        },
    )
    call(
        "reporter",
        "PATCH",
        "/api/v1/evidence/{id}/",
        body={"title": "Timetable notes"},
        id=document["id"],
    )
    with capture(execute=True):
        # A photo whose processing fails (the file is cut short), and is tried again.
        broken, _ = photo_ingest(
            actor=personas.reporter,
            case=case,
            file=upload(jpeg_bytes(seed=6)[:3000], "broken.jpg"),
        )
    with capture(execute=True):
        call("reporter", "POST", "/api/v1/evidence/{id}/reprocess/", status=202, id=broken.pk)
    claim = call(
        "reporter",
        "POST",
        "/api/v1/cases/{case_id}/claims/",
        status=201,
        body={"statement": "The cars were empty", "occurred_on": "2024-05-25"},
    )
    call(
        "reporter", "PATCH", "/api/v1/claims/{id}/", body={"details": "Seen twice."}, id=claim["id"]
    )
    link = call(
        "reporter",
        "POST",
        "/api/v1/claims/{id}/links/",
        status=201,
        body={"evidence": things.secret_photo.pk, "stance": "supports", "note": "Empty"},
        id=claim["id"],
    )
    call("reporter", "PATCH", "/api/v1/links/{id}/", body={"note": "Empty cars"}, id=link["id"])
    call("reporter", "POST", "/api/v1/claims/{id}/submit/", body={}, id=claim["id"])
    call(
        "editor",
        "POST",
        "/api/v1/claims/{id}/review/",
        body={"decision": "supported", "note": "The photo shows it."},
        id=claim["id"],
    )
    call(
        "reporter",
        "POST",
        "/api/v1/claims/{id}/comments/",
        status=201,
        body={"text": "Agreed"},
        id=claim["id"],
    )
    call(
        "reporter",
        "POST",
        "/api/v1/evidence/{id}/comments/",
        status=201,
        body={"text": "Which platform?"},
        id=things.public_photo.pk,
    )
    call("reporter", "PATCH", "/api/v1/comments/{id}/", body={"text": "Check it"}, id=comment.pk)
    # Deleted, then purged: its custody record carries the tombstone.
    with capture(execute=True):
        gone, _ = photo_ingest(
            actor=personas.reporter,
            case=case,
            file=upload(jpeg_bytes(seed=5, gps=(40.1, 124.3)), "gone.jpg"),
            source=things.protected,
        )
    call("editor", "DELETE", "/api/v1/evidence/{id}/", body={"reason": "Duplicate"}, id=gone.pk)
    call("owner", "POST", "/api/v1/evidence/{id}/purge/", id=gone.pk)
    with capture(execute=True):
        export = call(
            "owner",
            "POST",
            "/api/v1/cases/{case_id}/exports/",
            status=202,
            body={"originals": True, "reveal_protected": True},
        )
    with capture(execute=True):
        call("editor", "POST", "/api/v1/cases/{case_id}/exports/", status=202, body={})
    # Trusted timestamps from a real TSA (tests/tsa.py) for every checkpoint and original, so
    # that the custody records render them.
    with (
        TestTsa() as tsa,
        override_settings(CASEFILE_TSA_URL=tsa.url, CASEFILE_TSA_CA_FILE=str(tsa.ca_file)),
    ):
        assert timestamps_fill_due() > 0

    # The desk: assignments (each notifies), a mention, the notifications and the inbox.
    call(
        "reporter",
        "POST",
        "/api/v1/claims/{id}/assign/",
        body={"assignee": "victor"},
        id=things.arrived.pk,
    )
    call(
        "reporter",
        "POST",
        "/api/v1/evidence/{id}/assign/",
        body={"assignee": "erin"},
        id=things.secret_photo.pk,
    )
    call(
        "editor",
        "POST",
        "/api/v1/evidence/{id}/assign/",
        body={"assignee": "bob"},
        id=things.link.pk,
    )
    comment_create(actor=personas.reporter, claim=things.arrived, text="@erin @victor see this")
    read("/api/v1/notifications/")
    call("editor", "GET", "/api/v1/review/")
    call("viewer", "POST", "/api/v1/notifications/read/", body={"ids": [1]})
    call("editor", "POST", "/api/v1/notifications/read/", body={})

    # Scripts (issue #17): a token for one case; a webhook, switched off and on (its log
    # holds the delivery of the comment below); imports, a preview with errors and one applied.
    body = {"username": "alice", "password": "pass-word-123", "cases": [case.pk], "scope": "read"}
    call("owner", "POST", "/api/v1/auth/token/", status=201, body=body)
    with override_settings(CASEFILE_WEBHOOK_ALLOW_HOSTS="127.0.0.1:9"):
        hook = call(
            "owner",
            "POST",
            "/api/v1/cases/{case_id}/webhooks/",
            status=201,
            body={"url": "http://127.0.0.1:9/hook", "events": ["comment.created"]},
        )
    hook_url = "/api/v1/cases/{case_id}/webhooks/{id}/"
    call("owner", "PATCH", hook_url, body={"active": False}, id=hook["id"])
    call("owner", "PATCH", hook_url, body={"active": True}, id=hook["id"])
    call("owner", "GET", hook_url, id=hook["id"])
    comment_create(actor=personas.reporter, claim=things.arrived, text="For the webhook")
    call("owner", "GET", "/api/v1/cases/{case_id}/webhooks/")
    call("owner", "GET", hook_url + "deliveries/", id=hook["id"])
    rows = "url,title\nhttps://example.org/a,A page\nnot a url,=1+1\n"
    for role, apply, code, text in (
        ("reporter", "false", 200, rows),
        ("editor", "false", 200, rows),
        ("editor", "true", 201, "url,title\nhttps://example.org/b,B page\n"),
    ):
        call(
            role,
            "POST",
            "/api/v1/cases/{case_id}/imports/",
            status=code,
            files=True,
            body={
                "file": SimpleUploadedFile("rows.csv", text.encode()),
                "kind": "link",
                "apply": apply,
            },
        )

    # Search (issue #17): words across the cases one reads, and "where else is this picture?"
    for role in READERS:
        call(role, "GET", "/api/v1/search/", body={"q": "train"})
    for role in READERS:
        body = {"evidence": things.public_photo.pk}
        call(role, "POST", "/api/v1/search/image/", files=True, body=body)
    # Reads, hidden and revealed; each persona also holds a token limited to the case.
    for role in Role.values:
        token_create(user=personas.by_role(role), cases=[case.pk], scope="read")
    read("/api/v1/auth/tokens/")
    read("/api/v1/cases/")
    read("/api/v1/cases/{case_id}/")
    read("/api/v1/cases/{case_id}/members/")
    read("/api/v1/cases/{case_id}/sources/")
    read("/api/v1/sources/{id}/", id=things.protected.pk)
    # The web link's page, captured through a redirect, with a file and an image found on it
    # (the capture job itself is tests/evidence/test_capture.py); then asked for again.
    captured = Capture.objects.create(
        evidence=things.link,
        requested_by=personas.reporter,
        status="ready",
        final_url="https://news.example.org/2024/april-report",
        http_status=200,
        title="April report",
        redirects=["https://news.example.org/april-report"],
        tls={"subject": "commonName=news.example.org", "issuer": "commonName=Example CA"},
        captured_at=things.link.created_at,
    )
    captured.media.set([things.public_photo])
    CaptureFile.objects.create(
        capture=captured,
        role="screenshot",
        name="screenshot.png",
        file="captures/00/00/screenshot",
        sha256="0" * 64,
        size=10,
        content_type="image/png",
    )
    read("/api/v1/evidence/{id}/captures/", id=things.link.pk)
    call("reporter", "POST", "/api/v1/evidence/{id}/capture/", status=202, id=things.link.pk)
    read("/api/v1/cases/{case_id}/evidence/")
    for item in (
        things.secret_photo,
        things.public_photo,
        things.testimony,
        things.link,
        phone,
        credentialed,
    ):
        read("/api/v1/evidence/{id}/", id=item.pk)
    read("/api/v1/evidence/{id}/similar/", id=things.public_photo.pk)
    read("/api/v1/evidence/{id}/similar/", id=duplicate.pk)
    read("/api/v1/evidence/{id}/comments/", id=things.secret_photo.pk)
    read("/api/v1/evidence/{id}/custody/", id=things.secret_photo.pk)
    read("/api/v1/evidence/{id}/custody/", id=gone.pk)
    read("/api/v1/cases/{case_id}/claims/")
    for item in (things.never_left, things.arrived):
        read("/api/v1/claims/{id}/", id=item.pk)
        read("/api/v1/claims/{id}/links/", id=item.pk)
        read("/api/v1/claims/{id}/history/", id=item.pk)
        read("/api/v1/claims/{id}/comments/", id=item.pk)
    read("/api/v1/links/{id}/", id=link["id"])
    read("/api/v1/comments/{id}/", id=comment.pk)
    read("/api/v1/cases/{case_id}/activity/")
    # Exports are for editors and owners.
    for role in REVEALED:
        call(role, "GET", "/api/v1/cases/{case_id}/exports/")
        call(role, "GET", "/api/v1/exports/{id}/", id=export["id"])


@pytest.fixture(scope="module")
def seen(django_db_setup, django_db_blocker, tmp_path_factory) -> Seen:
    """Build the world and make every call once for the module, in a transaction that is then
    rolled back (nothing stays for other tests)."""
    from config.celery import app

    seen = Seen()
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    media = tmp_path_factory.mktemp("media")
    hashers = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    try:
        with (
            django_db_blocker.unblock(),
            override_settings(MEDIA_ROOT=media, PASSWORD_HASHERS=hashers),
            transaction.atomic(),
        ):
            _call_everything(seen)
            transaction.set_rollback(True)
    finally:
        app.conf.task_always_eager = eager
        from django.core.cache import cache

        cache.clear()
    return seen


# Seen only revealed: no reader below editor gets an answer with them.
# Webhooks are their owners'; the review inbox is for those who review: editors and owners.
REVEALED_ONLY = {
    "Export",
    "PaginatedExportList",
    "Webhook",
    "WebhookCreated",
    "PaginatedWebhookList",
    "Delivery",
    "PaginatedDeliveryList",
    "ReviewInboxItem",
}


@pytest.mark.parametrize("component", response_components())
def test_every_rendered_object_has_exactly_its_declared_keys(seen, component):
    schema = COMPONENTS[component]
    rendered = seen.objects.get(component, [])
    assert rendered, f"No call renders {component}: add one to _call_everything."
    problems = seen.problems.get(component, [])
    assert not problems, "\n".join(problems)
    # Fully populated: every declared key was rendered, and every nested object or list held
    # something at least once, so that what is inside it was checked too.
    declared = schema.get("properties", {})
    keys = set().union(*(value.keys() for _, _, value in rendered))
    assert keys == set(declared), sorted(keys ^ set(declared))
    for key, child in declared.items():
        if "$ref" in child or "allOf" in child or child.get("type") in ("object", "array"):
            assert any(value.get(key) for _, _, value in rendered), f"{component}.{key} empty"
    reveals = {reveal for _, reveal, _ in rendered}
    assert reveals == ({True} if component in REVEALED_ONLY else {True, False}), reveals


def test_every_operation_that_answers_json_is_called(seen):
    answering = {
        (path, method)
        for path, operations in SCHEMA["paths"].items()
        for method, operation in operations.items()
        if isinstance(operation, dict)
        and any(
            code.startswith("2") and "application/json" in response.get("content", {})
            for code, response in operation["responses"].items()
        )
    }
    assert answering - set(seen.calls) == set()
    # Objects outside any component (inline in an operation's response) are checked too.
    inline = {name: found for name, found in seen.problems.items() if name not in COMPONENTS}
    assert not inline, inline
