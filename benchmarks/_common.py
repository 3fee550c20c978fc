"""What the benchmarks share: a database of their own, timing, the machine, RESULTS.md.

Every benchmark measures our code and a baseline in the same process, so that the ratio holds on
a noisy machine, and appends its medians (of at least five runs) to benchmarks/RESULTS.md.

Environment:
  BENCH_POSTGRES_URL  the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres);
                      each benchmark creates (and drops afterwards) its own database there.
  BENCH_REDIS_URL     Redis for the worker benchmark (default redis://127.0.0.1:6379/6).
  BENCH_KEEP=1        keep the benchmark's database afterwards (to look at the plans).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import secrets
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
REDIS_URL = os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/6"
RUNS = max(5, int(os.environ.get("BENCH_RUNS", "5")))
BACKGROUNDS = Path("/usr/share/backgrounds")
# The photographs of 12–24 megapixels in Debian's lomiri-wallpapers-16.04 and -20.04 (the others
# of that size there are a digital painting and a render): real camera JPEGs, `make bench-tools`.
PHOTOGRAPHS = [
    "sunset_by_Aitzol_Berasategi.jpg",  # 4272×2848, progressive
    "Dragonfly_by_Bolly.jpg",  # 4224×3168, progressive
    "seeding_by_Clements_Engelhardt.jpg",  # 5312×2988, progressive
    "Kleiber_by_Lukas_Baubkus.jpg",  # 6028×3391, baseline
]

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def database_url(name: str) -> str:
    parts = urlsplit(POSTGRES_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin_connection():
    import psycopg

    return psycopg.connect(POSTGRES_URL, autocommit=True)


def database_create(name: str) -> str:
    """A fresh, empty database `name` on the benchmark server; returns its URL."""
    from psycopg import sql

    with _admin_connection() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url(name)


def database_drop(name: str) -> None:
    if os.environ.get("BENCH_KEEP") == "1":
        print(f"Kept database {name} (BENCH_KEEP=1)")
        return
    from django.db import connections
    from psycopg import sql

    connections.close_all()
    with _admin_connection() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def django_setup(database: str, **environ: str) -> str:
    """Point the settings at a fresh database `database`, set up Django and migrate.
    Returns the database URL (for child processes such as gunicorn or Celery)."""
    url = database_create(database)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.update(environ)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return url


def timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.0f} GB RAM"
                break
    except OSError:
        pass
    postgres = ""
    try:
        with _admin_connection() as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
            postgres = f", PostgreSQL {version.split()[0]}"
    except Exception:  # noqa: BLE001, S110 - the description is best effort
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}{postgres}"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def record(title: str, body: str) -> None:
    """Append one benchmark's results, dated and with the machine, to RESULTS.md."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Benchmark results\n\nAppended by `make bench` (each script in benchmarks/); the "
            "latest run of each benchmark is last.\n"
        )
    with RESULTS.open("a") as out:
        out.write(f"\n## {title} — {now}\n\nMachine: {machine()}.\n\n{body.strip()}\n")
    print(f"\n## {title}\n\n{body.strip()}\n\n(appended to {RESULTS.relative_to(ROOT)})")


def rows_clone(model, *, template_pk: int, source_sql: str, overrides: dict[str, str]) -> int:
    """Insert one row of `model` per row of `source_sql` (aliased `g`), server-side: every
    column is copied from the template row except `overrides` (column -> SQL over `g`); the
    primary key comes from its sequence unless overridden. Returns the number of rows.

    Fast (no Python per row), and the rows are what the app would store, whatever columns other
    engineers add later, since the template is made through the ORM."""
    from django.db import connection

    quote = connection.ops.quote_name
    columns = [
        field.column
        for field in model._meta.concrete_fields
        if not field.generated and (not field.primary_key or field.column in overrides)
    ]
    select = ", ".join(overrides.get(c, f"t.{quote(c)}") for c in columns)
    table, key = quote(model._meta.db_table), quote(model._meta.pk.column)
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608 - our SQL
        f"SELECT {select} FROM ({source_sql}) g, {table} t WHERE t.{key} = {int(template_pk)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)  # no parameters: the SQL may use % as an operator
        return cursor.rowcount


def gunicorn_start(
    database_url: str,
    *,
    port: int,
    workers: int,
    environ: dict[str, str] | None = None,
    options: Sequence[str] = (),
) -> subprocess.Popen:
    """The app under gunicorn as a deployment runs it (DEBUG off, plain HTTP on loopback), with
    the benchmark URLconf (benchmarks/_api_urls.py: the app's URLs plus baselines). `options`
    are more of gunicorn's command-line options (a worker class, threads)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "benchmarks._api_settings",
        "PYTHONPATH": str(ROOT),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        "SECURE_HSTS_SECONDS": "0",
        "LOG_LEVEL": "WARNING",
        **(environ or {}),
    }
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "300",
            "--log-level",
            "warning",
            *options,
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(150):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):  # noqa: S310
                return server
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("gunicorn did not come up")
