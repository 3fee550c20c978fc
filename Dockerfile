FROM python:3.11-slim AS app

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Tesseract and the languages the desk reads (evidence.imaging.ocr).
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng \
       tesseract-ocr-kor tesseract-ocr-chi-sim tesseract-ocr-rus tesseract-ocr-ukr tesseract-ocr-ara \
    && rm -rf /var/lib/apt/lists/*

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# collectstatic only reads settings: a throwaway random key satisfies the production checks
# and is gone with this build step (the real SECRET_KEY comes from the environment at run time).
RUN DEBUG=0 ALLOWED_HOSTS=localhost \
    SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    python manage.py collectstatic --noinput

# The media volume is initialised from this directory, so it belongs to the app user.
RUN useradd --system --uid 10001 --no-create-home --home-dir /app casefile \
    && mkdir -p /app/media \
    && chown casefile:casefile /app/media
USER casefile

EXPOSE 8000
# The liveness probe; orchestrators that route traffic should also ask /readyz.
HEALTHCHECK --interval=15s --timeout=10s --start-period=60s --retries=5 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=5)"
# Each request is logged once, as JSON with its request id, by the app itself; gunicorn's own
# lines are JSON too.
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--timeout", "120", \
     "--log-config-json", "config/gunicorn-logging.json"]

# The capture worker's image (docker-compose's `capture-worker`): the app with Debian's
# Chromium, which Playwright drives (no browser download), and fonts for the scripts pages use.
FROM app AS capture
USER root
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        chromium fonts-noto-core fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
USER casefile
CMD ["celery", "-A", "config", "worker", "-l", "info", "-Q", "capture", "--concurrency", "1"]

# The default target stays the web app.
FROM app
