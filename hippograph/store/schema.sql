-- hippograph SQLite store, schema version 4. Version 3 lacked the full-text search of the notes
-- and passages.times;
-- version 2 also lacked the note attributes, times, fact validity, links and note history;
-- version 1 also lacked passages.extraction_error.
-- Ids are content hashes; every record carries its namespace (links and history through their notes).
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Vectors keyed by a hash of the embedded text: the same string is never embedded twice.
CREATE TABLE IF NOT EXISTS embeddings (
    key    TEXT PRIMARY KEY,
    vector BLOB NOT NULL
);

CREATE TABLE IF NOT EXISTS documents (
    namespace    TEXT NOT NULL,
    id           TEXT NOT NULL,
    title        TEXT NOT NULL,
    source       TEXT NOT NULL,
    metadata     TEXT NOT NULL,          -- JSON object
    content_hash TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (namespace, id)
);

CREATE TABLE IF NOT EXISTS passages (
    id            TEXT PRIMARY KEY,
    namespace     TEXT NOT NULL,
    document_id   TEXT NOT NULL,
    position      INTEGER NOT NULL,
    title         TEXT NOT NULL,
    text          TEXT NOT NULL,
    embedding_key TEXT NOT NULL,
    extractor     TEXT NOT NULL,
    created_at    TEXT NOT NULL,         -- the note's time (given with it, else when it was stored), UTC ISO
    extraction_error TEXT,               -- NULL: extracted; else why extraction failed (retry later)
    keywords      TEXT NOT NULL DEFAULT '[]',  -- JSON list, most specific first
    tags          TEXT NOT NULL DEFAULT '[]',  -- JSON list
    context       TEXT NOT NULL DEFAULT '',    -- one line: what the note is about
    updated_at    TEXT,                  -- last change of text or attributes; NULL: never changed
    times         TEXT NOT NULL DEFAULT '[]',  -- JSON: its relative time expressions, resolved (time_expressions.py)
    FOREIGN KEY (namespace, document_id) REFERENCES documents (namespace, id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS passages_by_document ON passages (namespace, document_id);
CREATE INDEX IF NOT EXISTS passages_by_time ON passages (namespace, created_at);
CREATE INDEX IF NOT EXISTS passages_by_embedding ON passages (embedding_key);
-- the notes whose text names a time, which a query's time window looks through
CREATE INDEX IF NOT EXISTS passages_dated ON passages (namespace) WHERE times != '[]';

CREATE TABLE IF NOT EXISTS entities (
    id            TEXT PRIMARY KEY,
    namespace     TEXT NOT NULL,
    key           TEXT NOT NULL,         -- normalised phrase
    name          TEXT NOT NULL,         -- as first seen
    embedding_key TEXT                   -- NULL: no vector (in no fact, or holds a number)
);

-- passage–entity edges
CREATE TABLE IF NOT EXISTS mentions (
    passage_id TEXT NOT NULL REFERENCES passages (id) ON DELETE CASCADE,
    entity_id  TEXT NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    PRIMARY KEY (passage_id, entity_id)
);
CREATE INDEX IF NOT EXISTS mentions_by_entity ON mentions (entity_id);
CREATE INDEX IF NOT EXISTS entities_by_embedding ON entities (embedding_key);

-- entity–entity edges from subject–relation–object facts
CREATE TABLE IF NOT EXISTS facts (
    id            TEXT PRIMARY KEY,
    namespace     TEXT NOT NULL,
    subject_id    TEXT NOT NULL REFERENCES entities (id),
    relation      TEXT NOT NULL,
    object_id     TEXT NOT NULL REFERENCES entities (id),
    embedding_key TEXT NOT NULL,
    relation_group TEXT,                 -- set for exclusive relations: a subject holds one object at a time
    valid_from    TEXT,                  -- the time of the earliest note stating it
    valid_to      TEXT                   -- NULL: still valid; else when a later exclusive fact replaced it
);
-- an exclusive group's facts still valid at a time (see writes._refresh_validity)
DROP INDEX IF EXISTS facts_by_subject_group;
CREATE INDEX IF NOT EXISTS facts_by_group_end ON facts (subject_id, relation_group, valid_to);
CREATE INDEX IF NOT EXISTS facts_by_object ON facts (object_id);
CREATE INDEX IF NOT EXISTS facts_by_embedding ON facts (embedding_key);

-- provenance: which passages a fact came from
CREATE TABLE IF NOT EXISTS fact_sources (
    fact_id    TEXT NOT NULL REFERENCES facts (id) ON DELETE CASCADE,
    passage_id TEXT NOT NULL REFERENCES passages (id) ON DELETE CASCADE,
    PRIMARY KEY (fact_id, passage_id)
);
CREATE INDEX IF NOT EXISTS fact_sources_by_passage ON fact_sources (passage_id);

-- entity–entity synonymy edges (a < b), weight = cosine similarity
CREATE TABLE IF NOT EXISTS synonyms (
    a      TEXT NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    b      TEXT NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    weight REAL NOT NULL,
    PRIMARY KEY (a, b)
);
CREATE INDEX IF NOT EXISTS synonyms_by_b ON synonyms (b);

-- note–note links (a < b), undirected; both notes are in one namespace (the trigger below)
CREATE TABLE IF NOT EXISTS links (
    a          TEXT NOT NULL REFERENCES passages (id) ON DELETE CASCADE,
    b          TEXT NOT NULL REFERENCES passages (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,            -- "similar" (embeddings) or "llm" (confirmed by the LLM)
    reason     TEXT NOT NULL,
    weight     REAL NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (a, b),
    CHECK (a < b)
);
CREATE INDEX IF NOT EXISTS links_by_b ON links (b);
CREATE TRIGGER IF NOT EXISTS links_in_one_namespace BEFORE INSERT ON links
WHEN (SELECT namespace FROM passages WHERE id = NEW.a) IS NOT (SELECT namespace FROM passages WHERE id = NEW.b)
BEGIN SELECT RAISE(ABORT, 'a link must join two notes of one namespace'); END;

-- every change of a note's text or attributes after it was stored, to inspect and revert
CREATE TABLE IF NOT EXISTS note_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    passage_id  TEXT NOT NULL REFERENCES passages (id) ON DELETE CASCADE,
    field       TEXT NOT NULL,           -- "tags", "context", "keywords" or "text"
    old_value   TEXT NOT NULL,           -- JSON
    new_value   TEXT NOT NULL,           -- JSON
    changed_by  TEXT NOT NULL,           -- "update", "evolution", "llm-evolution" or "revert"
    source_note TEXT,                    -- the note whose arrival caused an evolution
    changed_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS note_history_by_passage ON note_history (passage_id);

-- Full-text search of the notes (BM25, retrieve/lexical.py): each namespace's passage titles and
-- texts are in an FTS5 table of its own (store/sqlite_search.py makes them), so that one
-- namespace's term statistics never depend on another's; their rowids are these.
CREATE TABLE IF NOT EXISTS passage_search_ids (
    id         INTEGER PRIMARY KEY,
    passage_id TEXT NOT NULL UNIQUE
);
