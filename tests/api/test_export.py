"""``GET /api/jobs/export.csv``: exactly the list's rows in its order, CSV that spreadsheets read safely,
streamed, under its own timeout, and stopped when the client goes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import logging
import random
import threading
import time
from urllib.parse import urlencode

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

import dashboard.api.export as export_view
from db import export, queries, writes
from tests.api.conftest import assert_problem, field_errors
from tests.conftest import T0, requires_postgres

H = dt.timedelta(hours=1)
# Names that need quoting, that start like a formula, and that share families and collide when sorted.
NAMES = [
    "etl-orders-1",
    "etl-orders-22",
    "sync, crm-3",
    'say "hi"-4',
    "multi\nline-5",
    "=SUM(A1:A9)-6",
    "+1-555-7",
    "-rm-8",
    "@import-9",
    "alpha",
    "beta",
]
STATUSES = ["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]
VIEWS = {
    "none": {},
    "one status": {"status": "FAILED"},
    "two statuses": {"status": "pending,RUNNING"},
    "name": {"q": "a"},
    "family": {"family": "etl-orders"},
    "family and status": {"family": "etl-orders", "status": "COMPLETED,FAILED"},
    "created range": {"created_after": "2026-01-01T02:00:00Z", "created_before": "2026-01-01T09:00:00+00:00"},
    "everything": {"status": "RUNNING,COMPLETED,PENDING", "q": "e", "created_after": "2026-01-01T01:00:00Z"},
}


def seed(database, count, seed_value=7):
    """Jobs whose names, statuses and times collide often (ties are broken by id)."""
    rnd = random.Random(seed_value)
    with database.write() as conn:
        for _ in range(count):
            created = T0 + rnd.randrange(12) * H
            job = writes.create_job(conn, name=rnd.choice(NAMES), status="PENDING", timestamp=created)
            writes.append_status(
                conn, job_id=job["id"], status=rnd.choice(STATUSES), timestamp=created + rnd.randrange(3) * H
            )


def read_csv(response):
    """The header and the rows of a CSV answer."""
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True), newline="")))
    return rows[0], rows[1:]


def list_pages(client, params):
    """Every job of the list's view, following its next links (a name search may answer partial pages)."""
    jobs, url = [], "/api/jobs/?" + urlencode({**params, "page_size": 4})
    while url:
        body = client.get(url).get_json()
        jobs += body["results"]
        url = body["next"]
    return jobs


def as_cells(job):
    """A list row as the CSV spells it: text neutralised, times ISO 8601 UTC with microseconds."""

    def cell(value):
        if isinstance(value, str) and value.startswith(export.FORMULA_PREFIXES):
            return "'" + value
        return value

    return [
        str(job["id"]),
        cell(job["name"]),
        cell(job["family"]),
        job["status"],
        dt.datetime.fromisoformat(job["created_at"]).isoformat(timespec="microseconds"),
        dt.datetime.fromisoformat(job["updated_at"]).isoformat(timespec="microseconds"),
        "" if job["duration"] is None else f"{job['duration']:.3f}",
    ]


def test_every_view_and_ordering_exports_the_list_pages_rows_in_order(client, database):
    seed(database, 60)
    for (label, params), ordering in itertools.product(VIEWS.items(), queries.ORDERINGS):
        view = {**params, "ordering": ordering}
        expected = list_pages(client, view)
        header, rows = read_csv(client.get("/api/jobs/export.csv?" + urlencode(view)))
        assert header == ["id", "name", "family", "status", "created_at", "updated_at", "duration"]
        assert rows == [as_cells(job) for job in expected], (label, ordering)
    # The filters really filter: the views are not all the whole table.
    assert len(read_csv(client.get("/api/jobs/export.csv?status=FAILED"))[1]) < 60


