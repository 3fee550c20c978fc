"""A case's webhooks in the browser (owners): add one (its secret shown once), see each one's
delivery log, switch it on or off, remove it. The same services as the API
(evidence.webhooks)."""

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from cases.policy import require
from cases.selectors import case_for_user
from evidence import webhooks
from web import forms
from web.views.base import case_context


class WebhookForm(forms.Form):
    url = django_forms.URLField(
        max_length=2000,
        label="Address",
        assume_scheme="https",
        help_text="Where to post the events (https). Private and local addresses are refused.",
    )
    events = django_forms.MultipleChoiceField(
        choices=[(event, event) for event in webhooks.EVENTS],
        widget=django_forms.CheckboxSelectMultiple,
        initial=list(webhooks.EVENTS),
    )


def _owner_case(request, case_id):
    case = case_for_user(user=request.user, case_id=case_id)
    require(request.user, case, "webhook.manage")
    return case


@login_required
@require_http_methods(["GET", "POST"])
def webhook_list(request, case_id: int):
    case = _owner_case(request, case_id)
    form = WebhookForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            created = webhooks.webhook_create(
                actor=request.user,
                case=case,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
            )
        except ValidationError as exc:
            forms.add_service_errors(form, exc)
        else:
            form = WebhookForm()
    hooks = webhooks.webhooks_of(case=case)
    return render(
        request,
        "web/scripts/webhooks.html",
        case_context(request, case, form=form, hooks=hooks, created=created),
        status=400 if request.method == "POST" and created is None else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def webhook_detail(request, case_id: int, webhook_id: int):
    case = _owner_case(request, case_id)
    webhook = get_object_or_404(webhooks.webhooks_of(case=case), pk=webhook_id)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "delete":
            webhooks.webhook_delete(actor=request.user, webhook=webhook)
            messages.success(request, "Webhook removed.")
            return redirect("web:webhook_list", case.pk)
        if action in ("enable", "disable"):
            webhooks.webhook_update(actor=request.user, webhook=webhook, active=action == "enable")
            messages.success(request, f"Webhook {'on' if action == 'enable' else 'off'}.")
        return redirect("web:webhook_detail", case.pk, webhook.pk)
    deliveries = webhooks.deliveries_of(webhook=webhook)[:100]
    return render(
        request,
        "web/scripts/webhook_detail.html",
        case_context(request, case, webhook=webhook, deliveries=deliveries),
    )
