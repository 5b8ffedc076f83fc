"""What an image listing or count asks for: tagging status, tag ids (any-of) and a metadata filter."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from local.simulator.metadata_filter import MetadataPredicate

TaggingStatus = Literal["All", "Tagged", "Untagged"]
Order = Literal["Newest", "Oldest"]


@dataclass(frozen=True)
class ImageQuery:
    """Filter over images. `tag_ids` matches images carrying ANY of the tags (the spec's "and/or")."""

    tagging: TaggingStatus = "All"
    tag_ids: frozenset[str] | None = None
    metadata: MetadataPredicate | None = None

    @property
    def is_everything(self) -> bool:
        return self.tagging == "All" and not self.tag_ids and self.metadata is None

    def matches(
        self,
        tag_ids: frozenset[str],
        tagged: bool,
        metadata: Callable[[], Mapping[str, str]],
    ) -> bool:
        if self.tagging == "Tagged" and not tagged:
            return False
        if self.tagging == "Untagged" and tagged:
            return False
        if self.tag_ids and not (tag_ids & self.tag_ids):
            return False
        return self.metadata is None or self.metadata(metadata())