def test_quoting_and_formula_injection(client, database, job_factory):
    for name in ["a,b", 'q"x', "two\nlines", "=cmd|' /C calc'!A0", "+1", "-2", "@SUM(1)", "ok"]:
        job_factory(name=name)
    # Names are trimmed when written through the API: put a leading tab and CR in directly.
    with database.write() as conn:
        conn.execute(text("UPDATE job SET name = :n WHERE name = 'ok'"), {"n": "\tx\rcr"})
    response = client.get("/api/jobs/export.csv?ordering=created_at")
    raw = response.get_data()
    assert b'"a,b"' in raw and b'"q""x"' in raw and b'"two\nlines"' in raw
    assert b'"\'\tx\rcr"' in raw  # neutralised, and quoted for its CR
    _, rows = read_csv(response)
    assert [row[1] for row in rows] == [
        "a,b",
        'q"x',
        "two\nlines",
        "'=cmd|' /C calc'!A0",
        "'+1",
        "'-2",
        "'@SUM(1)",
        "'\tx\rcr",
    ]
    assert rows[3][2] == "'=cmd|' /C calc'!A0"  # the family is text too
    assert raw.count(b"\n") == 1 + 8 + 2  # header, rows, and the newline quoted in a name and its family


def test_headers_name_a_utc_attachment_never_cached_or_compressed(client, job_factory):
    for i in range(50):
        job_factory(name=f"padding-name-to-make-the-body-compressible-{i}")
    response = client.get("/api/jobs/export.csv", headers={"Accept-Encoding": "br, gzip"}, buffered=False)
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="jobs-') and disposition.endswith('Z.csv"')
    stamp = dt.datetime.strptime(disposition.split("jobs-")[1][:15], "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
    assert abs(dt.datetime.now(dt.UTC) - stamp) < dt.timedelta(minutes=1)
    assert response.headers["Cache-Control"] == "no-store"
    assert "Content-Encoding" not in response.headers and "Content-Length" not in response.headers
    assert response.is_streamed
    assert len(read_csv(response)[1]) == 50


def test_it_is_streamed_chunk_by_chunk(client, database, monkeypatch):
    seed(database, 40)
    monkeypatch.setattr(export, "CHUNK_BYTES", 200)
    response = client.get("/api/jobs/export.csv", buffered=False)
    chunks = iter(response.response)
    first = next(chunks)
    # The first chunk goes out with the first row, before the rest is read.
    assert first.count(b"\n") == 2 and first.startswith(b"id,name,")
    rest = list(chunks)
    assert len(rest) > 10 and all(len(chunk) < 200 + 200 for chunk in rest)
    response.close()
    rows = list(csv.reader(io.StringIO(b"".join([first, *rest]).decode(), newline="")))
    assert len(rows) == 41


def test_bad_parameters_are_problems(client):
    cases = {
        "page_size=10": "page_size",
        "cursor=abc": "cursor",
        "page_size=10&cursor=abc": "cursor",
        "status=DONE": "status",
        "ordering=size": "ordering",
        "created_after=yesterday": "created_after",
        "created_after=2026-01-02T00:00:00Z&created_before=2026-01-01T00:00:00Z": "created_before",
        "format=xlsx": "format",
    }
    for query, field in cases.items():
        assert field in field_errors(client.get(f"/api/jobs/export.csv?{query}")), query


def test_reads_need_credentials_when_basic_auth_is_set(make_app):
    client = make_app(basic_auth=("viewer", "secret")).server.test_client()
    assert client.get("/api/jobs/export.csv").status_code == 401
    answer = client.get("/api/jobs/export.csv", auth=("viewer", "secret"))
    assert answer.status_code == 200
    assert answer.get_data() == b"id,name,family,status,created_at,updated_at,duration\n"


def test_an_error_after_the_first_byte_ends_the_stream_and_is_logged(
    client, job_factory, monkeypatch, caplog
):
    job_factory()

    def failing(conn, **_):
        yield b"id,name\n1,a\n"
        raise OperationalError("COPY", {}, Exception("the server went away"))

    monkeypatch.setattr(export_view, "stream_csv", failing)
    response = client.get("/api/jobs/export.csv", buffered=False)
    assert response.status_code == 200
    chunks = iter(response.response)
    assert next(chunks) == b"id,name\n1,a\n"
    with caplog.at_level(logging.ERROR, logger=export_view.__name__), pytest.raises(OperationalError):
        next(chunks)
    assert [r.getMessage() for r in caplog.records] == ["CSV export ended early"]
    response.close()


def test_the_export_is_in_the_contract(client, contract, job_factory):
    job_factory()
    contract(client.get("/api/jobs/export.csv?status=pending&ordering=name"))
    assert_problem(contract(client.get("/api/jobs/export.csv?page_size=5")), 400)
    operation = client.get("/api/openapi.json").get_json()["paths"]["/api/jobs/export.csv"]["get"]
    assert set(operation["responses"]["200"]["content"]) == {"text/csv"}
    listed = client.get("/api/openapi.json").get_json()["paths"]["/api/jobs/"]["get"]["parameters"]
    assert [p["name"] for p in operation["parameters"]] == [
        p["name"] for p in listed if p["name"] not in {"page_size", "cursor"}
    ]


def export_queries(database):
    """The export statements running on the server, seen from another session."""
    with database.writer.connect() as conn:
        return conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE query LIKE 'COPY (SELECT job.id%' "
                "AND pid <> pg_backend_pid() AND state <> 'idle'"
            )
        ).all()


