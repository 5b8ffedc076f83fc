"""Image listings: tag filters (any-of), tagging status, metadata $filter, ordering and paging."""

from __future__ import annotations

import pytest

from local.simulator.metadata_filter import FilterSyntaxError, parse_filter
from tests.simulator.support import Api, error_code


@pytest.fixture
async def gallery(api: Api) -> tuple[Api, str, dict[str, str], dict[str, str]]:
    project = await api.create_project("gallery")
    cat = await api.create_tag(project["id"], "cat")
    dog = await api.create_tag(project["id"], "dog")
    specs = [
        ("a", [cat["id"]], {"subject": "alice", "camera": "door"}),
        ("b", [dog["id"]], {"subject": "bob", "camera": "door"}),
        ("c", [cat["id"], dog["id"]], {"subject": "alice", "camera": "garden"}),
        ("d", [], {"subject": "carol"}),
        ("e", [], {}),
    ]
    ids = {}
    for seed, tags, metadata in specs:
        ids[seed] = (await api.upload(project["id"], seed, tag_ids=tags, metadata=metadata))["id"]
    return api, project["id"], ids, {"cat": cat["id"], "dog": dog["id"]}


def _names(images: list[dict[str, str]], ids: dict[str, str]) -> list[str]:
    by_id = {value: key for key, value in ids.items()}
    return [by_id[image["id"]] for image in images]


async def test_ordering_and_paging(gallery) -> None:
    api, project_id, ids, _ = gallery
    newest = await api.ok(api.get(f"/projects/{project_id}/images"))
    assert _names(newest, ids) == ["e", "d", "c", "b", "a"]
    oldest = await api.ok(api.get(f"/projects/{project_id}/images", orderBy="oldest", skip=1, take=2))
    assert _names(oldest, ids) == ["b", "c"]
    beyond = await api.ok(api.get(f"/projects/{project_id}/images", skip=10))
    assert beyond == []


async def test_tag_filters_match_any_tag(gallery) -> None:
    api, project_id, ids, tags = gallery
    cats = await api.ok(api.get(f"/projects/{project_id}/images/tagged", tagIds=tags["cat"], orderBy="Oldest"))
    assert _names(cats, ids) == ["a", "c"]
    either = await api.ok(api.get(f"/projects/{project_id}/images", tagIds=f"{tags['cat']},{tags['dog']}"))
    assert _names(either, ids) == ["c", "b", "a"]
    assert await api.count(project_id, "tagged", tagIds=tags["dog"]) == 2
    assert await api.count(project_id, taggingStatus="Untagged") == 2
    untagged = await api.ok(api.get(f"/projects/{project_id}/images/untagged"))
    assert _names(untagged, ids) == ["e", "d"]
    assert await api.count(project_id, taggingStatus="Untagged", tagIds=tags["cat"]) == 0


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("subject eq 'alice'", ["c", "a"]),
        ("subject ne 'alice'", ["e", "d", "b"]),
        ("subject eq 'alice' and camera eq 'door'", ["a"]),
        ("subject eq 'bob' or camera eq 'garden'", ["c", "b"]),
        ("(subject eq 'bob' or subject eq 'carol') and camera ne 'door'", ["d"]),
        ("subject EQ 'alice' AND (camera eq 'garden')", ["c"]),
        ("metadata=subject eq 'carol'", ["d"]),
        ("nothing eq 'x'", []),
    ],
)
async def test_metadata_filter(gallery, expression: str, expected: list[str]) -> None:
    api, project_id, ids, _ = gallery
    images = await api.ok(api.get(f"/projects/{project_id}/images", **{"$filter": expression}))
    assert _names(images, ids) == expected
    assert await api.count(project_id, **{"$filter": expression}) == len(expected)


async def test_filter_combines_with_tagging_status(gallery) -> None:
    api, project_id, ids, _ = gallery
    images = await api.ok(
        api.get(f"/projects/{project_id}/images", taggingStatus="Tagged", **{"$filter": "subject eq 'alice'"})
    )
    assert _names(images, ids) == ["c", "a"]


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "subject",
        "subject eq",
        "subject eq alice",
        "(subject eq 'a'",
        "subject eq 'a')",
        "subject gt 'a'",
        "and eq 'a'",
        "subject eq 'a' or",
        "'a' eq subject",
    ],
)
def test_filter_syntax_errors(expression: str) -> None:
    with pytest.raises(FilterSyntaxError):
        parse_filter(expression)


def test_filter_quotes_escape_by_doubling() -> None:
    predicate = parse_filter("name eq 'O''Brien'")
    assert predicate({"name": "O'Brien"})
    assert not predicate({"name": "OBrien"})


async def test_invalid_filter_is_a_bad_request(gallery) -> None:
    api, project_id, _, _ = gallery
    response = await api.get(f"/projects/{project_id}/images/count", **{"$filter": "subject = 'alice'"})
    assert response.status_code == 400
    assert error_code(response) == "BadRequestInvalid"


async def test_images_by_ids_keep_request_order_and_skip_unknown(gallery) -> None:
    api, project_id, ids, _ = gallery
    query = f"{ids['c']},00000000-0000-4000-8000-000000000001,{ids['a']}"
    images = await api.ok(api.get(f"/projects/{project_id}/images/id", imageIds=query))
    assert _names(images, ids) == ["c", "a"]
    assert await api.ok(api.get(f"/projects/{project_id}/images/id")) == []
