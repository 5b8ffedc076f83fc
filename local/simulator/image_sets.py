"""An ordered set of training images: the workspace of a project, or an iteration's snapshot.

Images are ordered by creation: an optional lazily generated `SyntheticRange` (always older) followed by
materialised records in insertion order. `copy()` is what TrainProject uses to snapshot the workspace:
records are immutable, so copying the containers is enough.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import replace

from local.simulator.image_query import ImageQuery, Order
from local.simulator.records import ImageRecord
from local.simulator.synthetic import SyntheticRange


class ImageSet:
    """Images of one workspace or snapshot; see the module docstring."""

    def __init__(self, synthetic: SyntheticRange | None = None) -> None:
        self._synthetic = synthetic
        self._records: dict[str, ImageRecord] = {}
        self._by_content: dict[str, str] = {}

    def copy(self) -> ImageSet:
        clone = ImageSet(self._synthetic.copy() if self._synthetic else None)
        clone._records = dict(self._records)
        clone._by_content = dict(self._by_content)
        return clone

    def __len__(self) -> int:
        synthetic = self._synthetic.alive_count() if self._synthetic else 0
        return synthetic + len(self._records)

    def __contains__(self, image_id: object) -> bool:
        return isinstance(image_id, str) and self.get(image_id) is not None

    def get(self, image_id: str) -> ImageRecord | None:
        record = self._records.get(image_id)
        if record is not None:
            return record
        if self._synthetic is not None:
            index = self._synthetic.index_of(image_id)
            if index is not None:
                return self._synthetic.record_at(index)
        return None

    def find_by_content(self, sha256: str) -> ImageRecord | None:
        image_id = self._by_content.get(sha256)
        return self._records.get(image_id) if image_id else None

    # --- changes --------------------------------------------------------------------------------
    def put(self, record: ImageRecord) -> None:
        """Add a new image (at the newest end) or replace an existing one in place."""
        if self._synthetic is not None:
            index = self._synthetic.index_of(record.id)
            if index is not None:
                self._synthetic.override(index, record)
                return
        self._records[record.id] = record
        if record.content_sha256:
            self._by_content[record.content_sha256] = record.id

    def remove(self, image_id: str) -> bool:
        record = self._records.pop(image_id, None)
        if record is not None:
            if record.content_sha256 and self._by_content.get(record.content_sha256) == image_id:
                del self._by_content[record.content_sha256]
            return True
        if self._synthetic is not None:
            index = self._synthetic.index_of(image_id)
            if index is not None:
                self._synthetic.remove(index)
                return True
        return False

    def clear(self) -> None:
        self._synthetic = None
        self._records.clear()
        self._by_content.clear()

    def drop_tag(self, tag_id: str) -> None:
        """Remove a tag and its regions from every image (DeleteTag)."""
        if self._synthetic is not None:
            self._synthetic.drop_tag(tag_id)
        for record in list(self.overridden_and_materialised()):
            if tag_id in record.all_tag_ids():
                self.put(_without_tag(record, tag_id))

    # --- reading --------------------------------------------------------------------------------
    def overridden_and_materialised(self) -> Iterator[ImageRecord]:
        """Every image that exists as a record (not generated on the fly)."""
        if self._synthetic is not None:
            yield from list(self._synthetic.overridden().values())
        yield from list(self._records.values())

    def select(self, query: ImageQuery, order: Order = "Newest", skip: int = 0) -> Iterator[ImageRecord]:
        """Matching images in the requested order after skipping `skip` of them, generated lazily."""
        materialised: Iterable[ImageRecord] = self._records.values()
        if order == "Newest":
            materialised = reversed(list(materialised))
        matching = [record for record in materialised if _record_matches(query, record)]
        if self._synthetic is None:
            return iter(matching[skip:])
        if order == "Newest":
            if skip < len(matching):
                return itertools.chain(matching[skip:], self._synthetic.select(query, order))
            return self._synthetic.select(query, order, skip - len(matching))
        if query.metadata is None:  # the synthetic part can be counted cheaply and skipped whole
            synthetic_count = self._synthetic.count(query)
            if skip >= synthetic_count:
                return iter(matching[skip - synthetic_count :])
        return itertools.chain(self._synthetic.select(query, order, skip), matching)

    def page(self, query: ImageQuery, order: Order, skip: int, take: int) -> list[ImageRecord]:
        return list(itertools.islice(self.select(query, order, skip), take))

    def count(self, query: ImageQuery) -> int:
        total = sum(1 for record in self._records.values() if _record_matches(query, record))
        if self._synthetic is not None:
            total += self._synthetic.count(query)
        return total

    def tag_histogram(self) -> Counter[str]:
        """Number of images per tag id (explicit tags and region tags)."""
        histogram = self._synthetic.tag_histogram() if self._synthetic else Counter()
        for record in self._records.values():
            histogram.update(record.all_tag_ids())
        return histogram

    def materialised_count(self) -> int:
        """How many images exist as Python objects (uploads and changed synthetic images)."""
        overridden = len(self._synthetic.overridden()) if self._synthetic else 0
        return overridden + len(self._records)

    def region_count(self) -> int:
        return sum(len(record.regions) for record in self.overridden_and_materialised())


def _record_matches(query: ImageQuery, record: ImageRecord) -> bool:
    return query.matches(record.all_tag_ids(), record.is_tagged, lambda: record.metadata)


def _without_tag(record: ImageRecord, tag_id: str) -> ImageRecord:
    return replace(
        record,
        tags=tuple(link for link in record.tags if link.tag_id != tag_id),
        regions=tuple(region for region in record.regions if region.tag_id != tag_id),
    )