@requires_postgres
def test_a_client_that_goes_stops_the_query(client, database):
    # Wide rows (about 500 bytes each, 20 MB in all): the COPY outlasts what the sockets can buffer.
    with database.write() as conn:
        conn.execute(text("SET LOCAL statement_timeout = 0"))
        conn.execute(
            text(
                "INSERT INTO job (name, family, created_at, updated_at, status_since, current_status_type) "
                "SELECT repeat('n', 200) || n, repeat('f', 250), t, t, t, 'PENDING' "
                "FROM generate_series(1, 40000) AS n, "
                "LATERAL (SELECT TIMESTAMPTZ '2026-01-01' + n * INTERVAL '1 second') AS at(t)"
            )
        )
    response = client.get("/api/jobs/export.csv", buffered=False)
    chunks = iter(response.response)
    received = sum(len(next(chunks)) for _ in range(3))
    assert received < 40_000 * 500 and export_queries(database)  # still running, mid-way
    response.close()  # what the WSGI server does when the client has gone
    deadline = time.monotonic() + 10
    while export_queries(database) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert export_queries(database) == []
    # The connection went back to the pool usable: the next export on it is whole.
    window = urlencode({"created_after": "2026-01-01T00:00:01Z", "created_before": "2026-01-01T00:01:41Z"})
    assert len(read_csv(client.get(f"/api/jobs/export.csv?{window}"))[1]) == 100


@requires_postgres
@pytest.mark.parametrize(("export_ms", "page_ms", "status"), [(300, 0, 503), (0, 300, 200)])
def test_the_export_has_its_own_statement_timeout(
    make_app, database, job_factory, export_ms, page_ms, status
):
    job_factory()
    client = make_app(
        export_statement_timeout_ms=export_ms, db_statement_timeout_ms=page_ms
    ).server.test_client()
    locked, release = threading.Event(), threading.Event()

    def hold_the_table():
        with database.writer.connect() as conn, conn.begin():
            conn.execute(text("LOCK TABLE job IN ACCESS EXCLUSIVE MODE"))
            locked.set()
            release.wait(5)

    holder = threading.Thread(target=hold_the_table)
    holder.start()
    locked.wait(5)
    threading.Timer(1.5, release.set).start()  # the lock goes after the shorter timeout, if any
    response = client.get("/api/jobs/export.csv")
    release.set()
    holder.join()
    assert response.status_code == status
    if status == 503:
        assert_problem(response, 503)  # before the first byte: an answer, not a broken stream
    else:
        assert len(read_csv(response)[1]) == 1
