"""The domain catalogue (GetDomains).

Ids and names are the public ones from Microsoft's "Select a domain for a Custom Vision project" page,
so clients that hard-code a domain id (e.g. General, ee85a74c-…) work against the simulator. Only the
compact domains are exportable, as on the service.
"""

from __future__ import annotations

from local.simulator.records import Domain

GENERAL_CLASSIFICATION = "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31"
GENERAL_COMPACT_CLASSIFICATION = "0732100f-1a38-4e49-a514-c9b44c697ab5"
GENERAL_OBJECT_DETECTION = "da2e3a8a-40a5-4171-82f4-58522f70fbc1"
GENERAL_COMPACT_OBJECT_DETECTION = "a27d5ca5-bb19-49d8-a70a-fec086c47f5b"

_ALL_PLATFORMS = ("CoreML", "TensorFlow", "DockerFile", "ONNX", "VAIDK")
_DETECTION_PLATFORMS = ("CoreML", "TensorFlow", "DockerFile", "ONNX")

DOMAINS: tuple[Domain, ...] = (
    Domain(GENERAL_CLASSIFICATION, "General", "Classification", False),
    Domain("a8e3c40f-fb4a-466f-832a-5e457ae4a344", "General [A1]", "Classification", False),
    Domain("2e37d7fb-3a54-486a-b4d6-cfc369af0018", "General [A2]", "Classification", False),
    Domain("c151d5b5-dd07-472a-acc8-15d29dea8518", "Food", "Classification", False),
    Domain("ca455789-012d-4b50-9fec-5bb63841c793", "Landmarks", "Classification", False),
    Domain("b30a91ae-e3c1-4f73-a81e-c270bff27c39", "Retail", "Classification", False),
    Domain(GENERAL_COMPACT_CLASSIFICATION, "General (compact)", "Classification", True, True, _ALL_PLATFORMS),
    Domain(
        "a1db07ca-a19a-4830-bae8-e004a42dc863",
        "General (compact) [S1]",
        "Classification",
        True,
        True,
        _ALL_PLATFORMS,
    ),
    Domain(GENERAL_OBJECT_DETECTION, "General", "ObjectDetection", False),
    Domain("9c616dff-2e7d-ea11-af59-1866da359ce6", "General [A1]", "ObjectDetection", False),
    Domain("1d8ffafe-ec40-4fb2-8f90-72b3b6cecea4", "Logo", "ObjectDetection", False),
    Domain("3780a898-81c3-4516-81ae-3a139614e1f3", "Products on Shelves", "ObjectDetection", False),
    Domain(
        GENERAL_COMPACT_OBJECT_DETECTION,
        "General (compact)",
        "ObjectDetection",
        True,
        True,
        _DETECTION_PLATFORMS,
    ),
    Domain(
        "7ec2ac80-887b-48a6-8df9-8b1357765430",
        "General (compact) [S1]",
        "ObjectDetection",
        True,
        True,
        _DETECTION_PLATFORMS,
    ),
)

DOMAINS_BY_ID: dict[str, Domain] = {domain.id: domain for domain in DOMAINS}

#: Valid export flavors per platform (None = the platform takes no flavor).
EXPORT_FLAVORS: dict[str, frozenset[str | None]] = {
    "CoreML": frozenset({None}),
    "VAIDK": frozenset({None}),
    "DockerFile": frozenset({None, "Linux", "Windows", "ARM"}),
    "TensorFlow": frozenset({None, "TensorFlowNormal", "TensorFlowLite"}),
    "ONNX": frozenset({None, "ONNX10", "ONNX12"}),
}
