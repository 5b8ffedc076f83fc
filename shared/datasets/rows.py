"""``dataset.csv``: one row per image with its source, file, size, tags and regions, for spreadsheets.

Regions are ``tag:left,top,width,height`` (normalized), ``; ``-separated; every cell is defused
(``safe_cell``), as in the export's other CSV files.
"""

from __future__ import annotations

from shared.export.tables import safe_cell

from .source import DatasetImage

COLUMNS = ["image_id", "source", "file", "width", "height", "tags", "regions"]


def row(image: DatasetImage) -> list[str]:
    regions = "; ".join(
        f"{region.tag}:{region.left:g},{region.top:g},{region.width:g},{region.height:g}" for region in image.regions
    )
    cells = (image.image_id, image.source, image.file, image.width, image.height, "; ".join(image.tags), regions)
    return [safe_cell(cell) for cell in cells]
