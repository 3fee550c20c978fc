from django.contrib import admin
from django.urls import include, path

from config import health
from web.views import keys

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path(".well-known/casefile-signing-key", keys.signing_key, name="signing_key"),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("", include("web.urls")),
]
