"""Lazily generated images for the `synthetic:PROJECTS:IMAGES` seed.

A `SyntheticRange` stands for `size` images without creating them. Image `i` is a pure function of
`i`: its id (a reversible version-8 UUID, see identifiers.py), `created` (`base_time + i` seconds),
its tag (tag `i % (T+1)`, or none when that is `T`: so roughly 1/(T+1) of the images are untagged), and
its metadata (`subject` = `subject-NN` with NN = `i % 97`, `batch` = `i // 1000`). Only changes cost
memory: removed indices, records that were changed (`overrides`), and tags dropped from the range.
Counts that need no metadata filter are computed arithmetically, so 100,000 images stay cheap.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from local.simulator.identifiers import SyntheticIdCodec
from local.simulator.image_query import ImageQuery, Order
from local.simulator.records import EMPTY_METADATA, ImageRecord, ImageTagLink

SUBJECT_MODULUS = 97
BATCH_SIZE = 1000


def synthetic_metadata(index: int) -> dict[str, str]:
    return {"subject": f"subject-{index % SUBJECT_MODULUS:02d}", "batch": str(index // BATCH_SIZE)}


@dataclass
class SyntheticRange:
    """`size` virtual images; see the module docstring for how image `i` looks."""

    codec: SyntheticIdCodec
    size: int
    tag_ids: tuple[str, ...]
    base_time: datetime
    width: int = 64
    height: int = 48
    removed: set[int] = field(default_factory=set)
    overrides: dict[int, ImageRecord] = field(default_factory=dict)
    dropped_tags: set[str] = field(default_factory=set)

    def copy(self) -> SyntheticRange:
        return SyntheticRange(
            self.codec,
            self.size,
            self.tag_ids,
            self.base_time,
            self.width,
            self.height,
            set(self.removed),
            dict(self.overrides),
            set(self.dropped_tags),
        )

    # --- identity -------------------------------------------------------------------------------
    def index_of(self, image_id: str) -> int | None:
        index = self.codec.decode(image_id)
        if index is None or index >= self.size or index in self.removed:
            return None
        return index

    def alive_count(self) -> int:
        return self.size - len(self.removed)

    # --- pristine images ----------------------------------------------------------------------
    def _tag_slot(self, index: int) -> int | None:
        if not self.tag_ids:
            return None
        slot = index % (len(self.tag_ids) + 1)
        if slot == len(self.tag_ids) or self.tag_ids[slot] in self.dropped_tags:
            return None
        return slot

    def _generated(self, index: int) -> ImageRecord:
        created = self.base_time + timedelta(seconds=index)
        slot = self._tag_slot(index)
        tags = () if slot is None else (ImageTagLink(self.tag_ids[slot], created),)
        return ImageRecord(
            id=self.codec.encode(index),
            created=created,
            width=self.width,
            height=self.height,
            tags=tags,
            metadata=synthetic_metadata(index),
        )

    def record_at(self, index: int) -> ImageRecord:
        override = self.overrides.get(index)
        return override if override is not None else self._generated(index)

    def _pristine_matches(self, index: int, query: ImageQuery) -> bool:
        slot = self._tag_slot(index)
        tag_ids = frozenset() if slot is None else frozenset((self.tag_ids[slot],))
        return query.matches(tag_ids, slot is not None, lambda: synthetic_metadata(index))

    @staticmethod
    def _record_matches(record: ImageRecord, query: ImageQuery) -> bool:
        return query.matches(record.all_tag_ids(), record.is_tagged, lambda: record.metadata)

    # --- iteration and counting ---------------------------------------------------------------
    def indices(self, order: Order) -> Iterator[int]:
        span = range(self.size - 1, -1, -1) if order == "Newest" else range(self.size)
        removed = self.removed
        return (index for index in span if index not in removed)

    def _pristine_predicate(self, query: ImageQuery) -> Callable[[int], bool]:
        """A fast test for pristine indices: slot arithmetic, then the metadata filter if there is one."""
        cycle = len(self.tag_ids) + 1
        tags_only = ImageQuery(query.tagging, query.tag_ids)
        accepted = set()
        for slot in range(cycle):
            tag_id = self.tag_ids[slot] if slot < len(self.tag_ids) else None
            if tag_id in self.dropped_tags:
                tag_id = None
            tag_ids = frozenset((tag_id,)) if tag_id else frozenset()
            if tags_only.matches(tag_ids, tag_id is not None, lambda: EMPTY_METADATA):
                accepted.add(slot)
        metadata = query.metadata
        if metadata is None:
            if len(accepted) == cycle:
                return lambda index: True
            return lambda index: index % cycle in accepted
        return lambda index: index % cycle in accepted and metadata(synthetic_metadata(index))

    def select(self, query: ImageQuery, order: Order, skip: int = 0) -> Iterator[ImageRecord]:
        """Matching images in order, after skipping `skip` matches (cheaply: nothing is materialised)."""
        pristine = self._pristine_predicate(query)
        overrides = self.overrides
        for index in self.indices(order):
            override = overrides.get(index)
            matched = pristine(index) if override is None else self._record_matches(override, query)
            if not matched:
                continue
            if skip:
                skip -= 1
                continue
            yield self.record_at(index)

    def _slot_counts(self) -> list[int]:
        """How many of the `size` pristine images fall in each slot (the last slot is 'untagged')."""
        cycle = len(self.tag_ids) + 1
        full, rest = divmod(self.size, cycle)
        return [full + (1 if slot < rest else 0) for slot in range(cycle)]

    def _base_count(self, query: ImageQuery) -> int:
        """Matches among all `size` indices as if none were removed or overridden (no metadata filter)."""
        if not self.tag_ids:
            return self.size if query.tagging != "Tagged" and not query.tag_ids else 0
        counts = self._slot_counts()
        live_slots = [slot for slot in range(len(self.tag_ids)) if self.tag_ids[slot] not in self.dropped_tags]
        tagged = sum(counts[slot] for slot in live_slots)
        if query.tag_ids:
            if query.tagging == "Untagged":
                return 0
            return sum(counts[slot] for slot in live_slots if self.tag_ids[slot] in query.tag_ids)
        if query.tagging == "Tagged":
            return tagged
        if query.tagging == "Untagged":
            return self.size - tagged
        return self.size

    def count(self, query: ImageQuery) -> int:
        if query.metadata is not None:
            pristine = self._pristine_predicate(query)
            overrides = self.overrides
            return sum(
                1
                for index in self.indices("Oldest")
                if (pristine(index) if index not in overrides else self._record_matches(overrides[index], query))
            )
        total = self._base_count(query)
        for index in self.removed:
            if self._pristine_matches(index, query):
                total -= 1
        for index, record in self.overrides.items():
            if self._pristine_matches(index, query):
                total -= 1
            total += self._record_matches(record, query)
        return total

    def tag_histogram(self) -> Counter[str]:
        histogram: Counter[str] = Counter()
        if self.tag_ids:
            for position, amount in enumerate(self._slot_counts()[:-1]):
                if self.tag_ids[position] not in self.dropped_tags:
                    histogram[self.tag_ids[position]] += amount
        for index in self.removed | set(self.overrides):
            slot = self._tag_slot(index)
            if slot is not None:
                histogram[self.tag_ids[slot]] -= 1
        for record in self.overrides.values():
            histogram.update(record.all_tag_ids())
        return +histogram

    # --- changes ------------------------------------------------------------------------------
    def remove(self, index: int) -> None:
        self.removed.add(index)
        self.overrides.pop(index, None)

    def override(self, index: int, record: ImageRecord) -> None:
        self.overrides[index] = record

    def drop_tag(self, tag_id: str) -> None:
        """Remove a tag from every pristine image (overridden records are changed by the caller)."""
        self.dropped_tags.add(tag_id)

    def overridden(self) -> Mapping[int, ImageRecord]:
        return self.overrides
