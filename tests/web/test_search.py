"""Search (evidence.search, cases.search) through its pages: ranking, snippets, counts, paging,
filters, partial words and Korean/Chinese text, protected identities, outsiders, the index kept
by the services, the quick search and the reverse image search page.

Runs on the database the suite runs on: SQLite's FTS5 by default, PostgreSQL's tsvector and
pg_trgm with DATABASE_URL=postgres://… (both are run; the PostgreSQL-only checks say so)."""

import re
from datetime import date
from urllib.parse import quote_plus

import pytest
from django.db import connection
from django.urls import reverse

from cases import services as case_services
from cases.models import SearchEntry
from evidence.models import Evidence, PhotoFlag
from evidence.search import highlight, snippet
from evidence.services import comments as comment_services
from evidence.services import evidence as evidence_services
from evidence.services import links as link_services
from evidence.services import sources as source_services
from evidence.services.custody import evidence_delete
from evidence.services.photos import photo_process
from tests.images import jpeg_bytes, upload, with_iptc
from tests.needs import unavailable
from tests.web.conftest import demo_photo


def found(client, **params):
    response = client.get(reverse("web:search"), params)
    assert response.status_code == 200, response.content[:300]
    return response


def hits(response, type=None):
    results = getattr(response, "context", None)
    results = results["results"] if results is not None else response
    return [(h.type, h.object_id) for h in results.hits if type is None or h.type == type]


def answer(response, q: str) -> str:
    """The page with the query and the per-response CSRF tokens left out."""
    body = response.content.decode()
    body = re.sub(r'"X-CSRFToken": "[^"]+"', "", body)
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)
    return body.replace(quote_plus(q), "Q").replace(q, "Q")


def test_the_words_of_the_issue_find_the_14_may_photo(world, client_for):
    # Substring search answered 0 for this: every word must match, anywhere in the item.
    response = found(client_for(world.personas.reporter), q="dandong station 14 may")
    assert hits(response)[0] == ("evidence", world.photo14.pk)
    assert ("evidence", world.photo25.pk) not in hits(response)


def test_a_title_match_ranks_above_a_mention_in_the_text(world, client_for):
    bob, case = world.personas.reporter, world.case
    mention = evidence_services.evidence_create(
        actor=bob,
        case=case,
        kind="link",
        url="https://example.org/a",
        title="Weather report",
        description="Rain in the afternoon; the tarpaulin flapped.",
    )
    titled = evidence_services.evidence_create(
        actor=bob, case=case, kind="link", url="https://example.org/b", title="Tarpaulin covers"
    )
    response = found(client_for(bob), q="tarpaulin")
    assert hits(response) == [("evidence", titled.pk), ("evidence", mention.pk)]
    first, second = response.context["results"].hits
    assert first.relevance > second.relevance


def test_snippets_are_escaped_and_highlight_every_term(world, client_for):
    bob = world.personas.reporter
    comment_services.comment_create(
        actor=bob,
        claim=world.draft,
        text="<script>alert(1)</script> Seen at the DANDONG yard, "
        + "filler words " * 40
        + "then the wagons left.",
    )
    response = found(client_for(bob), q="dandong wagons", type="comment")
    (hit,) = response.context["results"].hits
    assert hit.snippet.startswith("&lt;script&gt;alert(1)&lt;/script&gt; Seen at the ")
    assert "<mark>DANDONG</mark>" in hit.snippet
    assert "<script>" not in response.content.decode()
    assert "&lt;script&gt;" in response.content.decode()
    assert hit.title == "Comment on The train never left Dandong since January".replace(
        "Dandong", "<mark>Dandong</mark>"
    )
    assert hit.url.endswith(f"#comment-{hit.object_id}")


def test_snippet_cuts_around_the_first_match():
    text = "alpha " * 100 + "the Longkou <port> " + "omega " * 100
    piece = snippet(text, ["longkou"], length=80)
    assert piece.startswith("… ") and piece.endswith(" …")
    assert "<mark>Longkou</mark> &lt;port&gt;" in piece
    assert len(piece) < 140
    assert highlight("a<b>", []) == "a&lt;b&gt;"


