"""The synthetic seed: 100,000 images per project, generated lazily and deterministically."""

from __future__ import annotations

from datetime import datetime

import pytest

from local.simulator.identifiers import SyntheticIdCodec, seeded_id
from local.simulator.imaging import sniff
from local.simulator.seeding import SYNTHETIC_TAGS
from tests.simulator.conftest import MakeApi
from tests.simulator.support import Api

IMAGES = 100_000


@pytest.fixture
async def synthetic(make_api: MakeApi) -> tuple[Api, str, SyntheticIdCodec]:
    api = await make_api(seed=f"synthetic:2:{IMAGES}")
    project_id = seeded_id("synthetic", "project", "0")
    return api, project_id, SyntheticIdCodec(project_id)


async def test_projects_tags_and_counts(synthetic: tuple[Api, str, SyntheticIdCodec]) -> None:
    api, project_id, _ = synthetic
    projects = await api.ok(api.get("/projects"))
    assert [p["name"] for p in projects] == ["synthetic-000", "synthetic-001"]
    assert await api.count(project_id) == IMAGES
    assert await api.count(project_id, "tagged") == 75_000
    assert await api.count(project_id, "untagged") == 25_000
    tags = await api.ok(api.get(f"/projects/{project_id}/tags"))
    assert [(t["name"], t["imageCount"]) for t in tags] == [(name, 25_000) for name in SYNTHETIC_TAGS]
    gamma = tags[2]["id"]
    assert await api.count(project_id, "tagged", tagIds=gamma) == 25_000
    expected = sum(1 for index in range(IMAGES) if index % 97 == 5)
    assert await api.count(project_id, **{"$filter": "subject eq 'subject-05'"}) == expected


async def test_first_and_last_pages(synthetic: tuple[Api, str, SyntheticIdCodec]) -> None:
    api, project_id, codec = synthetic
    first = await api.ok(api.get(f"/projects/{project_id}/images", take=256))
    assert [image["id"] for image in first] == [codec.encode(index) for index in range(IMAGES - 1, IMAGES - 257, -1)]
    created = [datetime.fromisoformat(image["created"]) for image in first]
    assert created == sorted(created, reverse=True)
    last = await api.ok(api.get(f"/projects/{project_id}/images", orderBy="Oldest", skip=IMAGES - 50, take=256))
    assert len(last) == 50
    assert last[-1]["id"] == codec.encode(IMAGES - 1)
    assert last[-1]["metadata"] == {"subject": f"subject-{(IMAGES - 1) % 97:02d}", "batch": "99"}
    untagged = await api.ok(api.get(f"/projects/{project_id}/images/untagged", orderBy="Oldest", take=2))
    assert [image["id"] for image in untagged] == [codec.encode(3), codec.encode(7)]
    assert untagged[0]["tags"] is None
    by_ids = await api.ok(
        api.get(f"/projects/{project_id}/images/id", imageIds=f"{codec.encode(0)},{codec.encode(IMAGES)}")
    )
    assert [image["id"] for image in by_ids] == [codec.encode(0)]
    assert by_ids[0]["tags"][0]["tagName"] == "alpha"
    # Reading changed nothing and created no per-image objects.
    summary = api.simulator.summary()["projects"][0]
    assert (summary["images"], summary["materialisedImages"]) == (IMAGES, 0)


async def test_images_download_lazily(synthetic: tuple[Api, str, SyntheticIdCodec]) -> None:
    api, project_id, _ = synthetic
    [image] = await api.ok(api.get(f"/projects/{project_id}/images", take=1))
    response = await api.client.get(image["originalImageUri"])
    info = sniff(response.content)
    assert info is not None
    assert (info.width, info.height) == (image["width"], image["height"])
    again = await api.client.get(image["originalImageUri"])
    assert again.content == response.content


async def test_changes_materialise_only_what_changed(synthetic: tuple[Api, str, SyntheticIdCodec]) -> None:
    api, project_id, codec = synthetic
    tags = await api.ok(api.get(f"/projects/{project_id}/tags"))
    untagged_image = codec.encode(11)  # 11 % 4 == 3: untagged
    body = {"tags": [{"imageId": untagged_image, "tagId": tags[0]["id"]}]}
    assert (await api.ok(api.post(f"/projects/{project_id}/images/tags", json=body)))["created"]
    assert await api.count(project_id, "tagged") == 75_001
    iteration = await api.train(project_id)
    deleted = ",".join(codec.encode(index) for index in range(10))
    assert (await api.delete(f"/projects/{project_id}/images", imageIds=deleted)).status_code == 204
    assert await api.count(project_id) == IMAGES - 10
    assert await api.count(project_id, "tagged") == 75_001 - 8  # 3 and 7 were untagged
    assert await api.count(project_id, iterationId=iteration["id"]) == IMAGES
    tag_counts = {t["name"]: t["imageCount"] for t in await api.ok(api.get(f"/projects/{project_id}/tags"))}
    assert tag_counts == {"alpha": 25_000 + 1 - 3, "beta": 25_000 - 3, "gamma": 25_000 - 2}
    assert (await api.delete(f"/projects/{project_id}/tags/{tags[1]['id']}")).status_code == 204
    assert await api.count(project_id, "untagged") == (25_000 - 1 - 2) + (25_000 - 3)
    assert api.simulator.summary()["projects"][0]["materialisedImages"] == 1


async def test_all_images_delete_empties_the_range(make_api: MakeApi, clock) -> None:
    api = await make_api(clock=clock, seed="synthetic:1:5000", background_delete_seconds=1)
    project_id = seeded_id("synthetic", "project", "0")
    assert (await api.delete(f"/projects/{project_id}/images", allImages="true")).status_code == 202
    clock.advance(1)
    assert await api.count(project_id) == 0
    assert await api.ok(api.get(f"/projects/{project_id}/images")) == []
