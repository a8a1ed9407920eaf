"""Which relation labels an edge between two entities in a path's explanation: that of the fact
with the smallest id joining them in that direction, else "<relation> (inverse)" of the one
joining them the other way.

The lookup of a view read from the store is arrays: every fact's claim on its pair and on the
reversed pair, sorted, the winning claim of each pair kept (built and saved in one pass, found by
binary search; a million passages' facts would be millions of dictionary entries). A view kept up
to date by deltas (graph/delta.py) gets a lookup that layers the pairs the delta changed over the
older view's, so a write costs its own facts, not every fact of the graph.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np

from ..store.graph_data import GraphData

__all__ = ["Relations"]

_MAX_LAYERS = 32  # layers over the first lookup before they are merged into one

# A pair's label with what decides between facts: (inverse, fact id, label); the smallest wins.
Choice = tuple[bool, str, str]


class _Claims(Mapping):
    """Every fact's winning claim, by pair: the first lookup of a view, as sorted arrays."""

    def __init__(self, data: GraphData) -> None:
        facts = len(data.fact_ids)
        self._size = max(len(data.entity_ids), 1)
        self._ids: Sequence[str] = data.fact_ids
        self._relations: Sequence[str] = data.fact_relations
        rank = np.arange(facts)
        if not data.in_store_order:  # rows not in id order (a delta appended some): rank them by id
            rank[np.argsort(np.asarray(data.fact_ids, dtype=str), kind="stable")] = np.arange(facts)
        subjects, objects = data.fact_subjects.astype(np.int64), data.fact_objects.astype(np.int64)
        keys = np.concatenate([subjects * self._size + objects, objects * self._size + subjects])
        inverse = np.repeat([False, True], facts)
        order = np.lexsort((np.concatenate([rank, rank]), inverse, keys))
        first = order[np.flatnonzero(np.diff(keys[order], prepend=-1))] if facts else order
        self._keys, self._rows, self._inverse = keys[first], (first % max(facts, 1)), inverse[first]

    def __getitem__(self, pair: tuple[int, int]) -> Choice:
        key = pair[0] * self._size + pair[1]
        place = int(np.searchsorted(self._keys, key))
        if place == len(self._keys) or self._keys[place] != key:
            raise KeyError(pair)
        return self._choice(place)

    def _choice(self, place: int) -> Choice:
        row, inverse = int(self._rows[place]), bool(self._inverse[place])
        relation = self._relations[row]
        return inverse, self._ids[row], f"{relation} (inverse)" if inverse else relation

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return (divmod(int(key), self._size) for key in self._keys)

    def __len__(self) -> int:
        return len(self._keys)


class Relations:
    """(entity index, entity index) -> the relation labelling that edge."""

    def __init__(self, layers: ChainMap) -> None:
        self._layers = layers  # pair -> Choice, or None where a delta took the pair's facts away

    @classmethod
    def of(cls, data: GraphData) -> Relations:
        """The lookup of all data's facts."""
        return cls(ChainMap(_Claims(data)))

    def get(self, pair: tuple[int, int]) -> str | None:
        choice = self._layers.get(pair)
        return None if choice is None else choice[2]

    def items(self) -> Iterator[tuple[tuple[int, int], str]]:
        return ((pair, choice[2]) for pair, choice in self._layers.items() if choice is not None)

    def changed(self, old: GraphData, removed: np.ndarray, new: GraphData, added: np.ndarray) -> Relations:
        """This lookup after the fact rows `removed` (of `old`) went and `added` (of `new`) came.
        The pairs a removed fact joined are looked up again among all of new's facts joining
        them; an added fact only needs comparing with the pair's label so far."""
        if not len(removed) and not len(added):
            return self
        layer: dict[tuple[int, int], Choice | None] = {}
        if len(removed):
            pairs = set(zip(old.fact_subjects[removed].tolist(), old.fact_objects[removed].tolist()))
            pairs |= {(o, s) for s, o in pairs}
            layer.update(dict.fromkeys(pairs))
            size = max(len(new.entity_ids), 1)
            keys = np.array([s * size + o for s, o in pairs], dtype=np.int64)
            joining = np.flatnonzero(np.isin(new.fact_subjects * size + new.fact_objects, keys))
            layer.update(_choices(new, joining.tolist()))
        for pair, choice in _candidates(new, added.tolist()):
            held = layer[pair] if pair in layer else self._layers.get(pair)
            if held is None or choice < held:
                layer[pair] = choice
        layers = self._layers.new_child(layer)
        if len(layers.maps) > _MAX_LAYERS:  # the layers over the first lookup merged into one
            merged: dict[tuple[int, int], Choice | None] = {}
            for changes in reversed(layers.maps[:-1]):
                merged.update(changes)
            layers = ChainMap(merged, layers.maps[-1])
        return Relations(layers)


def _candidates(data: GraphData, facts: list[int]) -> Iterator[tuple[tuple[int, int], Choice]]:
    """Each fact row's claim on its pair and, as an inverse, on the reversed pair."""
    subjects, objects = data.fact_subjects[facts].tolist(), data.fact_objects[facts].tolist()
    for fact, s, o in zip(facts, subjects, objects):
        relation, fact_id = data.fact_relations[fact], data.fact_ids[fact]
        yield (s, o), (False, fact_id, relation)
        yield (o, s), (True, fact_id, f"{relation} (inverse)")


def _choices(data: GraphData, facts: Iterable[int]) -> dict[tuple[int, int], Choice]:
    """The smallest claim on each pair: facts in id order, every fact's own direction before any
    inverse, so the first claim set is the smallest."""
    claims = list(_candidates(data, sorted(facts, key=data.fact_ids.__getitem__)))
    chosen: dict[tuple[int, int], Choice] = {}
    for pair, choice in claims[::2] + claims[1::2]:
        chosen.setdefault(pair, choice)
    return chosen