def test_counts_are_honest_and_pages_hold_the_rest(world, client_for):
    bob = world.personas.reporter
    for n in range(25):
        comment_services.comment_create(actor=bob, evidence=world.photo14, text=f"Tyre {n}")
    client = client_for(bob)
    first = found(client, q="tyre").context["results"]
    assert (first.total, first.pages, len(first.hits)) == (25, 2, 20)
    assert first.counts == {"claim": 0, "evidence": 0, "comment": 25, "link": 0, "source": 0}
    second = found(client, q="tyre", page=2).context["results"]
    assert len(second.hits) == 5 and second.page == 2
    seen = {h.object_id for h in first.hits} | {h.object_id for h in second.hits}
    assert len(seen) == 25
    page = found(client, q="tyre").content.decode()
    assert "25 results for “tyre” · page 1 of 2." in page
    assert 'rel="next" href="?q=tyre&amp;page=2"' in page


def test_filters_narrow_by_type_kind_status_date_source_and_flag(world, client_for):
    client = client_for(world.personas.reporter)
    everything = found(client, q="train").context["results"]
    assert everything.counts["claim"] == 2 and everything.counts["evidence"] >= 2
    assert hits(found(client, q="train", type="claim")) == hits(everything, "claim")
    assert set(hits(found(client, q="train", kind="photo"))) == {
        ("evidence", world.photo14.pk),
        ("evidence", world.photo25.pk),
    }
    assert hits(found(client, q="train", status="in_review")) == [("claim", world.editors_claim.pk)]
    may = found(client, q="train", date_from="2026-05-20", date_to="2026-05-31")
    assert hits(may, "evidence") == [("evidence", world.photo25.pk)]
    by_source = found(client, q="china", source=world.china.pk)
    assert set(hits(by_source)) == {("source", world.china.pk), ("evidence", world.testimony.pk)}
    assert found(client, q="train", flag="editing_software").context["results"].total == 0
    PhotoFlag.objects.create(photo=world.photo25.photo, code="editing_software", message="x")
    assert hits(found(client, q="train", flag="editing_software")) == [
        ("evidence", world.photo25.pk)
    ]
    # Counts per type ignore the type filter (the tabs), the total follows it.
    claims = found(client, q="train", type="claim").context["results"]
    assert claims.total == 2 and claims.counts["evidence"] == everything.counts["evidence"]


def test_bad_filters_are_400_not_a_guess(world, client_for):
    client = client_for(world.personas.reporter)
    for params in ({"type": "bogus"}, {"date_from": "yesterday"}, {"page": "0"}):
        response = client.get(reverse("web:search"), {"q": "train", **params})
        assert response.status_code == 400, params


def test_partial_words_match_inside_a_word(world, client_for):
    client = client_for(world.personas.reporter)
    assert ("evidence", world.photo14.pk) in hits(found(client, q="andon"))
    assert ("claim", world.in_review.pk) in hits(found(client, q="ucked longk"))


def test_korean_and_chinese_words_are_found_inside_unsplit_text(world, client_for):
    bob = world.personas.reporter
    item = evidence_services.evidence_create(
        actor=bob,
        case=world.case,
        kind="link",
        url="https://example.kr/news",
        title="단둥역에서 화물열차가 떠나지 않았다",
        description="丹东站的货运列车没有离开",
    )
    client = client_for(bob)
    for q in ("단둥", "둥역에", "화물열차", "东站", "货运列车", "丹东 떠나지"):
        assert hits(found(client, q=q)) == [("evidence", item.pk)], q
    hit = found(client, q="화물열차").context["results"].hits[0]
    assert "<mark>화물열차</mark>" in hit.title


def test_camera_software_and_iptc_caption_and_keywords_are_searched(world, client_for):
    bob = world.personas.reporter
    data = with_iptc(
        jpeg_bytes(seed=5, make="Fujifilm", model="X-T5", software="Darktable 4.6"),
        caption="Wagons under blue tarpaulins",
        keywords=["railyard", "Sinuiju"],
    )
    photo, _ = evidence_services.photo_ingest(
        actor=bob, case=world.case, file=upload(data), source=world.photographer
    )
    photo_process(photo_id=photo.pk)
    client = client_for(bob)
    for q in ("fujifilm x-t5", "darktable", "blue tarpaulins", "railyard", "sinuiju"):
        assert hits(found(client, q=q)) == [("evidence", photo.pk)], q


