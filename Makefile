# The few commands everyone runs. `make run` and `make test` set everything up themselves.

PYTHON ?= $(shell command -v python3.11 >/dev/null 2>&1 && echo python3.11 || echo python3)
VENV = .venv
MANAGE = $(VENV)/bin/python manage.py
PYTEST_ARGS ?=
# Every core (tests that share a service of their own run on one: tests/conftest.py).
PYTEST_PROCESSES ?= auto

.PHONY: install run test chromium nginx tesseract lint audit worker bench bench-tools clean vendor

install: $(VENV)/.installed

# One stamp for both requirements files: re-installs whenever either changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

run: install tesseract
	DEBUG=1 $(MANAGE) migrate --noinput
	DEBUG=1 $(MANAGE) seed_demo
	@echo
	@echo "Casefile is running at http://127.0.0.1:8000/ (Ctrl-C to stop)"
	@echo
	DEBUG=1 $(MANAGE) runserver 127.0.0.1:8000

test: install chromium nginx tesseract
	$(VENV)/bin/pytest -n $(PYTEST_PROCESSES) --dist loadgroup $(PYTEST_ARGS)

# Browser tests drive Debian's chromium through Playwright (no Playwright browser download).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			DEBIAN_FRONTEND=noninteractive apt-get install -y chromium \
			|| { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }; \
		else \
			echo "Browser tests need Debian's chromium: sudo apt-get install -y chromium" >&2; \
		fi; \
	fi

# The compose proxy's configuration is run by a real nginx in tests/deploy/test_compose.py.
nginx:
	@if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light \
			|| { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light; }; \
		else \
			echo "The proxy test needs nginx: sudo apt-get install -y nginx-light" >&2; \
		fi; \
	fi

# Reading text in photos and scans (evidence.imaging.ocr): Tesseract with the desk's languages,
# and the CJK fonts the OCR tests render their pictures with. Without it the step is skipped.
OCR_PACKAGES = tesseract-ocr tesseract-ocr-eng tesseract-ocr-kor tesseract-ocr-chi-sim \
	tesseract-ocr-rus tesseract-ocr-ukr tesseract-ocr-ara fonts-noto-cjk
tesseract:
	@if ! command -v tesseract >/dev/null || ! tesseract --list-langs 2>/dev/null | grep -qx chi_sim \
		|| [ ! -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(OCR_PACKAGES) \
			|| { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(OCR_PACKAGES); }; \
		else \
			echo "Reading text needs Tesseract: sudo apt-get install -y $(OCR_PACKAGES)" >&2; \
		fi; \
	fi

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(MANAGE) makemigrations --check --dry-run

# Supply chain: known vulnerabilities in our pins (pip-audit; bump the pin when one is found),
# and medium/high-severity findings in our own code (bandit).
audit: install
	$(VENV)/bin/python .ci/pip_audit_check.py
	$(VENV)/bin/bandit -q -r cases evidence api web config -ll

# One worker for every queue: a worker without -Q consumes all the declared queues (docker-compose
# splits them: `worker` ingest, `video-worker` videos, `export-worker` exports). It recovers lost
# and abandoned jobs by itself; Celery beat is optional (`celery -A config beat` deletes expired
# export bundles).
worker: install
	$(VENV)/bin/celery -A config worker -l info

# What the benchmarks need from Debian: wrk (API load), nginx (the sustained load goes through
# the compose proxy's configuration) and real photographs of 12–24 megapixels
# (lomiri-wallpapers-16.04 and -20.04).
bench-tools:
	@missing=""; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	[ -x /usr/sbin/nginx ] || missing="$$missing nginx-light"; \
	[ -e /usr/share/backgrounds/sunset_by_Aitzol_Berasategi.jpg ] || missing="$$missing lomiri-wallpapers-16.04"; \
	[ -e /usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg ] || missing="$$missing lomiri-wallpapers-20.04"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
		else \
			echo "The benchmarks need:$$missing (sudo apt-get install -y$$missing)" >&2; \
		fi; \
	fi

# Every benchmarks/*.py script in turn (files starting with "_" are shared helpers).
bench: install bench-tools
	@set -e; for script in benchmarks/*.py; do \
		[ -e "$$script" ] || continue; \
		case "$$(basename "$$script")" in _*) continue;; esac; \
		echo "== $$script"; \
		PYTHONPATH=$(CURDIR) DJANGO_SETTINGS_MODULE=config.settings $(VENV)/bin/python "$$script"; \
	done

# Third-party browser assets, pinned in package.json/package-lock.json. The copies in
# static/vendor/ are committed, so `make run` needs nothing but Python; run this after changing
# a version.
vendor:
	npm ci --no-audit --no-fund
	rm -rf static/vendor && mkdir -p static/vendor/htmx static/vendor/leaflet/images \
		static/vendor/world-atlas static/vendor/topojson-client
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/htmx.org/LICENSE static/vendor/htmx/
	cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.js.map \
		node_modules/leaflet/dist/leaflet.css node_modules/leaflet/LICENSE static/vendor/leaflet/
	cp node_modules/leaflet/dist/images/*.png static/vendor/leaflet/images/
	# The offline basemap (country borders and coastlines) drawn when tiles cannot load.
	cp node_modules/world-atlas/countries-50m.json node_modules/world-atlas/LICENSE \
		static/vendor/world-atlas/
	cp node_modules/topojson-client/dist/topojson-client.min.js \
		node_modules/topojson-client/LICENSE static/vendor/topojson-client/

# Build and test leftovers only: keeps .venv, db.sqlite3 and media/.
clean:
	rm -rf staticfiles .pytest_cache .ruff_cache tests/artifacts
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
