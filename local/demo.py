"""``cvdsr demo`` / ``make demo``: the main job, end to end, on this machine.

Starts Azurite, the Custom Vision simulator with its demo account, and the development host running
``function_app.py``; exports everything (with ``export.zip``), copies the results to
``./demo-results/`` so ``report.html`` can be opened, then erases one data subject's images (those
with metadata ``subject = alice``), prints the erasure certificate's summary and checks its seal and
signature as ``cvdsr verify-certificate`` does (signed with the development key, ``.signing/dev-key.pem``,
created the first time; git-ignored). Last, Transcend asks:
the fake Sombra (``local.platforms.transcend``) sends a signed access webhook for ``bob``, and his
image records and files arrive in it. Stops everything it started, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from azure.storage.blob import BlobServiceClient

from local.azurite import start_azurite
from local.certificate_cli import verify_file
from local.host import start_host_process
from local.http_server import serve
from local.platforms.transcend import FakeSombra
from local.requests_cli import enqueue, wait_for_completion
from local.simulator import SimulatorConfig, run_simulator
from shared import signing
from shared.signing import ensure_dev_key

REPO = Path(__file__).resolve().parents[1]
DEMO_KEY = "demo-training-key-" + uuid.uuid4().hex[:12]
SOMBRA_KEY = "demo-transcend-key-" + uuid.uuid4().hex[:12]
EVENTS = "dsr-events"
DEV_KEY = REPO / signing.DEV_KEY  # git-ignored; `make install` creates it too


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", type=Path, default=Path("demo-results"), help="where to copy the results")
    parser.add_argument("--timeout", type=float, default=300.0)


def _request(request_id: str, request_type: str, **fields: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "request_id": request_id,
        "type": request_type,
        "resources": ["demo"],
        "ticket": {"system": "demo", "id": request_id},
        "received_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        **fields,
    }


def _download(connection: str, request_id: str, output: Path) -> Path:
    container = BlobServiceClient.from_connection_string(connection).get_container_client("dsr-results")
    for blob in container.list_blobs(name_starts_with=f"{request_id}/"):
        target = output / blob.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(container.download_blob(blob.name).readall())
    return output / request_id


def _say(text: str) -> None:
    print(text, flush=True)


def _stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so the ExitStack stops Azurite, the simulator and the host."""

    def handler(_signum: int, _frame: object) -> None:
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, handler)