def test_the_index_follows_every_write(world, client_for):
    bob, editor = world.personas.reporter, world.personas.editor
    client = client_for(bob)
    evidence_services.evidence_update(actor=bob, evidence=world.link, title="Pyongyang wire")
    assert hits(found(client, q="pyongyang")) == [("evidence", world.link.pk)]
    link = world.in_review.links.get(evidence=world.link)
    link_services.link_update(actor=bob, link=link, note="Contradicted by the rail logs")
    assert hits(found(client, q="rail logs")) == [("link", link.pk)]
    comment = comment_services.comment_create(actor=bob, evidence=world.link, text="Quokka")
    comment_services.comment_edit(actor=bob, comment=comment, text="Wombat")
    assert hits(found(client, q="quokka")) == []
    assert hits(found(client, q="wombat")) == [("comment", comment.pk)]
    case_services.claim_update(actor=bob, claim=world.draft, details="Seen by the harbour master")
    assert hits(found(client, q="harbour master")) == [("claim", world.draft.pk)]
    evidence_delete(actor=world.personas.owner, evidence=world.link, reason="Wrong story")
    assert found(client, q="pyongyang").context["results"].total == 0
    assert found(client, q="wombat").context["results"].total == 0  # its comment went with it
    assert found(client, q="rail logs").context["results"].total == 0
    # Protecting a source moves its evidence's place out of reporters' reach.
    source_services.source_update(
        actor=editor, source=world.photographer, protected=True, pseudonym="Lens"
    )
    assert found(client, q="Newsroom photographer").context["results"].total == 0
    assert hits(found(client, q="Lens"), "source") == [("source", world.photographer.pk)]


def test_reindex_command_rebuilds_a_case(world, client_for):
    from django.core.management import call_command

    before = set(SearchEntry.objects.values_list("type", "object_id", "title", "body", "private"))
    SearchEntry.objects.all().delete()
    assert found(client_for(world.personas.reporter), q="train").context["results"].total == 0
    call_command("search_reindex", verbosity=0)
    after = set(SearchEntry.objects.values_list("type", "object_id", "title", "body", "private"))
    assert after == before and len(after) >= 10


# --- Protected identities and outsiders ------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "reporter"])
def test_a_protected_sources_name_and_notes_find_nothing_below_editor(world, client_for, role):
    client = client_for(world.personas.by_role(role))
    for q in ("Zhang", "Zhang Min", "Shenyang stringer", "forwarder", "Longkou port"):
        response = found(client, q=q)
        results = response.context["results"]
        if q == "Longkou port":
            # "Longkou" is in the testimony's words; "port" only in its hidden place.
            assert results.total == 0, q
        assert results.total == 0 and results.hits == [], (role, q)
        assert set(results.counts.values()) == {0}, (role, q)
        # The same page, byte for byte, as for a guess that names nobody.
        guess = "Qzxw Vbnm"
        assert answer(response, q) == answer(found(client, q=guess), guess), q
    # The pseudonym is what they search by.
    assert hits(found(client, q="Source in China"), "source") == [("source", world.china.pk)]


def test_an_editor_finds_the_protected_source_by_name_and_notes(world, client_for):
    client = client_for(world.personas.editor)
    for q in ("Zhang", "Shenyang stringer"):
        response = found(client, q=q)
        assert hits(response, "source") == [("source", world.china.pk)], q
    hit = found(client, q="Zhang").context["results"].hits[0]
    assert hit.label == "Zhang Min" and hit.title == "<mark>Zhang</mark> Min"
    assert hits(found(client, q="Longkou port")) == [("evidence", world.testimony.pk)]


def test_a_non_member_finds_nothing_and_a_case_filter_is_404(world, client_for):
    client = client_for(world.personas.outsider)
    assert found(client, q="train").context["results"].total == 0
    url = reverse("web:search")
    assert client.get(url, {"q": "train", "case": world.case.pk}).status_code == 404
    quick = reverse("web:search_quick")
    assert client.get(quick, {"q": "train", "case": world.case.pk}).status_code == 404
    assert "Nothing found" in client.get(quick, {"q": "train"}).content.decode()


# --- The quick search --------------------------------------------------------------------------


