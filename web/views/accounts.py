"""Signing in, changing a password and resetting a forgotten one: Django's own views, with
our templates (templates/registration/) and the per-address limit on password attempts that
the API's token view has (config.lockout.PasswordAttemptThrottle, one count for both doors).

A new password ends the user's other browser sessions (Django's session hash) and revokes
their API tokens (cases.tokens.RevokeTokensOnPasswordChange)."""

from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy

from config.lockout import PasswordAttemptThrottle, too_many_attempts_response


class _Throttled:
    """Counts each POST against the address's password attempts; over the rate, 429."""

    def post(self, request, *args, **kwargs):
        throttle = PasswordAttemptThrottle()
        if not throttle.allow_request(request, self):
            return too_many_attempts_response(request, throttle.wait())
        return super().post(request, *args, **kwargs)


class LoginView(_Throttled, auth_views.LoginView):
    redirect_authenticated_user = True


class PasswordResetView(_Throttled, auth_views.PasswordResetView):
    """Sends the reset link (to an active account's address only; the page says the same
    either way, so it tells no one whether an address has an account)."""

    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("web:password_reset_done")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    success_url = reverse_lazy("web:password_reset_complete")


class PasswordChangeView(auth_views.PasswordChangeView):
    success_url = reverse_lazy("web:password_change_done")
