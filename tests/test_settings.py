"""Settings: defaults, parsing, and one clear error naming the variable."""

import pytest

from dashboard.settings import Settings, SettingsError


def test_defaults_match_the_configuration_table():
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///jobdash.db"
    assert settings.read_database_url is None
    assert (settings.db_pool_size, settings.db_max_overflow, settings.db_pool_timeout) == (5, 5, 5)
    assert settings.db_statement_timeout_ms == 5000
    assert settings.export_statement_timeout_ms == 600_000
    assert settings.cache_url is None and settings.cache_ttl == 5
    assert (settings.default_page_size, settings.max_page_size) == (50, 200)
    assert settings.api_tokens == () and settings.allow_anonymous_writes is False
    assert settings.basic_auth is None
    assert (settings.log_format, settings.log_level) == ("json", "INFO")
    assert (settings.port, settings.web_concurrency, settings.threads) == (8050, 2, 4)
    assert settings.db_connect_timeout == 5 and settings.metrics is True


def test_postgres_urls_use_psycopg3():
    settings = Settings.from_env(
        {
            "JOBDASH_DATABASE_URL": "postgresql://u:p@db:5432/jobs",
            "JOBDASH_READ_DATABASE_URL": "postgres://r@replica/jobs",
        }
    )
    assert settings.database_url == "postgresql+psycopg://u:p@db:5432/jobs"
    assert settings.read_database_url == "postgresql+psycopg://r@replica/jobs"


def test_values_are_parsed():
    settings = Settings.from_env(
        {
            "JOBDASH_API_TOKENS": " a, b ,,c ",
            "JOBDASH_ALLOW_ANONYMOUS_WRITES": "yes",
            "JOBDASH_BASIC_AUTH": "admin:s3cret:with-colon",
            "JOBDASH_CACHE_URL": "redis://127.0.0.1:6379/0",
            "JOBDASH_LOG_LEVEL": "debug",
            "JOBDASH_MAX_PAGE_SIZE": "500",
        }
    )
    assert settings.api_tokens == ("a", "b", "c")
    assert settings.allow_anonymous_writes is True
    assert settings.basic_auth == ("admin", "s3cret:with-colon")
    assert settings.cache_url == "redis://127.0.0.1:6379/0"
    assert settings.log_level == "DEBUG"
    assert settings.max_page_size == 500


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("JOBDASH_DATABASE_URL", "mysql://localhost/x"),
        ("JOBDASH_DB_POOL_SIZE", "0"),
        ("JOBDASH_DB_POOL_SIZE", "five"),
        ("JOBDASH_DB_STATEMENT_TIMEOUT_MS", "-1"),
        ("JOBDASH_EXPORT_STATEMENT_TIMEOUT_MS", "-1"),
        ("JOBDASH_EXPORT_STATEMENT_TIMEOUT_MS", "ten minutes"),
        ("JOBDASH_CACHE_URL", "memcached://x"),
        ("JOBDASH_CACHE_TTL", "-5"),
        ("JOBDASH_MAX_PAGE_SIZE", "0"),
        ("JOBDASH_ALLOW_ANONYMOUS_WRITES", "maybe"),
        ("JOBDASH_BASIC_AUTH", "nopassword"),
        ("JOBDASH_LOG_FORMAT", "xml"),
        ("JOBDASH_LOG_LEVEL", "LOUD"),
        ("PORT", "70000"),
        ("WEB_CONCURRENCY", "0"),
        ("JOBDASH_THREADS", "x"),
        ("JOBDASH_FAMILY_PATTERN", "-([0-9]+"),
        ("JOBDASH_FAMILY_PATTERN", "x" * 1001),
        ("JOBDASH_MAX_FAMILIES", "0"),
        ("JOBDASH_DB_CONNECT_TIMEOUT", "0"),  # libpq would wait for ever
        ("JOBDASH_DB_CONNECT_TIMEOUT", "1"),  # libpq's floor is 2 s: say so instead of rounding
        ("JOBDASH_METRICS", "sometimes"),
    ],
)
def test_a_bad_value_names_its_variable(variable, value):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value})
    message = str(caught.value)
    assert message.startswith(variable + " ")
    assert "\n" not in message


def test_default_page_size_cannot_exceed_the_maximum():
    with pytest.raises(SettingsError, match="JOBDASH_DEFAULT_PAGE_SIZE"):
        Settings.from_env({"JOBDASH_DEFAULT_PAGE_SIZE": "300"})


def test_families_default_to_the_name_without_its_run_id():
    rules = Settings.from_env({}).family_rules
    assert rules.cap == 1000
    assert [
        rules.family_of(name)
        for name in (
            "etl-orders-1234",
            "etl-orders-3f9a2c1",
            "report-550e8400-e29b-41d4-a716-446655440000",
            "nightly-backup",  # no run id: its own family
            "cache-deadbeef",  # all letters: a word, not an id
            "-42",  # nothing would be left: its own family
        )
    ] == ["etl-orders", "etl-orders", "report", "nightly-backup", "cache-deadbeef", "-42"]


def test_a_family_pattern_removes_what_it_matches_or_keeps_its_family_group():
    tail = Settings.from_env({"JOBDASH_FAMILY_PATTERN": r"\.run\d+$", "JOBDASH_MAX_FAMILIES": "5"})
    assert tail.family_rules.family_of("ingest.run42") == "ingest" and tail.family_rules.cap == 5
    group = Settings.from_env({"JOBDASH_FAMILY_PATTERN": r"^(?P<family>[a-z]+)-"}).family_rules
    assert group.family_of("etl-orders-1") == "etl"
