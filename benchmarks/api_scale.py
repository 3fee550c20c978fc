"""The REST API at scale: a case with 100,000 evidence items (70 % photos, with thumbnails,
flags and sources), 10,000 claims and 50,000 links, served by gunicorn; `wrk` (Debian's package)
against the API's evidence list (page of 50), claim list and claim detail, next to minimal
Django views that return the same rows with `.values()` from the same server
(benchmarks/_api_urls.py). Also the number of SQL queries per page at several page sizes,
which must not grow with the page.

Targets: at least 0.5x the baseline's requests per second, p99 under 100 ms at 8 connections,
a constant number of queries per page.

Run: `make bench`, or `.venv/bin/python benchmarks/api_scale.py` (needs `wrk`:
`apt-get install wrk`). BENCH_DRY=1 prints the results without recording them.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time

from _common import (
    RUNS,
    database_drop,
    django_setup,
    gunicorn_start,
    median,
    record,
    rows_clone,
    table,
)

DATABASE = "casefile_bench_api"
# BENCH_API_SCALE=0.1 makes a tenth of the case (to try the script out quickly).
SCALE = float(os.environ.get("BENCH_API_SCALE", "1"))
EVIDENCE = int(100_000 * SCALE)
CLAIMS = int(10_000 * SCALE)
LINKS = int(50_000 * SCALE)
SOURCES = 200
PORT = int(os.environ.get("BENCH_API_PORT", "8765"))
WORKERS = int(os.environ.get("BENCH_API_WORKERS", str(os.cpu_count() or 2)))
DURATION = int(os.environ.get("BENCH_WRK_SECONDS", "5"))
CONNECTIONS = 8
# The claim with many links: claims 0..9979 get 5 links each, the last one 100.
BIG_CLAIM_INDEX = CLAIMS - 1
EXIF = {
    "Make": "NIKON CORPORATION",
    "Model": "NIKON D850",
    "Software": "Ver.1.10",
    "DateTimeOriginal": "2026:05:25 09:14:03",
    "OffsetTimeOriginal": "+08:00",
    "ExposureTime": 0.004,
    "FNumber": 8.0,
    "ISOSpeedRatings": 200,
    "FocalLength": 35.0,
    "LensModel": "AF-S NIKKOR 24-70mm f/2.8E ED VR",
    "GPSInfo": {"GPSLatitude": [40, 7, 12.5], "GPSLongitude": [124, 23, 3.1]},
    **{f"MakerNote{i}": f"value {i} " * 4 for i in range(30)},
}


def load(case, user) -> dict:
    """The case's rows, built server-side from ORM-made templates in a separate case."""
    from cases.models import Case, Claim
    from evidence.models import Evidence, EvidenceLink, Photo, PhotoFlag, Source

    template_case = Case.objects.create(title="Template", created_by=user)
    t_source = Source.objects.create(
        case=template_case, kind=Source.Kind.PERSON, name="Template", created_by=user
    )
    t_evidence = Evidence.objects.create(
        case=template_case,
        kind=Evidence.Kind.PHOTO,
        collected_by=user,
        sha256="e" * 64,
        source=t_source,
        place_name="Dandong station",
        latitude=40.1203,
        longitude=124.3841,
    )
    t_photo = Photo.objects.create(
        evidence=t_evidence,
        status=Photo.Status.READY,
        width=3840,
        height=2400,
        camera_make="NIKON CORPORATION",
        camera_model="NIKON D850",
        taken_at_offset="+08:00",
        gps_latitude=40.1201,
        gps_longitude=124.3842,
        orientation=1,
        exif=EXIF,
    )
    t_flag = PhotoFlag.objects.create(photo=t_photo, code="no_camera_metadata", message="x")
    t_claim = Claim.objects.create(case=template_case, statement="Template", author=user)
    t_link = EvidenceLink.objects.create(
        evidence=t_evidence, claim=t_claim, stance="supports", created_by=user
    )

    rows_clone(
        Source,
        template_pk=t_source.pk,
        source_sql=f"SELECT n FROM generate_series(0, {SOURCES - 1}) n",
        overrides={
            "case_id": str(case.pk),
            "name": "'Source ' || g.n",
            "protected": "g.n % 10 = 0",
            "pseudonym": "CASE WHEN g.n % 10 = 0 THEN 'Protected ' || g.n ELSE '' END",
            "reliability": "chr(65 + g.n % 6)",
        },
    )
    source_base = Source.objects.filter(case=case).order_by("id").values_list("id", flat=True)[0]
    kind = (
        "CASE WHEN n % 10 < 7 THEN 'photo' WHEN n % 10 = 7 THEN 'document' "
        "WHEN n % 10 = 8 THEN 'link' ELSE 'testimony' END"
    )
    has_file = "g.kind IN ('photo', 'document')"
    rows_clone(
        Evidence,
        template_pk=t_evidence.pk,
        source_sql=f"SELECT n, {kind} AS kind FROM generate_series(0, {EVIDENCE - 1}) n",
        overrides={
            "case_id": str(case.pk),
            "kind": "g.kind",
            "title": "'Evidence ' || g.n",
            "description": "'Collected for the benchmark, item ' || g.n",
            "source_id": f"CASE WHEN g.kind = 'testimony' OR g.n % 3 <> 0 "
            f"THEN {source_base} + g.n % {SOURCES} END",
            "created_at": "now() - make_interval(secs => g.n)",
            "updated_at": "now() - make_interval(secs => g.n)",
            "observed_at": "now() - make_interval(hours => g.n::int)",
            "url": "CASE WHEN g.kind = 'link' THEN 'https://example.org/report/' || g.n "
            "ELSE '' END",
            "text": "CASE WHEN g.kind = 'testimony' THEN 'The goods were trucked away on 17 May "
            "(statement ' || g.n || ').' ELSE '' END",
            "stated_on": "CASE WHEN g.kind = 'testimony' THEN current_date END",
            "original": f"CASE WHEN {has_file} THEN 'originals/' || lpad(to_hex(g.n), 64, '0') "
            "ELSE '' END",
            "original_name": "CASE WHEN g.kind = 'photo' THEN 'IMG_' || g.n || '.jpg' "
            "WHEN g.kind = 'document' THEN 'report-' || g.n || '.pdf' ELSE '' END",
            "sha256": f"CASE WHEN {has_file} THEN lpad(to_hex(g.n), 64, '0') ELSE '' END",
            "size": f"CASE WHEN {has_file} THEN 2000000 + g.n END",
            "content_type": "CASE WHEN g.kind = 'photo' THEN 'image/jpeg' "
            "WHEN g.kind = 'document' THEN 'application/pdf' ELSE '' END",
        },
    )
    random64 = "(floor(random() * 4294967296)::bigint << 32) | floor(random() * 4294967296)::bigint"
    photos_sql = f"SELECT id FROM evidence_evidence WHERE case_id = {case.pk} AND kind = 'photo'"  # noqa: S608
    rows_clone(
        Photo,
        template_pk=t_photo.pk,
        source_sql=photos_sql,
        overrides={
            "evidence_id": "g.id",
            "thumbnail": "'derivatives/' || g.id || '/thumbnail.jpg'",
            "preview": "'derivatives/' || g.id || '/preview.jpg'",
            "taken_at": "now() - make_interval(hours => (g.id % 100000)::int)",
            "processed_at": "now()",
            "phash": random64,
            "dhash": random64,
        },
    )
    for modulo, code, message in (
        (5, "no_camera_metadata", "The file carries no camera metadata at all."),
        (10, "editing_software", "The file was saved by Adobe Photoshop 25.0."),
    ):
        rows_clone(
            PhotoFlag,
            template_pk=t_flag.pk,
            source_sql=f"{photos_sql} AND id % {modulo} = 0",
            overrides={"photo_id": "g.id", "code": f"'{code}'", "message": f"'{message}'"},
        )
    rows_clone(
        Claim,
        template_pk=t_claim.pk,
        source_sql=f"SELECT n FROM generate_series(0, {CLAIMS - 1}) n",
        overrides={
            "case_id": str(case.pk),
            "statement": "'The train never left Dandong (claim ' || g.n || ')'",
            "details": "'Photos of 14 and 25 May show the same cars at the same platform.'",
            "status": "CASE WHEN g.n % 2 = 0 THEN 'draft' ELSE 'in_review' END",
            "created_at": f"now() - make_interval(secs => {CLAIMS} - g.n)",
            "updated_at": "now()",
        },
    )
    numbered = (
        f"WITH c AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS i FROM cases_claim "
        f"WHERE case_id = {case.pk}), e AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS j "
        f"FROM evidence_evidence WHERE case_id = {case.pk}) "
    )
    link_overrides = {
        "claim_id": "g.claim_id",
        "evidence_id": "g.evidence_id",
        "stance": "(ARRAY['supports', 'contradicts', 'context'])[1 + g.j % 3]",
        "note": "'Same platform, same cars.'",
    }
    small = (LINKS - 100) // 5
    rows_clone(
        EvidenceLink,
        template_pk=t_link.pk,
        source_sql=numbered + "SELECT c.id AS claim_id, e.id AS evidence_id, e.j FROM c "
        f"JOIN e ON e.j / 5 = c.i WHERE c.i < {small}",
        overrides=link_overrides,
    )
    rows_clone(
        EvidenceLink,
        template_pk=t_link.pk,
        source_sql=numbered + "SELECT c.id AS claim_id, e.id AS evidence_id, e.j FROM c, e "
        f"WHERE c.i = {BIG_CLAIM_INDEX} AND e.j >= {LINKS - 100} AND e.j < {LINKS}",
        overrides=link_overrides,
    )
    from django.db import connection

    with connection.cursor() as cursor:
        for model in (Source, Evidence, Photo, PhotoFlag, Claim, EvidenceLink):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    claims = list(Claim.objects.filter(case=case).order_by("id").values_list("id", flat=True))
    counts = {
        "evidence": Evidence.objects.filter(case=case).count(),
        "photos": Photo.objects.filter(evidence__case=case).count(),
        "flags": PhotoFlag.objects.filter(photo__evidence__case=case).count(),
        "claims": len(claims),
        "links": EvidenceLink.objects.filter(claim__case=case).count(),
    }
    assert counts["evidence"] == EVIDENCE and counts["claims"] == CLAIMS, counts
    assert counts["links"] == LINKS, counts
    return {
        "counts": counts,
        "claim_5": claims[0],
        "claim_0": claims[small],
        "claim_100": claims[BIG_CLAIM_INDEX],
    }


