"""Azure ML's own reader loads the Azure ML datasets of a real export (issue 15).

``mltable`` (with azureml-dataprep's native reader) runs in its own venv (``.venv/mltable``, from
``requirements-mltable.txt``): the demo account is exported with ``formats: ["azureml"]`` through the
development host, each project's ``datasets/azureml/`` folder is loaded with ``mltable.load`` and read
into a DataFrame, and what Azure ML sees (rows, ``image_url`` as a stream, labels) is compared with the
JSONL cvdsr wrote and with the exported files.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests import tool_venv
from tests.e2e.support import environment

pytestmark = pytest.mark.skipif(os.environ.get("CVDSR_INTEROP") != "full", reason="make interop only")

READ = """
import json, sys
import mltable
frame = mltable.load(sys.argv[1]).to_pandas_dataframe()
rows = [
    {
        "image_url": str(row.image_url),
        "kind": type(row.image_url).__name__,
        "label": row.label.tolist() if hasattr(row.label, "tolist") else row.label,
    }
    for row in frame.itertuples()
]
print(json.dumps({"columns": list(frame.columns), "rows": rows}, default=str))
"""


def test_mltable_loads_the_exported_azureml_datasets(azurite: Any, tmp_path: Path) -> None:
    python = tool_venv.ensure("mltable", Path(__file__).with_name("requirements-mltable.txt"), "python")
    with environment(azurite, process=True) as env:
        request_id = "EXP-MLTABLE-1"
        env.send_queue(env.request(request_id, formats=["azureml"]))
        assert env.wait(request_id, timeout=240)["status"] == "succeeded"
        folders = sorted(
            {name.rsplit("/", 1)[0] for name in env.blob_names(request_id) if "/datasets/azureml/" in name}
        )
        assert folders, "the export wrote Azure ML datasets"
        exported = set(env.blob_names(f"{request_id}/data/"))
        loaded = 0
        for folder in folders:
            local = tmp_path / folder.replace("/", "_")
            local.mkdir()
            for name in ("MLTable", "images.jsonl"):
                (local / name).write_bytes(env.blob(f"{folder}/{name}"))
            written = [json.loads(line) for line in (local / "images.jsonl").read_bytes().splitlines()]
            result = subprocess.run([str(python), "-c", READ, str(local)], capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, result.stderr[-2000:]
            table = json.loads(result.stdout)
            assert len(table["rows"]) == len(written)
            if not written:  # a project without trainable images (the demo's empty sandbox)
                continue
            assert table["columns"] == ["image_url", "image_details", "label"]
            for row, line in zip(table["rows"], written, strict=True):
                assert row["image_url"] == line["image_url"]
                assert row["kind"] == "StreamInfo", "Azure ML reads image_url as a stream of the file"
                assert f"{request_id}/{line['image_url'].split(f'/{request_id}/', 1)[1]}" in exported
                assert row["label"] == line["label"]
            loaded += len(written)
        assert loaded > 0


def test_an_https_url_is_a_stream(tmp_path: Path) -> None:
    """What an Azure ML job sees in Azure: the results container's https URL as a stream of the file."""
    from shared.datasets import azureml
    from shared.datasets.source import WORKSPACE, DatasetImage

    python = tool_venv.ensure("mltable", Path(__file__).with_name("requirements-mltable.txt"), "python")
    record = {"id": "i", "width": 64, "height": 48, "tags": [{"tagId": "t", "tagName": "cat"}], "regions": []}
    image = DatasetImage.from_record(record, WORKSPACE, "data/projects/p/images/i.png")
    line = azureml.line(image, "multiclass", "https://stcvdsr.blob.core.windows.net/dsr-results/REQ-1")
    assert line is not None
    (tmp_path / "MLTable").write_text(azureml.MLTABLE)
    (tmp_path / "images.jsonl").write_bytes(azureml.jsonl_line(line))
    result = subprocess.run([str(python), "-c", READ, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    [row] = json.loads(result.stdout)["rows"]
    assert row == {"image_url": line["image_url"], "kind": "StreamInfo", "label": "cat"}