def run_from_args(args: argparse.Namespace) -> int:
    _stop_on_sigterm()
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="cvdsr-demo-") as scratch:
        _say("starting Azurite, the Custom Vision simulator (demo account) and the development host ...")
        azurite = start_azurite(location=Path(scratch) / "azurite")
        stack.callback(azurite.stop, graceful=False)
        simulator = stack.enter_context(run_simulator(SimulatorConfig(seed="demo", training_key=DEMO_KEY)))
        sombra = FakeSombra(api_key=SOMBRA_KEY, audience="demo-org")
        sombra_url = stack.enter_context(serve(sombra.app()))
        env = {
            "AzureWebJobsStorage": azurite.connection_string,
            "CVDSR_TASK_HUB": f"demo{stamp}",
            "CVDSR_SWEEP_SCHEDULE": "0 */5 * * * *",
            # Its own installation on its own Azurite, whatever the calling shell has set.
            "CVDSR_RESULTS_CONTAINER": "dsr-results",
            "CVDSR_STATE_CONTAINER": "cvdsr-state",
            "CUSTOMVISION__DEMO__ENDPOINT": simulator.base_url,
            "CUSTOMVISION__DEMO__TRAININGKEY": DEMO_KEY,
            "CVDSR_EVENTS_QUEUE": EVENTS,
            # The demo's own event channel only, whatever the calling shell has configured.
            "ServiceBusConnection": "",
            "CVDSR_WEBHOOK_URL": "",
            # Transcend, through the fake Sombra; the demo's images name their person in metadata "subject".
            "CVDSR_TRANSCEND__SOMBRA_URL": sombra_url,
            "CVDSR_TRANSCEND__API_KEY": SOMBRA_KEY,
            "CVDSR_TRANSCEND__AUDIENCE": "demo-org",
            "CVDSR_TRANSCEND__RESOURCES": "demo",
            "CUSTOMVISION__DEMO__SUBJECT_METADATA_KEY": "subject",
            # The report's Art. 15 information: the documented example.
            "CUSTOMVISION__DEMO__PRIVACY_INFO": str(REPO / "docs" / "privacy-info.example.json"),
            # Certificates signed with the development key, whatever the calling shell has set.
            "CVDSR_SIGNING__KEY_FILE": str(ensure_dev_key(DEV_KEY)),
            "CVDSR_SIGNING__KEY_VAULT_KEY_ID": "",
        }
        host = start_host_process(REPO, env=env, log_path=Path(scratch) / "host.log", extra_args=["--no-azurite"])
        stack.callback(host.stop)
        _say(f"host ready at {host.base_url}; simulator at {simulator.base_url}")

        export_id = f"DEMO-EXPORT-{stamp}"
        _say(f"\n1. export request {export_id}: everything in resource 'demo', with export.zip and datasets")
        formats = ["coco", "azureml", "csv"]
        enqueue(azurite.connection_string, _request(export_id, "export", export_zip=True, formats=formats))
        event = wait_for_completion(host.base_url, azurite.connection_string, export_id, args.timeout, EVENTS)
        data = event["data"]
        _say(f"   event {event['type']}: status {data['status']}")
        _say("   counts: " + ", ".join(f"{kind} {count}" for kind, count in sorted(data["counts"].items())))
        _say(f"   results: container {data['result']['container']}, folder {export_id}/")
        folder = _download(azurite.connection_string, export_id, args.output)
        _say(f"   copied to {folder}/ (open report.html; manifest.json lists every file with its SHA-256)")
        datasets = sorted(p.relative_to(folder) for p in folder.glob("data/projects/*/datasets/**/*") if p.is_file())
        _say(f"   datasets for other tools (COCO, Azure ML, CSV): {len(datasets)} files in data/projects/*/datasets/")

        erase_id = f"DEMO-ERASE-{stamp}"
        _say(f"\n2. erase request {erase_id}: the images of data subject 'alice' (metadata subject=alice)")
        selector = {"projects": "all", "images": {"metadata": {"subject": "alice"}}}
        enqueue(azurite.connection_string, _request(erase_id, "erase", scope=selector))
        event = wait_for_completion(host.base_url, azurite.connection_string, erase_id, args.timeout, EVENTS)
        data = event["data"]
        _say(f"   event {event['type']}: status {data['status']}")
        folder = _download(azurite.connection_string, erase_id, args.output)
        certificate = json.loads((folder / "erasure-certificate.json").read_text())
        body = certificate["certificate"]
        _say(f"   certificate {folder / 'erasure-certificate.json'} (sha256 {certificate['sha256'][:16]}...)")
        _say("   deleted: " + ", ".join(f"{kind} {count}" for kind, count in sorted(body["deleted"].items())))
        passed = sum(1 for check in body["verification"] if check["passed"])
        _say(f"   verified by reading back: {passed}/{len(body['verification'])} checks passed")
        for project in body["projects"]:
            if project["trained_on_erased_images"]:
                _say(
                    f"   project {project['project_id']}: iterations trained on the erased images: "
                    + ", ".join(project["trained_on_erased_images"])
                    + " (retrain or delete them)"
                )
        proof = verify_file(folder / "erasure-certificate.json", key_file=DEV_KEY)
        _say(
            f"   cvdsr verify-certificate: {'the certificate verifies' if proof.ok else 'NOT VERIFIED'}"
            f" (seal and ES256 signature, signed by {proof.kid})"
        )
        for problem in proof.problems:
            _say(f"   problem: {problem}")
        erased = bool(body["verified"]) and data["status"] == "succeeded" and proof.ok

        _say("\n3. Transcend: the fake Sombra sends a signed ACCESS webhook for data subject 'bob'")
        headers, webhook = sombra.webhook("ACCESS", "bob", profile=("email", "bob@example.test"))
        answer = httpx.post(f"{host.base_url}/api/connectors/transcend", content=webhook, headers=headers, timeout=60)
        _say(f"   cvdsr answered {answer.status_code}: request {answer.json().get('request_id')}")
        job = sombra.jobs[headers["x-transcend-nonce"]]
        deadline = time.monotonic() + args.timeout
        while job.state != "resolved" and time.monotonic() < deadline:
            time.sleep(0.5)
        records = job.records.get("images", [])
        _say(f"   Sombra received {len(records)} image record(s) and {len(job.files)} file(s); job {job.status}")
        _say("\nstopping the host, the simulator and Azurite")
        return 0 if erased and job.state == "resolved" and records else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m local.demo")
    add_arguments(parser)
    sys.exit(run_from_args(parser.parse_args()))
