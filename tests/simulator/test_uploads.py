"""Uploads: multipart and raw bodies, file batches, URL batches, per-image statuses and batch limits."""

from __future__ import annotations

import base64
import struct

import httpx
import pytest

from local.simulator import SimulatorConfig, run_simulator
from local.simulator.imaging import placeholder_png, sniff
from tests.simulator.support import KEY, TRAINING, Api, error_code


def _entry(seed: str, **extra: object) -> dict[str, object]:
    return {"name": f"{seed}.png", "contents": base64.b64encode(placeholder_png(seed)).decode(), **extra}


@pytest.fixture
async def project_id(api: Api) -> str:
    return str((await api.create_project("uploads"))["id"])


async def test_multipart_with_several_files_and_tags(api: Api, project_id: str) -> None:
    tag = await api.create_tag(project_id, "cat")
    response = await api.post(
        f"/projects/{project_id}/images",
        params={"tagIds": tag["id"]},
        files=[("imageData", (None, placeholder_png("m1"))), ("imageData", ("two.png", placeholder_png("m2")))],
    )
    assert response.status_code == 200
    summary = response.json()
    assert summary["isBatchSuccessful"] is True
    assert [image["status"] for image in summary["images"]] == ["OK", "OK"]
    assert all(image["image"]["tags"][0]["tagName"] == "cat" for image in summary["images"])
    assert "sourceUrl" not in summary["images"][0]


async def test_raw_body_and_duplicates(api: Api, project_id: str) -> None:
    headers = {"Content-Type": "application/octet-stream"}
    first = await api.post(f"/projects/{project_id}/images", content=placeholder_png("raw"), headers=headers)
    second = await api.post(f"/projects/{project_id}/images", content=placeholder_png("raw"), headers=headers)
    assert first.json()["images"][0]["status"] == "OK"
    assert second.status_code == 200
    assert second.json()["images"][0]["status"] == "OKDuplicate"
    assert second.json()["images"][0]["image"]["id"] == first.json()["images"][0]["image"]["id"]
    assert await api.count(project_id) == 1
    assert error_code(
        await api.post(f"/projects/{project_id}/images", content=b"x", headers={"Content-Type": "text/plain"})
    ) == ("UnsupportedMediaType")


async def test_per_image_failures_answer_207(api: Api, project_id: str) -> None:
    big = placeholder_png("big")[:-12] + b"\x00" * (6 * 1024 * 1024) + placeholder_png("big")[-12:]
    body = {
        "images": [
            _entry("fine"),
            {"name": "text.txt", "contents": base64.b64encode(b"just text").decode()},
            {"name": "big.png", "contents": base64.b64encode(big).decode()},
        ]
    }
    response = await api.post(f"/projects/{project_id}/images/files", json=body)
    assert response.status_code == 207
    summary = response.json()
    assert summary["isBatchSuccessful"] is False
    assert [image["status"] for image in summary["images"]] == ["OK", "ErrorImageFormat", "ErrorImageSize"]
    assert [image["sourceUrl"] for image in summary["images"]] == ["fine.png", "text.txt", "big.png"]
    assert "image" not in summary["images"][1]


async def test_batch_limits_and_validation(api: Api, project_id: str) -> None:
    too_many = {"images": [_entry(f"n{n}") for n in range(65)]}
    assert error_code(await api.post(f"/projects/{project_id}/images/files", json=too_many)) == "BadRequestImageBatch"
    assert (
        error_code(await api.post(f"/projects/{project_id}/images/files", json={"images": []}))
        == "BadRequestImageBatch"
    )
    unknown_tag = {"images": [_entry("t")], "tagIds": ["00000000-0000-4000-8000-000000000001"]}
    assert error_code(await api.post(f"/projects/{project_id}/images/files", json=unknown_tag)) == "NotFoundTag"
    regions = {
        "images": [
            _entry(
                "r",
                regions=[
                    {"tagId": "00000000-0000-4000-8000-000000000001", "left": 0, "top": 0, "width": 1, "height": 1}
                ],
            )
        ]
    }
    assert error_code(await api.post(f"/projects/{project_id}/images/files", json=regions)) == "BadRequestImageRegions"
    long_value = {"images": [_entry("m")], "metadata": {"k": "v" * 513}}
    assert error_code(await api.post(f"/projects/{project_id}/images/files", json=long_value)) == (
        "BadRequestImageMetadataValue"
    )
    bad_base64 = {"images": [{"name": "x", "contents": "***"}]}
    assert error_code(await api.post(f"/projects/{project_id}/images/files", json=bad_base64)) == "BadRequestImageBatch"
    assert (
        error_code(
            await api.post(
                f"/projects/{project_id}/images/files", content=b"{", headers={"Content-Type": "application/json"}
            )
        )
        == "BadRequest"
    )


