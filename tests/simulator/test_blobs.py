"""Signed image/export URIs behave like SAS URLs: absolute, real bytes, 403 when expired or tampered."""

from __future__ import annotations

import io
import json
import zipfile
from urllib.parse import parse_qs, urlsplit

from local.simulator.clock import ManualClock
from local.simulator.imaging import sniff
from tests.simulator.conftest import MakeApi
from tests.simulator.support import KEY, Api


async def _image(api: Api) -> dict[str, str]:
    project = await api.create_project("blobs")
    return await api.upload(project["id"], "blob-image")


async def test_uris_are_absolute_signed_and_serve_images(api: Api) -> None:
    image = await _image(api)
    for field, expected_size in (
        ("originalImageUri", (64, 48)),
        ("resizedImageUri", (64, 48)),
        ("thumbnailUri", (32, 32)),
    ):
        uri = image[field]
        parts = urlsplit(uri)
        assert (parts.scheme, parts.netloc) == ("http", "simulator.test")
        query = parse_qs(parts.query)
        assert {"se", "sig", "sp", "sr", "sv"} <= set(query)
        response = await api.client.get(uri)
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/png"
        info = sniff(response.content)
        assert info is not None
        assert (info.width, info.height) == expected_size


async def test_expired_uris_answer_403_authentication_failed(make_api: MakeApi, clock: ManualClock) -> None:
    api = await make_api(clock=clock, uri_ttl_seconds=30)
    image = await _image(api)
    clock.advance(29)
    assert (await api.client.get(image["originalImageUri"])).status_code == 200
    clock.advance(1)
    expired = await api.client.get(image["originalImageUri"])
    assert expired.status_code == 403
    assert expired.headers["x-ms-error-code"] == "AuthenticationFailed"
    assert expired.headers["content-type"].startswith("application/xml")
    assert b"<Code>AuthenticationFailed</Code>" in expired.content
    assert b"Signed expiry time" in expired.content


async def test_relisting_gives_fresh_uris(make_api: MakeApi, clock: ManualClock) -> None:
    api = await make_api(clock=clock, uri_ttl_seconds=30)
    project = await api.create_project("relist")
    await api.upload(project["id"], "relist-image")
    clock.advance(31)
    listed = await api.ok(api.get(f"/projects/{project['id']}/images"))
    assert (await api.client.get(listed[0]["originalImageUri"])).status_code == 200


async def test_tampered_uris_answer_403(api: Api) -> None:
    image = await _image(api)
    uri = image["originalImageUri"]
    other_blob = uri.replace("/original?", "/resized?")
    longer_expiry = uri.replace("se=", "se=2099-01-01T00%3A00%3A00Z&old=")
    without_signature = uri.split("&sig=")[0]
    for bad in (other_blob, longer_expiry, without_signature):
        response = await api.client.get(bad)
        assert response.status_code == 403, bad
        assert b"Signature did not match." in response.content


async def test_signatures_do_not_derive_from_the_key(make_api: MakeApi, clock: ManualClock) -> None:
    first = await make_api(clock=clock)
    second = await make_api(clock=clock)
    uris = []
    for api in (first, second):
        project = await api.create_project("same")  # same ids: both simulators use random_seed 0
        image = await api.upload(project["id"], "same")
        uris.append(image["originalImageUri"])
    assert uris[0].split("&sig=")[0] == uris[1].split("&sig=")[0]
    assert uris[0] != uris[1]  # same key, same path and expiry, different per-instance secret
    assert KEY not in uris[0]


async def test_export_download_is_a_zip(make_api: MakeApi, clock: ManualClock) -> None:
    api = await make_api(clock=clock, export_seconds=1)
    project = await api.create_project("exports")
    tag = await api.create_tag(project["id"], "cat")
    await api.upload(project["id"], "e", tag_ids=[tag["id"]])
    iteration = await api.train(project["id"])
    path = f"/projects/{project['id']}/iterations/{iteration['id']}/export"
    export = await api.ok(api.post(path, params={"platform": "ONNX", "flavor": "ONNX12"}))
    assert export["status"] == "Exporting"
    assert "downloadUri" not in export
    clock.advance(1)
    [done] = await api.ok(api.get(path))
    assert done["status"] == "Done"
    response = await api.client.get(done["downloadUri"])
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["labels"] == ["cat"]
    assert (manifest["platform"], manifest["flavor"]) == ("ONNX", "ONNX12")
    # Exported models are deleted with the account, not with the iteration.
    assert (await api.delete(f"/projects/{project['id']}/iterations/{iteration['id']}")).status_code == 204
    assert (await api.client.get(done["downloadUri"])).status_code == 200
