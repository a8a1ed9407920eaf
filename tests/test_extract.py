"""The offline spaCy extractor on sentences of the kinds it promises to handle."""

from __future__ import annotations

from hippograph.extract import normalize_entity
from hippograph.types import Passage, Triple


def extract(extractor, text):
    return extractor.extract([Passage("p", "d", 0, "", text)])[0]


def test_passive_with_agent_and_prepositional_object(extractor):
    result = extract(extractor, "Orlen Works was founded by Petra Lind in 1964.")
    assert Triple("Orlen Works", "founded by", "Petra Lind") in result.triples
    assert Triple("Orlen Works", "founded in", "1964") in result.triples


def test_copula_and_apposition(extractor):
    result = extract(
        extractor,
        "Dunmere is the capital of Norland. Casimir Vale, a wealthy industrialist, funded the Dunmere Observatory.",
    )
    assert Triple("Dunmere", "is capital of", "Norland") in result.triples
    assert Triple("Casimir Vale", "is", "wealthy industrialist") in result.triples
    assert Triple("Casimir Vale", "funded", "Dunmere Observatory") in result.triples


def test_active_verb_with_direct_object_and_conjoined_subjects(extractor):
    result = extract(extractor, "Tobias Renn and Ida Marsh wrote the song Quiet Harbour.")
    subjects = {t.subject for t in result.triples if t.relation == "wrote"}
    assert subjects == {"Tobias Renn", "Ida Marsh"}


def test_pronouns_and_short_names_resolve_to_the_person_named_before(extractor):
    result = extract(extractor, "Arvid Koss was a sea captain. He was born in Saltmarsh. Koss ran Silverline Ferries.")
    assert Triple("Arvid Koss", "born in", "Saltmarsh") in result.triples
    assert Triple("Arvid Koss", "ran", "Silverline Ferries") in result.triples


def test_entities_are_named_entities_and_specific_noun_phrases(extractor):
    result = extract(extractor, "The city of Marrowgate has a famous covered market.")
    assert "Marrowgate" in result.entities
    assert "famous covered market" in result.entities
    assert "city" not in result.entities  # a lone common noun would be a hub joining unrelated passages


def test_normalize_entity():
    assert normalize_entity("The Lumen Institute") == normalize_entity("Lumen Institute") == "lumen institute"
    assert normalize_entity("Holt's") == "holt"
    assert normalize_entity("  it ") == ""
    assert normalize_entity("--") == ""
