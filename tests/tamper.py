"""Playing the attacker who owns the database: the append-only triggers (cases 0006) lifted for a
while, as a superuser (or anyone who may change the schema) would, then put back.

PostgreSQL disables them (`ALTER TABLE … DISABLE TRIGGER`, the table owner's right); SQLite has
no such switch, so they are dropped and created again from the SQL SQLite kept of them. Both
are part of the test's transaction, like the tampering itself."""

from contextlib import contextmanager

from django.db import connection

TABLES = (
    "cases_activity",
    "cases_activitysecret",
    "cases_activitycheckpoint",
    "cases_trustedtimestamp",
)


@contextmanager
def append_only_lifted():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # ALTER TABLE waits for no deferred foreign-key check: run them first, then defer
            # them again as Django's constraints are.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table in TABLES:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER casefile_append_only")
            try:
                yield
            finally:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                for table in TABLES:
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER casefile_append_only")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            return
        triggers = sqlite_triggers(cursor)
        for name, _ in triggers:
            cursor.execute(f'DROP TRIGGER "{name}"')
        try:
            yield
        finally:
            for _, sql in triggers:
                cursor.execute(sql)


def sqlite_triggers(cursor) -> list[tuple[str, str]]:
    cursor.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE "
        "'casefile_append_only%' ORDER BY name"
    )
    return list(cursor.fetchall())
