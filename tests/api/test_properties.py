"""Random and hostile query strings, cursors, paths and bodies at every endpoint: never a 5xx, and every
4xx a problem. Successful answers are checked against the OpenAPI document too."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.params import JobListParams
from tests.api.conftest import AUTH, assert_problem

FUZZ = settings(
    max_examples=100,
    deadline=None,
    database=None,  # no example database left behind in the work tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
LIST_PARAMS = list(JobListParams.model_fields)
# Text a client can put in a URL (UTF-8 encodable), biased towards the edges that break parsers.
text = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "-1",
        "0",
        "1e3",
        "NaN",
        "9" * 30,
        "2026-01-01T00:00:00",
        "2026-01-01T00:00:00+00:00",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "'; DROP TABLE job; --",
        "%",
        "_",
        "\\",
        "running,FAILED,",
        "-created_at",
        "name",
    ]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
cursor_payloads = st.one_of(
    json_values,
    st.tuples(st.integers(-1, 2), text, st.sampled_from(["n", "p", "x"]), json_values, json_values).map(list),
    st.tuples(st.just(1), st.text(max_size=12), st.sampled_from(["n", "p"]), text, st.integers()).map(list),
)
cursors = st.one_of(
    text,
    st.binary(max_size=64).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")),
    cursor_payloads.map(lambda p: base64.urlsafe_b64encode(json.dumps(p).encode()).decode().rstrip("=")),
)
query_pairs = st.lists(st.tuples(st.sampled_from([*LIST_PARAMS, "limit", "x", ""]) | text, text), max_size=6)
job_ids = st.one_of(st.integers(-5, 2**64).map(str), text.map(lambda t: quote(t, safe="")))


def check(response, contract):
    """The property: below 500, a problem when refused, the documented shape when accepted."""
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert_problem(response)
    elif response.status_code in (200, 201, 204):
        contract(response)


@pytest.fixture
def job(job_factory):
    return job_factory(history=(("RUNNING", job_factory()["created_at"]),))


@FUZZ
@given(pairs=query_pairs)
def test_list_with_any_query(client, contract, job, pairs):
    check(client.get("/api/jobs/?" + urlencode(pairs)), contract)


@FUZZ
@given(raw=st.binary(max_size=80))
def test_every_get_endpoint_with_raw_query_bytes(client, contract, job, raw):
    for path in ("/api/jobs/", f"/api/jobs/{job['id']}/", f"/api/jobs/{job['id']}/history/", "/api/stats/"):
        check(client.get(path, query_string=raw.decode("latin-1")), contract)
    check(client.get("/api/stats/timeseries/", query_string=raw.decode("latin-1")), contract)


@FUZZ
@given(cursor=cursors, ordering=st.sampled_from(["-created_at", "name", "updated_at"]))
def test_any_cursor(client, contract, job, cursor, ordering):
    check(client.get("/api/jobs/?" + urlencode({"ordering": ordering, "cursor": cursor})), contract)
    check(client.get(f"/api/jobs/{job['id']}/history/?" + urlencode({"cursor": cursor})), contract)


@FUZZ
@given(
    job_id=job_ids,
    method=st.sampled_from(["get", "delete", "post", "put"]),
    sub=st.sampled_from(["", "history/", "status/"]),
)
def test_any_job_path(client, contract, job_id, method, sub):
    check(
        getattr(client, method)(f"/api/jobs/{job_id}/{sub}", headers=AUTH, json={"status": "RUNNING"}),
        contract,
    )


@FUZZ
@given(
    pairs=st.lists(st.tuples(st.sampled_from(["bucket", "since", "until", "status", "x"]), text), max_size=4)
)
def test_timeseries_with_any_query(client, contract, pairs):
    check(client.get("/api/stats/timeseries/?" + urlencode(pairs)), contract)


@FUZZ
@given(
    body=json_values
    | st.fixed_dictionaries({"name": text}, optional={"status": text, "timestamp": text, "x": json_values}),
    endpoint=st.sampled_from(["create", "append"]),
)
def test_any_json_body(client, contract, job, body, endpoint):
    url = "/api/jobs/" if endpoint == "create" else f"/api/jobs/{job['id']}/status/"
    # Encoded here, not by the app's orjson (which refuses integers beyond 64 bits before sending).
    check(client.post(url, data=json.dumps(body), content_type="application/json", headers=AUTH), contract)


@FUZZ
@given(
    data=st.binary(max_size=200),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "", "application/json; charset=latin-1", "multipart/form-data"]
    ),
    authorization=st.sampled_from(
        [AUTH["Authorization"], "", "Bearer", "Bearer x", "Basic Zm9vOmJhcg==", "Bearer \x7f"]
    ),
)
def test_any_bytes_any_content_type_any_authorization(
    client, contract, job, data, content_type, authorization
):
    headers = {"Authorization": authorization} if authorization else {}
    if content_type:
        headers["Content-Type"] = content_type
    for url in ("/api/jobs/", f"/api/jobs/{job['id']}/status/"):
        check(client.post(url, data=data, headers=headers), contract)
