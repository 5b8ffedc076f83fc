"""The Training API's operations, one module per area; `TRAINING_OPERATIONS` lists them all."""

from __future__ import annotations

from local.simulator.operations import Operation
from local.simulator.training import (
    domains,
    exports,
    image_annotations,
    image_deletion,
    image_queries,
    image_uploads,
    iterations,
    performance,
    projects,
    stored_predictions,
    tags,
)

TRAINING_OPERATIONS: tuple[Operation, ...] = tuple(
    operation
    for module in (
        domains,
        projects,
        tags,
        image_queries,
        image_uploads,
        image_annotations,
        image_deletion,
        iterations,
        performance,
        exports,
        stored_predictions,
    )
    for operation in module.operations
)

#: API versions served under /customvision/{version}/training (the SDK calls 3.4-preview).
TRAINING_VERSIONS = ("v3.3", "v3.4-preview")
