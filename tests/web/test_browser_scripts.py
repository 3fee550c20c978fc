"""The scripts' pages in a real browser (issue #17): API tokens, a case's webhooks and the
bulk import, at laptop and phone widths; no console errors or CSP violations (the `visit`
fixture fails on any), nothing scrolling sideways, screenshots in tests/artifacts/.

Run: .venv/bin/pytest tests/web/test_browser_scripts.py -m browser
"""

import re

import pytest

from cases.models import ApiToken
from evidence.models import Evidence, Webhook, WebhookDelivery
from tests.web.browsing import DB_LOCK, LAPTOP, PHONE
from tests.webhook_receiver import receiver_start

pytestmark = pytest.mark.browser


@pytest.fixture
def receiver(settings):
    receiver = receiver_start()
    settings.CASEFILE_WEBHOOK_ALLOW_HOSTS = receiver.allow
    yield receiver
    receiver.stop()


def _no_sideways_scroll(visitor, path):
    overflow = visitor.page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"{path} scrolls sideways by {overflow}px"


@pytest.mark.parametrize("viewport_name", ["laptop", "phone"])
def test_tokens_webhooks_and_import_pages(personas, visit, receiver, tmp_path, viewport_name):
    from playwright.sync_api import expect

    c = personas.case.pk
    owner = visit(f"owner-{viewport_name}", LAPTOP if viewport_name == "laptop" else PHONE)
    owner.sign_in("alice")

    # API tokens: make a read token for this case; its key shows once; revoke it.
    owner.goto("/account/tokens/", "tokens")
    _no_sideways_scroll(owner, "/account/tokens/")
    page = owner.page
    page.get_by_label("Name").fill("CI script")
    page.get_by_label("Read", exact=True).check()
    page.get_by_label("All my cases (also those I join later)").uncheck()
    page.get_by_label(personas.case.title).check()
    page.get_by_label("Expires after (days)").fill("7")
    page.get_by_role("button", name="Make token").click()
    page.wait_for_load_state("networkidle")
    owner.shot("token-made")
    _no_sideways_scroll(owner, "/account/tokens/ (made)")
    key = page.locator(".token-key").inner_text().strip()
    with DB_LOCK:
        token = ApiToken.objects.get(user=personas.owner, revoked__isnull=True)
        assert token.prefix == key[:8]
        assert (token.scope, token.all_cases, list(token.case_ids)) == ("read", False, [c])
    expect(page.locator(".tokens-table")).to_contain_text("CI script")
    page.get_by_role("button", name=f"Revoke {token.prefix}").click()
    page.wait_for_load_state("networkidle")
    owner.shot("token-revoked")
    expect(page.locator(".messages")).to_contain_text("revoked")
    with DB_LOCK:
        assert not ApiToken.objects.filter(user=personas.owner, revoked__isnull=True).exists()

    # Webhooks: add one to the receiver; its secret shows once; a comment is delivered.
    owner.goto(f"/cases/{c}/webhooks/", "webhooks")
    _no_sideways_scroll(owner, "webhooks")
    page.get_by_label("Address").fill(receiver.url)
    page.get_by_role("button", name="Add webhook").click()
    page.wait_for_load_state("networkidle")
    owner.shot("webhook-added")
    _no_sideways_scroll(owner, "webhooks (added)")
    with DB_LOCK:
        hook = Webhook.objects.get(case=personas.case)
    expect(page.locator(".token-key")).to_have_text(hook.secret)
    page.get_by_role("link", name="Deliveries").click()
    page.wait_for_load_state("networkidle")
    owner.shot("webhook-deliveries-empty")
    with DB_LOCK:
        WebhookDelivery.objects.create(
            webhook=hook,
            event="comment.created",
            payload={},
            status="failed",
            attempts=6,
            response_code=503,
            error="The receiver answered 503.",
            next_attempt_at=hook.created_at,
        )
    owner.goto(f"/cases/{c}/webhooks/{hook.pk}/", "webhook-deliveries")
    _no_sideways_scroll(owner, "webhook deliveries")
    expect(page.locator(".deliveries-table")).to_contain_text("503")
    page.get_by_role("button", name="Switch off").click()
    page.wait_for_load_state("networkidle")
    owner.shot("webhook-off")
    expect(page.get_by_role("button", name="Switch on")).to_be_visible()

    # Bulk import: a preview with an error, then a clean file imported.
    bad = tmp_path / "links-bad.csv"
    bad.write_text("url,title\nhttps://example.org/a,Fine\nhttps://example.org/b,=CMD()\n")
    good = tmp_path / "links.csv"
    good.write_text("Address,title\nhttps://example.org/a,First\nhttps://example.org/b,Second\n")
    owner.goto(f"/cases/{c}/import/", "import")
    _no_sideways_scroll(owner, "import")
    page.get_by_label("Spreadsheet").set_input_files(str(bad))
    page.get_by_role("button", name="Preview or import").click()
    page.wait_for_load_state("networkidle")
    owner.shot("import-errors")
    _no_sideways_scroll(owner, "import (errors)")
    expect(page.locator(".import-errors")).to_contain_text("spreadsheet formula")
    page.get_by_label("Spreadsheet").set_input_files(str(good))
    page.get_by_label("url", exact=True).fill("Address")
    page.get_by_role("button", name="Preview or import").click()
    page.wait_for_load_state("networkidle")
    owner.shot("import-preview")
    expect(page.locator(".import-preview")).to_contain_text("Second")
    with DB_LOCK:
        assert not Evidence.objects.filter(case=personas.case).exists()
    page.get_by_label("Spreadsheet").set_input_files(str(good))
    page.get_by_label("url", exact=True).fill("Address")
    page.get_by_label("Import now if no row has an error (otherwise: only preview)").check()
    page.get_by_role("button", name="Preview or import").click()
    page.wait_for_load_state("networkidle")
    owner.shot("import-done")
    expect(page.locator("#result-title")).to_contain_text("Imported 2 of 2 rows")
    with DB_LOCK:
        assert Evidence.objects.filter(case=personas.case).count() == 2


def test_reporters_see_import_but_not_webhooks(personas, visit):
    reporter = visit("reporter")
    reporter.sign_in("bob")
    reporter.goto(f"/cases/{personas.case.pk}/", "dashboard")
    page = reporter.page
    tabs = page.get_by_role("navigation", name="Case")
    assert tabs.get_by_role("link", name="Import").count() == 1
    assert tabs.get_by_role("link", name="Webhooks").count() == 0
    reporter.expected_errors.append(re.compile(r"status of 403 .*/webhooks/"))
    response = reporter.goto(f"/cases/{personas.case.pk}/webhooks/", "webhooks-refused")
    assert response.status == 403
    outsider = visit("outsider")
    outsider.sign_in("charlie")
    outsider.expected_errors.append(re.compile(r"status of 404 .*/import/"))
    response = outsider.goto(f"/cases/{personas.case.pk}/import/", "import-outsider")
    assert response.status == 404