def queries_per_page(urls: dict[str, str], key: str) -> dict[str, int]:
    """SQL queries one request makes (in this process, through the test client)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {key}")
    counts = {}
    with override_settings(ROOT_URLCONF="benchmarks._api_urls"):
        # Once first: the token's last-used time is written at most once a minute.
        client.get(next(iter(urls.values())))
        for name, url in urls.items():
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url)
            assert response.status_code == 200, (url, response.status_code, response.content[:300])
            counts[name] = len(queries)
    return counts


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, key: str) -> tuple[float, float, int]:
    """Requests per second, p99 latency in ms, and non-2xx answers."""
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{CONNECTIONS}",
            f"-d{DURATION}s",
            "--latency",
            "-H",
            f"Authorization: Token {key}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, p99, int(errors.group(1)) if errors else 0


def main() -> int:
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk", file=sys.stderr)
        return 1
    database_url = django_setup(DATABASE)
    from django.contrib.auth import get_user_model

    from cases.services import case_create
    from cases.tokens import token_create

    user = get_user_model().objects.create_user(username="olivia", password=secrets.token_hex())
    case = case_create(actor=user, title="The Dandong freight train")
    _, key = token_create(user=user, name="benchmark")
    print("Loading the case …", flush=True)
    started = time.perf_counter()
    ids = load(case, user)
    load_seconds = time.perf_counter() - started
    print(f"Loaded in {load_seconds:.0f} s: {ids['counts']}", flush=True)

    api = f"/api/v1/cases/{case.pk}"
    base = f"/baseline/cases/{case.pk}"
    # name: (ours, baseline)
    endpoints = {
        "evidence list (page of 50)": (f"{api}/evidence/", f"{base}/evidence/"),
        "claim list (page of 50)": (f"{api}/claims/", f"{base}/claims/"),
        "claim detail (5 links)": (
            f"/api/v1/claims/{ids['claim_5']}/",
            f"/baseline/claims/{ids['claim_5']}/",
        ),
    }
    query_urls = {}
    for size in (10, 50, 200):
        query_urls[f"evidence list, page of {size}"] = f"{api}/evidence/?page_size={size}"
        query_urls[f"claim list, page of {size}"] = f"{api}/claims/?page_size={size}"
    for links in (0, 5, 100):
        query_urls[f"claim detail, {links} links"] = f"/api/v1/claims/{ids[f'claim_{links}']}/"
    ours_queries = queries_per_page(query_urls, key)
    base_queries = queries_per_page(
        {
            "evidence list, page of 50": f"{base}/evidence/?page_size=50",
            "claim list, page of 50": f"{base}/claims/?page_size=50",
            "claim detail, 5 links": f"/baseline/claims/{ids['claim_5']}/",
        },
        key,
    )
    print(ours_queries, base_queries, flush=True)

    server = gunicorn_start(
        database_url,
        port=PORT,
        workers=WORKERS,
        environ={"API_THROTTLE_USER": "100000000/minute"},
    )
    results = {name: {"ours": [], "baseline": []} for name in endpoints}
    load_before = os.getloadavg()[0]
    try:
        for urls in endpoints.values():  # warm up every worker and cache
            for url in urls:
                wrk(f"http://127.0.0.1:{PORT}{url}", key)
        for _ in range(RUNS):
            for name, (ours, baseline) in endpoints.items():
                for variant, url in (("ours", ours), ("baseline", baseline)):
                    rps, p99, errors = wrk(f"http://127.0.0.1:{PORT}{url}", key)
                    assert errors == 0, (url, errors)
                    results[name][variant].append((rps, p99))
                    print(name, variant, round(rps, 1), p99, flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    load_after = os.getloadavg()[0]

    rows, verdicts = [], []
    for name, by_variant in results.items():
        ours_rps = median([r for r, _ in by_variant["ours"]])
        ours_p99 = median([p for _, p in by_variant["ours"]])
        base_rps = median([r for r, _ in by_variant["baseline"]])
        base_p99 = median([p for _, p in by_variant["baseline"]])
        ratio = ours_rps / base_rps if base_rps else float("nan")
        rows.append(
            (
                name,
                f"{ours_rps:.0f}",
                f"{ours_p99:.0f}",
                f"{base_rps:.0f}",
                f"{base_p99:.0f}",
                f"**{ratio:.2f}×**",
            )
        )
        met = ratio >= 0.5 and ours_p99 < 100
        verdicts.append(f"{name}: {'met' if met else 'NOT met'}")
    sizes = {}
    for label, count in ours_queries.items():
        what, _, size = label.partition(", ")
        sizes.setdefault(what, []).append(f"{size}: {count}")
    constant = all(
        len({c for lbl, c in ours_queries.items() if lbl.startswith(what)}) == 1 for what in sizes
    )
    body = (
        f"One case with {ids['counts']['evidence']:,} evidence items "
        f"({ids['counts']['photos']:,} photos with thumbnails, {ids['counts']['flags']:,} "
        f"flags, {SOURCES} sources), {ids['counts']['claims']:,} claims and "
        f"{ids['counts']['links']:,} links (loaded in {load_seconds:.0f} s). gunicorn "
        f"({WORKERS} sync workers, DEBUG off) serves both the API (token auth, DRF) and the "
        "baseline: minimal Django views returning the same rows with `.values()` "
        "(benchmarks/_api_urls.py). `wrk -t2 -c8` for "
        f"{DURATION} s per run; medians of {RUNS} runs, ours and the baseline alternating; "
        f"load average {load_before:.1f} before the runs, {load_after:.1f} after "
        "(the benchmark itself included).\n\n"
        + table(
            ["endpoint", "API req/s", "API p99 ms", "baseline req/s", "baseline p99 ms", "ratio"],
            rows,
        )
        + "\n\nSQL queries per request (the API; the baseline makes "
        + ", ".join(f"{k}: {v}" for k, v in base_queries.items())
        + "):\n\n"
        + "\n".join(f"- {what}: {', '.join(counts)}" for what, counts in sizes.items())
        + f"\n\nConstant whatever the page size: {'yes' if constant else 'NO'}. "
        + "Targets (≥ 0.5× baseline, p99 < 100 ms): "
        + "; ".join(verdicts)
        + "."
    )
    if os.environ.get("BENCH_DRY") == "1":
        print(body)
    else:
        record("API at scale (benchmarks/api_scale.py)", body)
    database_drop(DATABASE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