async def test_negative_and_regular_tags_cannot_share_an_image(api: Api, project_id: str) -> None:
    regular = await api.create_tag(project_id, "cat")
    negative = await api.create_tag(project_id, "none", type="Negative")
    body = {"images": [_entry("n")], "tagIds": [regular["id"], negative["id"]]}
    response = await api.post(f"/projects/{project_id}/images/files", json=body)
    assert response.json()["images"][0]["status"] == "ErrorNegativeAndRegularTagOnSameImage"


async def test_detection_regions(api: Api) -> None:
    project = await api.create_project("shelves", detection=True)
    bottle = await api.create_tag(project["id"], "bottle")
    region = {"tagId": bottle["id"], "left": 0.1, "top": 0.2, "width": 0.3, "height": 0.4}
    image = await api.upload(project["id"], "shelf", regions=[region])
    assert image["regions"][0]["tagName"] == "bottle"
    assert image["tags"][0]["tagId"] == bottle["id"]  # region tags show as image tags
    assert await api.count(project["id"], "tagged") == 1
    outside = {**region, "left": 0.9}
    assert error_code(
        await api.post(f"/projects/{project['id']}/images/files", json={"images": [_entry("o", regions=[outside])]})
    ) == ("BadRequestImageRegions")
    extra = {"regions": [{"imageId": image["id"], **region}, {"imageId": image["id"], **region, "left": 0.5}]}
    summary = await api.post(f"/projects/{project['id']}/images/regions", json=extra)
    assert summary.status_code == 207
    assert len(summary.json()["created"]) == 1
    assert len(summary.json()["duplicated"]) == 1
    region_id = summary.json()["created"][0]["regionId"]
    assert (await api.delete(f"/projects/{project['id']}/images/regions", regionIds=region_id)).status_code == 204
    [listed] = await api.ok(api.get(f"/projects/{project['id']}/images"))
    assert len(listed["regions"]) == 1


def test_url_uploads_fetch_loopback_and_generate_placeholders() -> None:
    with (
        run_simulator(SimulatorConfig()) as running,
        httpx.Client(base_url=running.base_url, headers={"Training-Key": KEY}) as client,
    ):
        project = client.post(f"{TRAINING}/projects", params={"name": "urls"}).json()
        uploaded = client.post(
            f"{TRAINING}/projects/{project['id']}/images",
            content=placeholder_png("source", 80, 60),
            headers={"Content-Type": "application/octet-stream"},
        ).json()["images"][0]["image"]
        body = {
            "images": [
                {"url": uploaded["originalImageUri"]},  # loopback: really downloaded (it is a duplicate)
                {"url": "https://images.example.com/cat.jpg"},  # not reachable: a deterministic placeholder
                {"url": "ftp://example.com/x.png"},
                {"url": f"{running.base_url}/missing.png"},
            ],
            "metadata": {"source": "web"},
        }
        summary = client.post(f"{TRAINING}/projects/{project['id']}/images/urls", json=body).json()
        statuses = [image["status"] for image in summary["images"]]
        assert statuses == ["OKDuplicate", "OK", "ErrorSource", "ErrorSource"]
        assert summary["images"][1]["image"]["metadata"] == {"source": "web"}
        placeholder = client.get(summary["images"][1]["image"]["originalImageUri"]).content
        info = sniff(placeholder)
        assert info is not None
        assert (info.width, info.height) == (96, 64)


def test_sniffing_formats() -> None:
    assert sniff(b"GIF89a" + struct.pack("<HH", 10, 20) + b"\x00" * 10) is not None
    bmp = b"BM" + b"\x00" * 16 + struct.pack("<ii", 7, -9) + b"\x00" * 30
    info = sniff(bmp)
    assert info is not None
    assert (info.media_type, info.width, info.height) == ("image/bmp", 7, 9)
    jpeg = (
        b"\xff\xd8\xff\xe0"
        + struct.pack(">H", 4)
        + b"JF"
        + b"\xff\xc0"
        + struct.pack(">HBHH", 11, 8, 30, 40)
        + b"\x00" * 8
    )
    info = sniff(jpeg)
    assert info is not None
    assert (info.media_type, info.width, info.height) == ("image/jpeg", 40, 30)
    assert sniff(b"\xff\xd8\xff") is None
    assert sniff(b"not an image") is None
