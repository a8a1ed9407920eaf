"""What an ingest batch stores of its passages' extractions: entity, mention and fact records put
into the batch's `WriteBatch`, and the texts (passages, and facts and names where the
configuration embeds them) its vectors are for. Entities already stored keep their names.
"""

from __future__ import annotations

import dataclasses

from .config import Config
from .extract.normalize import clean_phrase, normalize_entity, relation_key
from .ids import content_hash, embedding_key
from .store.base import Store
from .store.records import EntityRecord, FactRecord, WriteBatch
from .types import Extraction, Passage

__all__ = ["add_graph_records"]


def add_graph_records(
    store: Store,
    passages: list[Passage],
    extractions: list[Extraction],
    write: WriteBatch,
    config: Config,
) -> tuple[dict[str, str], list[list[EntityRecord]]]:
    """Fill the batch's entities, mentions and facts; return the texts to embed by key, and
    each passage's entities in order of first appearance.

    Passages are always embedded. Fact sentences are embedded only when fact linking is on
    (`Config.fact_weight` > 0), entity names only when synonymy edges are on
    (`Config.synonym_threshold`), and then only names that take part in a fact: embedding
    every noun phrase would cost more than the rest of the ingest, and dates or quantities
    ("2 April 1802", "5 May 1802") look alike to an embedder without being synonyms.
    """
    embed_facts = config.fact_weight > 0
    exclusive = {relation_key(r) for r in config.exclusive_relations}
    embed_names = config.synonym_threshold is not None
    texts: dict[str, str] = {}  # embedding key -> text
    for passage in passages:
        texts[embedding_key(passage.embedding_text)] = passage.embedding_text
    entities = _BatchEntities(store, passages, extractions)
    facts: dict[str, FactRecord] = {}
    names: list[list[EntityRecord]] = []
    for passage, extraction in zip(passages, extractions):
        namespace = passage.namespace
        mentioned = {e.id: e for e in (entities.get(namespace, p) for p in extraction.entities) if e}
        for triple in extraction.triples:
            subject, obj = entities.get(namespace, triple.subject), entities.get(namespace, triple.object)
            relation = " ".join(triple.relation.split()).lower()
            if subject is None or obj is None or not relation:
                continue
            mentioned.update({subject.id: subject, obj.id: obj})
            entities.in_facts |= {subject.id, obj.id}
            fact_text = f"{subject.name} {relation} {obj.name}"
            fact_id = content_hash(namespace, subject.key, relation, obj.key)
            group = relation_key(relation)
            facts[fact_id] = FactRecord(
                fact_id,
                namespace,
                subject.id,
                relation,
                obj.id,
                embedding_key(fact_text),
                group if group in exclusive else None,
            )
            if embed_facts:
                texts[embedding_key(fact_text)] = fact_text
            write.fact_sources.append((fact_id, passage.id))
        write.mentions += [(passage.id, entity_id) for entity_id in sorted(mentioned)]
        names.append(list(mentioned.values()))
    for entity in entities.mentioned(write.mentions):
        if embed_names and entity.embedding_key is None and entity.id in entities.in_facts and _is_name(entity.key):
            entity = dataclasses.replace(entity, embedding_key=embedding_key(entity.name))
        if entity.embedding_key is not None:  # stored vectors are reused, not embedded again
            texts[entity.embedding_key] = entity.name
        write.entities.append(entity)
    write.facts = list(facts.values())
    return texts, names


def _is_name(key: str) -> bool:
    return any(c.isalpha() for c in key) and not any(c.isdigit() for c in key)


class _BatchEntities:
    """The entities a batch names, by (namespace, phrase). An entity already stored keeps its
    stored name and vector key, so a new spelling never orphans a vector or renames a fact.
    Each distinct phrase is normalised once: popular entities are named thousands of times a batch."""

    def __init__(self, store: Store, passages: list[Passage], extractions: list[Extraction]) -> None:
        self._keys: dict[str, str] = {}  # phrase -> normalize_entity(phrase)
        found: dict[tuple[str, str], str] = {}  # (namespace, key) -> the first phrase naming it
        for passage, extraction in zip(passages, extractions):
            for phrase in [*extraction.entities, *(x for t in extraction.triples for x in (t.subject, t.object))]:
                key = self._key(phrase)
                if key:
                    found.setdefault((passage.namespace, key), phrase)
        ids = {content_hash(namespace, key): (namespace, key) for namespace, key in found}
        stored = store.entity_names(ids)
        self._by_key: dict[tuple[str, str], EntityRecord] = {}
        for entity_id, (namespace, key) in ids.items():
            name, vector_key = stored.get(entity_id, (clean_phrase(found[(namespace, key)]), None))
            self._by_key[(namespace, key)] = EntityRecord(entity_id, namespace, key, name, vector_key)
        self.in_facts: set[str] = set()

    def _key(self, phrase: str) -> str:
        key = self._keys.get(phrase)
        if key is None:
            key = self._keys[phrase] = normalize_entity(phrase)
        return key

    def get(self, namespace: str, phrase: str) -> EntityRecord | None:
        """The entity a phrase names, or None for a phrase that names nothing."""
        key = self._key(phrase)
        return self._by_key.get((namespace, key)) if key else None

    def mentioned(self, mentions: list[tuple[str, str]]) -> list[EntityRecord]:
        """The entities some passage of the batch mentions (the only ones to store)."""
        ids = {entity_id for _, entity_id in mentions}
        return [record for record in self._by_key.values() if record.id in ids]
