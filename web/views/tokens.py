"""Your API tokens in the browser: make one (its key shown once), list and revoke them.

The same service as `POST /api/v1/auth/token/` (cases.tokens.token_create): a token names its
cases (or all of yours), its scope and its lifetime, capped by CASEFILE_TOKEN_TTL_DAYS.
"""

from datetime import timedelta

from django import forms as django_forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from cases.models import ApiToken
from cases.selectors import cases_visible_to
from cases.tokens import REVOKED_BY_OWNER, token_create, token_revoke, tokens_of
from web import forms


class TokenForm(forms.Form):
    name = django_forms.CharField(
        max_length=100, required=False, help_text="What the token is for (a script, a laptop)."
    )
    scope = django_forms.ChoiceField(
        choices=ApiToken.Scope.choices,
        initial=ApiToken.Scope.READ,
        widget=django_forms.RadioSelect,
        help_text="Never more than your role in each case allows.",
    )
    all_cases = django_forms.BooleanField(
        required=False, initial=True, label="All my cases (also those I join later)"
    )
    cases = django_forms.MultipleChoiceField(
        required=False, widget=django_forms.CheckboxSelectMultiple, label="Or only these cases"
    )
    days = django_forms.IntegerField(min_value=1, label="Expires after (days)")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cases"].choices = [
            (case.pk, case.title) for case in cases_visible_to(user).order_by("title", "id")
        ]
        longest = settings.CASEFILE_TOKEN_TTL_DAYS
        self.fields["days"].max_value = longest
        self.fields["days"].initial = longest
        self.fields["days"].widget.attrs.update({"min": 1, "max": longest})
        self.fields["days"].validators.append(_at_most(longest))
        self.fields["days"].help_text = f"At most {longest} days."

    def clean(self):
        data = super().clean()
        if not data.get("all_cases") and not data.get("cases"):
            raise ValidationError("Choose all your cases, or at least one case.")
        return data


def _at_most(longest: int):
    def check(value):
        if value is not None and value > longest:
            raise ValidationError(f"At most {longest} days.")

    return check


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request):
    """`/account/tokens/`: your live tokens; the form makes a new one and shows its key once."""
    form = TokenForm(request.POST or None, user=request.user)
    key = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            token, key = token_create(
                user=request.user,
                name=data["name"],
                scope=data["scope"],
                cases=None if data["all_cases"] else [int(pk) for pk in data["cases"]],
                expires_in=timedelta(days=data["days"]),
            )
        except ValidationError as exc:
            forms.add_service_errors(form, exc)
        else:
            form = TokenForm(user=request.user)
    tokens = tokens_of(user=request.user)
    return render(
        request,
        "web/scripts/tokens.html",
        {"form": form, "key": key, "tokens": tokens, "current": "tokens"},
        status=400 if request.method == "POST" and key is None else 200,
    )


@login_required
@require_POST
def token_revoke_view(request, token_id: int):
    token = tokens_of(user=request.user).filter(pk=token_id).first()
    if token is None:
        raise Http404("You have no live token with this id.")
    token_revoke(token=token, actor=request.user, reason=REVOKED_BY_OWNER)
    messages.success(request, f"Token {token.prefix}… revoked: it no longer signs anything in.")
    return redirect("web:token_list")
