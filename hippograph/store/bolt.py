"""Connecting to a graph database server (Neo4j, or one that speaks its Bolt protocol and Cypher)
with the official `neo4j` driver.

Settings come from arguments, else NEO4J_URI, NEO4J_USERNAME, NEO4J_PASSWORD and
NEO4J_DATABASE. Failures become StoreErrors that say what to check; the password never
appears in a message, a log line or a repr.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from ..errors import StoreError

log = logging.getLogger(__name__)
CONNECT_SECONDS = 15.0
SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")
ENVIRONMENT = {
    "uri": "NEO4J_URI",
    "username": "NEO4J_USERNAME",
    "password": "NEO4J_PASSWORD",
    "database": "NEO4J_DATABASE",
}


def is_server_uri(location: object) -> bool:
    """Whether a store location names a graph server ("bolt://host:7687") rather than a folder."""
    if not isinstance(location, str):
        return False
    scheme, separator, _ = location.partition("://")
    return bool(separator) and scheme.lower() in SCHEMES


@dataclass(frozen=True)
class BoltSettings:
    """Where the server is and who connects. `database` None: the server's default database.
    `retry_seconds`: how long a read or a write is tried again while the server is unreachable or
    answers with a transient error (a restart, a leader switch) before it is a StoreError."""

    uri: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    database: str | None = None
    retry_seconds: float = 30.0

    @classmethod
    def from_env(
        cls, uri: str | None = None, auth: tuple[str, str] | None = None, database: str | None = None
    ) -> BoltSettings:
        """Settings from the arguments given, the NEO4J_* variables for the rest."""
        values = {name: os.environ.get(variable) or None for name, variable in ENVIRONMENT.items()}
        if uri is not None:
            values["uri"] = uri
        if auth is not None:
            values["username"], values["password"] = auth
        if database is not None:
            values["database"] = database
        if not values["uri"]:
            raise StoreError("no graph server named: pass a bolt:// or neo4j:// URI, or set NEO4J_URI")
        if not is_server_uri(values["uri"]):
            raise StoreError(
                f"{values['uri']!r} is not a graph server URI; use one of the schemes {', '.join(SCHEMES)}"
            )
        if "@" in values["uri"].partition("://")[2].partition("/")[0]:  # not echoed: it may hold a password
            raise StoreError(
                "a graph server URI takes no user or password (user@host); set NEO4J_USERNAME and "
                "NEO4J_PASSWORD, or pass auth="
            )
        return cls(**values)

    def describe(self) -> str:
        """The server, user and database for messages; never the password."""
        return f"{self.uri} as {self.username or '(no user)'}, database {self.database or '(default)'}"


def connect(settings: BoltSettings):
    """A driver whose server answered a query on the settings' database (StoreError otherwise)."""
    import neo4j

    auth = (settings.username, settings.password or "") if settings.username else None
    try:
        driver = neo4j.GraphDatabase.driver(
            settings.uri,
            auth=auth,
            connection_timeout=CONNECT_SECONDS,
            max_transaction_retry_time=settings.retry_seconds,
        )
    except (neo4j.exceptions.ConfigurationError, ValueError) as err:
        raise StoreError(f"cannot use the graph server URI {settings.uri!r}: {err}") from None
    try:
        with driver.session(database=settings.database) as session:  # one try: execute_query would retry for 30 s
            session.run("RETURN 1").consume()
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError) as err:
        driver.close()
        raise StoreError(_refusal(settings, err)) from None
    log.info("connected to %s (%s)", settings.describe(), driver.get_server_info().agent)
    return driver


def _refusal(settings: BoltSettings, err: Exception) -> str:
    """What a failed first query says to check."""
    import neo4j

    if isinstance(err, neo4j.exceptions.AuthError):
        return (
            f"the graph server {settings.uri} refused user {settings.username!r}: check NEO4J_USERNAME and "
            "NEO4J_PASSWORD"
        )
    if isinstance(err, neo4j.exceptions.ServiceUnavailable):
        return f"cannot reach the graph server {settings.uri} ({type(err).__name__}); is it running?"
    if "DatabaseNotFound" in (getattr(err, "code", None) or ""):
        return (
            f"the graph server {settings.uri} has no database {settings.database!r}; create it first or set "
            "NEO4J_DATABASE"
        )
    return f"the graph server {settings.uri} refused the connection: {getattr(err, 'message', None) or err}"
