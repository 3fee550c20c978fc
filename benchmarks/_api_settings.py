"""Settings for the API benchmark's gunicorn: the app's own, with the benchmark's URLconf (the
app's URLs plus the baseline views of benchmarks/_api_urls.py)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks._api_urls"
