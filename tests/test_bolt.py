"""Connecting to a graph server, against a real Bolt server (ArcadeDB in a child process, see
bolt_server.py): settings from arguments and NEO4J_* variables, and clear errors that never
show the password."""

from __future__ import annotations

import logging

import pytest

from hippograph import Memory, StoreError
from hippograph.store.bolt import BoltSettings, connect, is_server_uri

from .bolt_server import free_port


def test_connects_with_arguments_or_the_environment(bolt_server, monkeypatch, caplog):
    database = bolt_server.new_database()
    caplog.set_level(logging.INFO)
    with connect(BoltSettings.from_env(bolt_server.uri, bolt_server.auth, database)) as driver:
        assert driver.execute_query("RETURN 41 + 1 AS x", database_=database).records[0]["x"] == 42
    monkeypatch.setenv("NEO4J_URI", bolt_server.uri)
    monkeypatch.setenv("NEO4J_USERNAME", bolt_server.user)
    monkeypatch.setenv("NEO4J_PASSWORD", bolt_server.password)
    monkeypatch.setenv("NEO4J_DATABASE", database)
    settings = BoltSettings.from_env()
    assert (settings.uri, settings.username, settings.database) == (bolt_server.uri, "root", database)
    with connect(settings):
        pass
    assert bolt_server.password not in repr(settings) + settings.describe() + caplog.text
    assert "ArcadeDB" in caplog.text, "the log names the server it reached"


def test_connection_failures_say_what_to_check_and_never_show_the_password(bolt_server, monkeypatch):
    for variable in ("NEO4J_URI", "NEO4J_USERNAME", "NEO4J_PASSWORD", "NEO4J_DATABASE"):
        monkeypatch.delenv(variable, raising=False)
    database = bolt_server.new_database()
    wrong = "not-the-password-123"
    cases = [
        (BoltSettings(bolt_server.uri, "root", wrong, database), "refused user 'root': check NEO4J_USERNAME"),
        (BoltSettings(f"bolt://127.0.0.1:{free_port()}", "root", wrong, database), "cannot reach the graph server"),
        (BoltSettings(bolt_server.uri, "root", bolt_server.password, "no_such_db"), "has no database 'no_such_db'"),
    ]
    for settings, message in cases:
        with pytest.raises(StoreError, match=message) as caught:
            connect(settings)
        assert wrong not in str(caught.value) and bolt_server.password not in str(caught.value)
    with pytest.raises(StoreError, match="set NEO4J_URI"):
        BoltSettings.from_env()
    with pytest.raises(StoreError, match="takes no user or password") as caught:
        BoltSettings.from_env(f"bolt://root:{wrong}@127.0.0.1:7687")
    assert wrong not in str(caught.value)
    with pytest.raises(StoreError, match="not a graph server URI"):
        BoltSettings.from_env("http://127.0.0.1:7474")


def test_server_uris_are_told_from_folders():
    assert is_server_uri("bolt://localhost:7687") and is_server_uri("neo4j+s://db.example.org")
    assert not is_server_uri("./memory") and not is_server_uri("bolt") and not is_server_uri("file:///tmp/x")


def test_reading_commands_refuse_a_database_without_a_store(bolt_server, monkeypatch, tmp_path):
    database = bolt_server.new_database()
    for variable, value in (
        ("NEO4J_USERNAME", bolt_server.user),
        ("NEO4J_PASSWORD", bolt_server.password),
        ("NEO4J_DATABASE", database),
    ):
        monkeypatch.setenv(variable, value)
    with pytest.raises(StoreError, match=f"no hippograph store in {bolt_server.uri} as root, database {database}"):
        Memory(bolt_server.uri, create=False)
    with connect(BoltSettings.from_env(bolt_server.uri)) as driver:
        assert driver.execute_query("MATCH (n) RETURN count(n) AS c", database_=database).records[0]["c"] == 0, (
            "a refused open writes nothing"
        )
    with Memory(bolt_server.uri) as memory:  # a writing command creates it
        assert memory.stats().documents == 0
    with Memory(bolt_server.uri, create=False) as memory:
        assert "database" in repr(memory) and bolt_server.password not in repr(memory)