def test_quick_search_lists_the_best_hits_and_links_to_all(world, client_for):
    bob = world.personas.reporter
    for n in range(12):
        comment_services.comment_create(actor=bob, claim=world.draft, text=f"Container {n}")
    response = client_for(bob).get(reverse("web:search_quick"), {"q": "container"})
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count('role="option"') == 8
    assert f'href="{reverse("web:search")}?q=container">All 12 results</a>' in body
    assert "<mark>Container</mark>" in body


def test_every_page_offers_the_quick_search(world, client_for):
    body = client_for(world.personas.viewer).get(reverse("web:case_list")).content.decode()
    assert 'id="quick-search"' in body and "/static/js/quicksearch.js" in body
    assert f'hx-get="{reverse("web:search_quick")}"' in body


# --- The image search page -------------------------------------------------------------------


def test_image_search_page_finds_the_photo_across_the_users_cases(world, client_for):
    client = client_for(world.personas.viewer)
    page = client.get(reverse("web:search_image"))
    assert page.status_code == 200 and 'id="image-drop"' in page.content.decode()
    before = Evidence.objects.count()
    response = client.post(reverse("web:search_image"), {"file": upload(demo_photo(14))})
    assert response.status_code == 200
    matches = response.context["matches"]
    assert matches[0]["evidence"]["id"] == world.photo14.pk
    assert matches[0]["distance"] == 0 and matches[0]["case"]["id"] == world.case.pk
    assert Evidence.objects.count() == before  # the image searched with is not kept
    by_item = client.get(reverse("web:search_image"), {"evidence": world.photo14.pk})
    assert world.photo14.pk not in [m["evidence"]["id"] for m in by_item.context["matches"]]


def test_image_search_page_refuses_what_an_upload_refuses(world, client_for):
    client = client_for(world.personas.reporter)
    response = client.post(
        reverse("web:search_image"), {"file": upload(b"%PDF-1.4 not an image", "x.jpg")}
    )
    assert response.status_code == 400
    assert "Not an image" in response.content.decode()


def test_image_search_page_is_404_for_an_outsiders_photo(world, client_for):
    client = client_for(world.personas.outsider)
    url = reverse("web:search_image")
    assert client.get(url, {"evidence": world.photo14.pk}).status_code == 404
    response = client.post(url, {"file": upload(demo_photo(14))})
    assert response.status_code == 200 and response.context["matches"] == []


# --- PostgreSQL: the indexes themselves ------------------------------------------------------


@pytest.mark.postgres
def test_postgres_indexes_are_gin_over_tsvector_and_trigrams(world):
    if connection.vendor != "postgresql":
        unavailable("needs PostgreSQL (DATABASE_URL=postgres://…)")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'cases_searchentry'"
        )
        indexes = dict(cursor.fetchall())
        cursor.execute("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'")
        assert cursor.fetchone() == ("pg_trgm",)
        cursor.execute(
            "SELECT count(*) FROM cases_searchentry WHERE "
            "document @@ to_tsquery('simple', 'dandong:*')"
        )
        assert cursor.fetchone()[0] >= 2  # the generated column is filled by the database
    assert "USING gin (document)" in indexes["searchentry_document"]
    assert "gin_trgm_ops" in indexes["searchentry_trigrams"]


@pytest.mark.postgres
def test_postgres_trigrams_find_korean_and_chinese_partial_words(world, client_for):
    """The 'simple' parser keeps '단둥역에서' and '丹东站的货运列车' whole: only a prefix of
    them is a tsquery match; pg_trgm finds the words inside."""
    if connection.vendor != "postgresql":
        unavailable("needs PostgreSQL (DATABASE_URL=postgres://…)")
    bob = world.personas.reporter
    item = evidence_services.evidence_create(
        actor=bob,
        case=world.case,
        kind="testimony",
        source=world.photographer,
        text="丹东站的货运列车没有离开。단둥역에서 화물열차가 떠나지 않았다.",
        stated_on=date(2026, 5, 28),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM cases_searchentry WHERE object_id = %s AND "
            "document @@ to_tsquery('simple', '''货运列车'':*')",
            [item.pk],
        )
        assert cursor.fetchone()[0] == 0  # full-text search alone misses it
    client = client_for(bob)
    for q in ("货运列车", "东站", "둥역에", "화물열", "离开 떠나지"):
        assert hits(found(client, q=q)) == [("evidence", item.pk)], q
