"""A real Bolt server for the store tests: ArcadeDB (the arcadedb-embedded package, with its own
Java runtime) and its Bolt plugin, in a child process on 127.0.0.1. Neo4j itself cannot be
installed on these machines; ArcadeDB speaks the same protocol and Cypher to the official
`neo4j` driver. Neo4j-only features (Graph Data Science) are not exercised here; its vector index is
ArcadeDB's, made through its HTTP API (`index_passage_vectors`).

Run as a module, it is the child: ``python -m tests.bolt_server ROOT BOLT_PORT HTTP_PORT``
(password in $BOLT_TEST_PASSWORD) prints "ready" once the server listens and stops when its
standard input closes.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

from .processes import free_port

STARTUP_SECONDS = 120


class BoltServer:
    """Starts the child process on free ports and makes databases on it (one per test)."""

    user = "root"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.password = base64.urlsafe_b64encode(os.urandom(12)).decode()
        self.bolt_port, self.http_port = free_port(), free_port()
        self._log = self.root / "server.log"
        self._process: subprocess.Popen | None = None
        self._count = 0

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def auth(self) -> tuple[str, str]:
        return (self.user, self.password)

    def __enter__(self) -> BoltServer:
        self.start()
        return self

    def start(self) -> None:
        """Start the server (again, after `kill`: on the same ports and databases)."""
        repository = str(Path(__file__).resolve().parents[1])
        env = {
            **os.environ,
            "BOLT_TEST_PASSWORD": self.password,
            "PYTHONPATH": os.pathsep.join(filter(None, [repository, os.environ.get("PYTHONPATH")])),
        }
        with open(self._log, "ab") as log:  # the server logs into its working folder: the test's own
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.bolt_server",
                    str(self.root / "databases"),
                    str(self.bolt_port),
                    str(self.http_port),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=self.root,
                env=env,
            )
        ready = threading.Event()
        threading.Thread(
            target=lambda: ready.set() if self._process.stdout.readline().strip() == b"ready" else None, daemon=True
        ).start()
        if not ready.wait(STARTUP_SECONDS):
            self.__exit__()
            raise RuntimeError(
                f"the ArcadeDB Bolt server did not start:\n{self._log.read_text(errors='replace')[-3000:]}"
            )

    def kill(self) -> None:
        """SIGKILL the server, as a crash or a power cut would stop it (the JVM runs in the child)."""
        self._process.kill()
        self._process.wait()

    def new_database(self) -> str:
        """An empty database of its own (through the server's HTTP API)."""
        self._count += 1
        name = f"test{self._count}"
        self._command(f"create database {name}")
        return name

    def index_passage_vectors(self, database: str, dimension: int) -> None:
        """Make the vector index of passages a store's queries use (store/bolt_vectors.py) in
        `database`, as an administrator would: ArcadeDB's Cypher cannot, its SQL can."""
        self._post(f"command/{database}", language="sql", command="CREATE PROPERTY Passage.vector ARRAY_OF_FLOATS")
        self._post(
            f"command/{database}",
            language="sql",
            command=f"CREATE INDEX ON Passage (vector) LSM_VECTOR METADATA {{dimensions: {dimension}, "
            "similarity: 'COSINE', efSearch: 400}",
        )

    def _command(self, command: str) -> None:
        self._post("server", command=command)

    def _post(self, route: str, **body: str) -> None:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}/api/v1/{route}",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()

    def __exit__(self, *exc) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.stdin.close()
            try:
                self._process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._process.kill()


def serve(root: str, bolt_port: int, http_port: int) -> None:
    from arcadedb_embedded.server import ArcadeDBServer

    server = ArcadeDBServer(
        root,
        os.environ["BOLT_TEST_PASSWORD"],
        config={
            "host": "127.0.0.1",
            "http_port": http_port,
            "bolt_port": bolt_port,
            "server_plugins": "Bolt:com.arcadedb.bolt.BoltProtocolPlugin",
        },
    )
    server.start()
    try:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        sys.stdin.read()  # until the parent closes our input (or dies)
    finally:
        server.stop()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
