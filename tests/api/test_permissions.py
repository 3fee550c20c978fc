"""Every endpoint and method of the API, called as each persona, gets the status its rule says.

The endpoints are read from the URL conf: a new endpoint (or a new method on one) without an
entry in RULES fails `test_every_endpoint_has_a_rule`, and is then called for every persona.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import URLPattern, URLResolver, reverse
from django.utils import timezone

from api import urls as api_urls
from cases.models import Claim, Role
from cases.tokens import token_create
from evidence.models import (
    Capture,
    CaptureFile,
    Comment,
    Evidence,
    EvidenceLink,
    Photo,
    Video,
    VideoKeyframe,
)
from tests.api.conftest import token_client
from tests.conftest import make_personas
from tests.factories import (
    ClaimFactory,
    LinkEvidenceFactory,
    MembershipFactory,
    SourceFactory,
    UserFactory,
)
from tests.images import jpeg_bytes
from tests.snapshot import session_snapshot

PERSONAS = ("anonymous", "outsider", "viewer", "reporter", "editor", "owner")
RANK = {"viewer": 0, "reporter": 1, "editor": 2, "owner": 3}
PASSWORD = "pass-word-123"  # noqa: S105 (the factories' test password)


@dataclass
class World:
    personas: object
    member: object  # a viewer whom the member endpoints change
    newcomer: object  # an account in no case
    source: object
    photo: Evidence
    draft: Claim
    in_review: Claim
    link: EvidenceLink
    comment: Comment
    objects: dict = field(default_factory=dict)


def build_world() -> World:
    personas = make_personas()
    case, reporter = personas.case, personas.reporter
    member = UserFactory(username="mallory")
    MembershipFactory(case=case, user=member, role=Role.VIEWER)
    source = SourceFactory(case=case, created_by=reporter)
    data = jpeg_bytes(seed=3)
    sha = "ab" * 32
    photo = Evidence.objects.create(
        case=case,
        kind=Evidence.Kind.PHOTO,
        collected_by=reporter,
        source=source,
        original=default_storage.save(f"originals/ab/ab/{sha}", ContentFile(data)),
        original_name="train.jpg",
        sha256=sha,
        size=len(data),
        content_type="image/jpeg",
    )
    Photo.objects.create(
        evidence=photo,
        status=Photo.Status.FAILED,
        failure_reason="The file is truncated.",
        thumbnail=default_storage.save("derivatives/t.jpg", ContentFile(data)),
        preview=default_storage.save("derivatives/p.jpg", ContentFile(data)),
        status_changed_at=timezone.now() - timedelta(hours=1),
    )
    draft = ClaimFactory(case=case, author=reporter)
    in_review = ClaimFactory(case=case, author=reporter, status=Claim.Status.IN_REVIEW)
    link = EvidenceLink.objects.create(
        claim=draft, evidence=photo, stance="supports", created_by=reporter
    )
    # A decision rests on evidence: the claim in review has a supporting link to be decided on.
    web_link = LinkEvidenceFactory(case=case, collected_by=reporter)
    EvidenceLink.objects.create(
        claim=in_review, evidence=web_link, stance="supports", created_by=reporter
    )
    # The web link's page, captured (issue #16).
    capture = Capture.objects.create(evidence=web_link, requested_by=reporter, status="ready")
    shot = b"\x89PNG\r\n\x1a\n captured"
    CaptureFile.objects.create(
        capture=capture,
        role="screenshot",
        name="screenshot.png",
        file=default_storage.save("captures/sh/ot/screenshot", ContentFile(shot)),
        sha256=hashlib.sha256(shot).hexdigest(),
        size=len(shot),
        content_type="image/png",
    )
    comment = Comment.objects.create(case=case, claim=draft, author=reporter, text="Check this")
    # A processed video with one keyframe (issue #15): its files have their own endpoints.
    video_sha = "cd" * 32
    video = Evidence.objects.create(
        case=case,
        kind=Evidence.Kind.VIDEO,
        collected_by=reporter,
        original=default_storage.save(f"originals/cd/cd/{video_sha}", ContentFile(b"mp4")),
        original_name="clip.mp4",
        sha256=video_sha,
        size=3,
        content_type="video/mp4",
    )
    video_row = Video.objects.create(
        evidence=video,
        status=Video.Status.READY,
        poster=default_storage.save("derivatives/videos/poster.jpg", ContentFile(data)),
        contact_sheet=default_storage.save("derivatives/videos/sheet.jpg", ContentFile(data)),
        preview=default_storage.save("derivatives/videos/preview.mp4", ContentFile(b"mp4")),
    )
    VideoKeyframe.objects.create(
        video=video_row,
        index=0,
        time=0.0,
        thumbnail=default_storage.save("derivatives/videos/k0t.jpg", ContentFile(data)),
        image=default_storage.save("derivatives/videos/k0.jpg", ContentFile(data)),
        phash=1,
        dhash=1,
    )
    return World(
        personas=personas,
        member=member,
        newcomer=UserFactory(username="newcomer"),
        source=source,
        photo=photo,
        draft=draft,
        in_review=in_review,
        link=link,
        comment=comment,
        # A token of the owner's other than the one each call signs in with.
        objects={
            "owner_token": token_create(user=personas.owner)[0],
            "web_link": web_link,
            "capture": capture,
            "video": video,
        },
    )


# Made once per session, restored into each of the few hundred tests (tests/snapshot.py).
_world_snapshot = session_snapshot(build_world)


@pytest.fixture
def world(_world_snapshot, db) -> World:
    return _world_snapshot.restore()


@dataclass
class Rule:
    """Who may: `role` is the weakest role that succeeds (non-members get 404, weaker roles 403);
    `anyone` means every signed-in user succeeds; `statuses` overrides single personas."""

    kwargs: object  # World -> URL kwargs
    status: int = 200
    role: str | None = "viewer"
    anyone: bool = False
    body: object = None  # World, user -> request body
    statuses: dict = field(default_factory=dict)

    def expected(self, persona: str) -> int:
        if persona in self.statuses:
            return self.statuses[persona]
        if persona == "anonymous":
            return 401
        if self.anyone:
            return self.status
        if persona == "outsider":
            return 404
        return self.status if RANK[persona] >= RANK[self.role] else 403


def case_id(w):
    return {"case_id": w.personas.case.pk}


RULES = {
    ("auth-token", "POST"): Rule(
        kwargs=lambda w: {},
        status=201,
        anyone=True,
        body=lambda w, user: (
            {"username": user.username, "password": PASSWORD}
            if user
            else {"username": "nobody", "password": "wrong"}
        ),
        statuses={"anonymous": 400},
    ),
    ("auth-logout", "POST"): Rule(kwargs=lambda w: {}, status=204, anyone=True),
    ("auth-tokens", "GET"): Rule(kwargs=lambda w: {}, anyone=True),
    # Only its owner revokes a token; to anyone else it does not exist.
    ("auth-token-detail", "DELETE"): Rule(
        kwargs=lambda w: {"pk": w.objects["owner_token"].pk},
        status=204,
        anyone=True,
        statuses={"outsider": 404, "viewer": 404, "reporter": 404, "editor": 404},
    ),
    ("case-list", "GET"): Rule(kwargs=lambda w: {}, anyone=True),
    ("case-list", "POST"): Rule(
        kwargs=lambda w: {}, status=201, anyone=True, body=lambda w, u: {"title": "Another"}
    ),
    ("case-detail", "GET"): Rule(kwargs=case_id),
    ("case-detail", "PATCH"): Rule(
        kwargs=case_id, role="editor", body=lambda w, u: {"title": "Renamed"}
    ),
    ("case-members", "GET"): Rule(kwargs=case_id),
    ("case-members", "POST"): Rule(
        kwargs=case_id,
        status=201,
        role="owner",
        body=lambda w, u: {"username": "newcomer", "role": "viewer"},
    ),
    ("member-detail", "PATCH"): Rule(
        kwargs=lambda w: {**case_id(w), "user_id": w.member.pk},
        role="owner",
        body=lambda w, u: {"role": "reporter"},
    ),
    ("member-detail", "DELETE"): Rule(
        kwargs=lambda w: {**case_id(w), "user_id": w.member.pk}, status=204, role="owner"
    ),
    ("case-activity", "GET"): Rule(kwargs=case_id),
    ("case-sources", "GET"): Rule(kwargs=case_id),
    ("case-sources", "POST"): Rule(
        kwargs=case_id,
        status=201,
        role="reporter",
        body=lambda w, u: {"kind": "publication", "name": "Daily News"},
    ),
    ("source-detail", "GET"): Rule(kwargs=lambda w: {"pk": w.source.pk}),
    ("source-detail", "PATCH"): Rule(
        kwargs=lambda w: {"pk": w.source.pk},
        role="reporter",
        body=lambda w, u: {"reliability": "B"},
    ),
    ("case-evidence", "GET"): Rule(kwargs=case_id),
    ("case-evidence", "POST"): Rule(
        kwargs=case_id,
        status=201,
        role="reporter",
        body=lambda w, u: {"kind": "link", "url": "https://example.org/a"},
    ),
    ("evidence-detail", "GET"): Rule(kwargs=lambda w: {"pk": w.photo.pk}),
    ("evidence-detail", "PATCH"): Rule(
        kwargs=lambda w: {"pk": w.photo.pk}, role="reporter", body=lambda w, u: {"title": "New"}
    ),
    ("evidence-similar", "GET"): Rule(kwargs=lambda w: {"pk": w.photo.pk}),
    # Search answers every signed-in user, from the cases they are members of; an outsider's
    # search by one of the case's photos is 404, as the photo is (for members, 400: this
    # world's photo is not processed, so it has no hash to search with).
    # The desk (issue #17): one's own notifications and review inbox; assigning work.
    ("notifications", "GET"): Rule(kwargs=lambda w: {}, anyone=True),
    ("notifications-read", "POST"): Rule(kwargs=lambda w: {}, anyone=True, body=lambda w, u: {}),
    ("review-inbox", "GET"): Rule(kwargs=lambda w: {}, anyone=True),
    ("claim-assign", "POST"): Rule(
        kwargs=lambda w: {"pk": w.draft.pk},
        role="reporter",
        body=lambda w, user: {"assignee": w.personas.reporter.username},
    ),
    ("evidence-assign", "POST"): Rule(
        kwargs=lambda w: {"pk": w.photo.pk},
        role="reporter",
        body=lambda w, user: {"assignee": w.personas.reporter.username},
    ),
    ("search", "GET"): Rule(kwargs=lambda w: {}, anyone=True, body=lambda w, user: {"q": "train"}),
    ("search-image", "POST"): Rule(
        kwargs=lambda w: {},
        anyone=True,
        body=lambda w, user: {"evidence": w.photo.pk},
        status=400,
        statuses={"outsider": 404},
    ),
    ("evidence-original", "GET"): Rule(kwargs=lambda w: {"pk": w.photo.pk}, role="editor"),
    ("evidence-thumbnail", "GET"): Rule(kwargs=lambda w: {"pk": w.photo.pk}),
    ("evidence-preview", "GET"): Rule(kwargs=lambda w: {"pk": w.photo.pk}),
    ("evidence-video-poster", "GET"): Rule(kwargs=lambda w: {"pk": w.objects["video"].pk}),
    ("evidence-video-contact-sheet", "GET"): Rule(kwargs=lambda w: {"pk": w.objects["video"].pk}),
    ("evidence-video-preview", "GET"): Rule(kwargs=lambda w: {"pk": w.objects["video"].pk}),
    ("evidence-keyframe", "GET"): Rule(kwargs=lambda w: {"pk": w.objects["video"].pk, "index": 0}),
    ("evidence-keyframe-thumbnail", "GET"): Rule(
        kwargs=lambda w: {"pk": w.objects["video"].pk, "index": 0}
    ),
    ("evidence-reprocess", "POST"): Rule(
        kwargs=lambda w: {"pk": w.photo.pk}, status=202, role="reporter"
    ),
    ("evidence-capture", "POST"): Rule(
        kwargs=lambda w: {"pk": w.objects["web_link"].pk}, status=202, role="reporter"
    ),
    ("evidence-captures", "GET"): Rule(kwargs=lambda w: {"pk": w.objects["web_link"].pk}),
    ("evidence-capture-file", "GET"): Rule(
        kwargs=lambda w: {
            "pk": w.objects["web_link"].pk,
            "capture_id": w.objects["capture"].pk,
            "name": "screenshot.png",
        }
    ),
    ("evidence-comments", "GET"): Rule(kwargs=lambda w: {"pk": w.photo.pk}),
    ("evidence-comments", "POST"): Rule(
        kwargs=lambda w: {"pk": w.photo.pk},
        status=201,
        role="reporter",
        body=lambda w, u: {"text": "Same train?"},
    ),
    ("case-claims", "GET"): Rule(kwargs=case_id),
    ("case-claims", "POST"): Rule(
        kwargs=case_id,
        status=201,
        role="reporter",
        body=lambda w, u: {"statement": "The train never left Dandong"},
    ),
    ("claim-detail", "GET"): Rule(kwargs=lambda w: {"pk": w.draft.pk}),
    ("claim-detail", "PATCH"): Rule(
        kwargs=lambda w: {"pk": w.draft.pk}, role="reporter", body=lambda w, u: {"details": "More"}
    ),
    ("claim-links", "GET"): Rule(kwargs=lambda w: {"pk": w.draft.pk}),
    ("claim-links", "POST"): Rule(
        kwargs=lambda w: {"pk": w.in_review.pk},
        status=201,
        role="reporter",
        body=lambda w, u: {"evidence": w.photo.pk, "stance": "contradicts"},
    ),
    ("claim-submit", "POST"): Rule(kwargs=lambda w: {"pk": w.draft.pk}, role="reporter"),
    ("claim-review", "POST"): Rule(
        kwargs=lambda w: {"pk": w.in_review.pk},
        role="editor",
        body=lambda w, u: {"decision": "supported", "note": "Two photos agree."},
    ),
    ("claim-history", "GET"): Rule(kwargs=lambda w: {"pk": w.draft.pk}),
    ("claim-comments", "GET"): Rule(kwargs=lambda w: {"pk": w.draft.pk}),
    ("claim-comments", "POST"): Rule(
        kwargs=lambda w: {"pk": w.draft.pk},
        status=201,
        role="reporter",
        body=lambda w, u: {"text": "Agreed"},
    ),
    ("link-detail", "GET"): Rule(kwargs=lambda w: {"pk": w.link.pk}),
    ("link-detail", "PATCH"): Rule(
        kwargs=lambda w: {"pk": w.link.pk}, role="reporter", body=lambda w, u: {"note": "Why"}
    ),
    ("link-detail", "DELETE"): Rule(
        kwargs=lambda w: {"pk": w.link.pk}, status=204, role="reporter"
    ),
    ("comment-detail", "GET"): Rule(kwargs=lambda w: {"pk": w.comment.pk}),
    # Only its author (the reporter) edits a comment, whatever the role.
    ("comment-detail", "PATCH"): Rule(
        kwargs=lambda w: {"pk": w.comment.pk},
        role="reporter",
        body=lambda w, u: {"text": "Checked"},
        statuses={"editor": 403, "owner": 403},
    ),
    # Chain of custody and exports (issue #6; see tests/api/test_exports.py).
    ("evidence-detail", "DELETE"): Rule(
        kwargs=lambda w: {"pk": w.photo.pk}, role="editor", body=lambda w, u: {"reason": "Dup"}
    ),
    ("evidence-custody", "GET"): Rule(kwargs=lambda w: {"pk": w.photo.pk}),
    ("evidence-purge", "POST"): Rule(kwargs=lambda w: {"pk": _deleted(w).pk}, role="owner"),
    ("case-exports", "GET"): Rule(kwargs=case_id, role="editor"),
    ("case-exports", "POST"): Rule(
        kwargs=case_id, status=202, role="editor", body=lambda w, u: {"originals": False}
    ),
    ("export-detail", "GET"): Rule(kwargs=lambda w: {"pk": _ready_export(w).pk}, role="editor"),
    ("export-download", "GET"): Rule(kwargs=lambda w: {"pk": _ready_export(w).pk}, role="editor"),
    # Scripts (issue #17): webhooks are the owners'; a bulk import is a reporter's (a JSON body
    # without a file is a 400 once the role is checked).
    ("case-webhooks", "GET"): Rule(kwargs=case_id, role="owner"),
    ("case-webhooks", "POST"): Rule(
        kwargs=case_id,
        status=201,
        role="owner",
        body=lambda w, u: {"url": "https://93.184.215.14/hook", "events": ["claim.reviewed"]},
    ),
    ("webhook-detail", "GET"): Rule(kwargs=lambda w: _webhook(w), role="owner"),
    ("webhook-detail", "PATCH"): Rule(
        kwargs=lambda w: _webhook(w), role="owner", body=lambda w, u: {"active": False}
    ),
    ("webhook-detail", "DELETE"): Rule(kwargs=lambda w: _webhook(w), status=204, role="owner"),
    ("webhook-deliveries", "GET"): Rule(kwargs=lambda w: _webhook(w), role="owner"),
    ("case-imports", "POST"): Rule(
        kwargs=case_id, status=400, role="reporter", body=lambda w, u: {"kind": "link"}
    ),
}


def _webhook(w):
    from evidence.models import Webhook

    hook = Webhook.objects.create(
        case=w.personas.case,
        created_by=w.personas.owner,
        url="https://93.184.215.14/hook",
        events=["claim.reviewed"],
        secret="s" * 64,
    )
    return {"case_id": w.personas.case.pk, "pk": hook.pk}


def _ready_export(w):
    from evidence.models import Export

    return Export.objects.create(
        case=w.personas.case,
        requested_by=w.personas.owner,
        status=Export.Status.READY,
        progress=100,
        file=default_storage.save("exports/test.zip", ContentFile(b"PK\x05\x06" + bytes(18))),
    )


def _deleted(w):
    return Evidence.objects.create(
        case=w.personas.case,
        kind=Evidence.Kind.LINK,
        url="https://example.org/gone",
        collected_by=w.personas.reporter,
        deleted_at=timezone.now(),
        deleted_by=w.personas.editor,
        deletion_reason="Wrong case",
    )


# Not endpoints of their own: the JSON 404 for unknown paths.
UNRULED = {"not-found"}


def api_endpoints() -> list[tuple[str, str]]:
    """(url name, method) for every view under /api/v1/, read from the URL conf."""
    found = []

    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern) and pattern.name not in UNRULED:
                view = getattr(pattern.callback, "cls", None)
                if view is None or pattern.name in ("schema", "docs"):
                    continue
                for method in view.http_method_names:
                    if method in ("head", "options", "trace") or not hasattr(view, method):
                        continue
                    found.append((pattern.name, method.upper()))

    walk(api_urls.urlpatterns)
    return sorted(set(found))


ENDPOINTS = api_endpoints()


def test_every_endpoint_has_a_rule():
    missing = [e for e in ENDPOINTS if e not in RULES]
    extra = [e for e in RULES if e not in ENDPOINTS]
    assert not missing, f"Endpoints without a permission rule: {missing}"
    assert not extra, f"Rules for endpoints that do not exist: {extra}"
    assert len(ENDPOINTS) >= 35


def call(client, method: str, url: str, body):
    return getattr(client, method.lower())(url, body, format="json")


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("name", "method"), ENDPOINTS, ids=[f"{m} {n}" for n, m in ENDPOINTS])
def test_endpoint_answers_each_persona_by_its_rule(world, name, method, persona):
    rule = RULES.get((name, method))
    assert rule is not None, f"No permission rule for {method} {name}"
    user = None if persona == "anonymous" else world.personas.by_role(persona)
    url = reverse(f"api:{name}", kwargs=rule.kwargs(world))
    body = rule.body(world, user) if rule.body else {}
    response = call(token_client(user), method, url, body)
    expected = rule.expected(persona)
    assert response.status_code == expected, (persona, method, url, response.content[:500])
    if expected in (403, 404, 401):
        assert "detail" in response.json()
    if expected == 403:
        # The message names what is missing.
        assert "role" in response.json()["detail"] or "author" in response.json()["detail"]
    if expected == 401:
        assert response["WWW-Authenticate"] == "Token"


CASE_WRITES = [
    (n, m) for n, m in ENDPOINTS if m != "GET" and (n, m) in RULES and not RULES[(n, m)].anyone
]


@pytest.mark.parametrize(("name", "method"), CASE_WRITES, ids=[f"{m} {n}" for n, m in CASE_WRITES])
def test_outsider_gets_404_even_with_a_malformed_body(world, name, method):
    """A non-member learns nothing from validation errors: the 404 comes before the body."""
    rule = RULES[(name, method)]
    url = reverse(f"api:{name}", kwargs=rule.kwargs(world))
    client = token_client(world.personas.outsider)
    response = client.generic(method, url, "{not json", content_type="application/json")
    assert response.status_code == 404
