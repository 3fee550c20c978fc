"""The exports panel and download page once an export has expired (web/views/custody.py)."""

from datetime import timedelta

from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from evidence.models import Export
from evidence.services.exports import export_request, exports_expire
from tests.custody_case import custody_case


def test_an_expired_export_shows_as_expired_and_its_download_says_why(
    personas, django_capture_on_commit_callbacks
):
    custody_case(personas, capture=django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        export = export_request(
            actor=personas.owner, case=personas.case, originals=False, reveal_protected=False
        )
    export.refresh_from_db()
    Export.objects.filter(pk=export.pk).update(finished_at=export.finished_at - timedelta(days=8))
    exports_expire()
    owner = Client()
    owner.force_login(personas.owner)
    download = reverse("web:export_download", kwargs={"export_id": export.pk})
    panel = owner.get(reverse("web:case_exports", kwargs={"case_id": personas.case.pk}))
    assert "Expired" in panel.content.decode() and download not in panel.content.decode()
    response = owner.get(download)
    assert response.status_code == 302
    assert response["Location"].endswith(f"/cases/{personas.case.pk}/#exports")
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert len(shown) == 1 and "expired" in shown[0] and "Export the case again" in shown[0]
