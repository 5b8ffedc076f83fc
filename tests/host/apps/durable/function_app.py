# mypy: disable-error-code="untyped-decorator"
"""A small Durable app for the development host's tests (not part of cvdsr)."""

import asyncio
import datetime
import json
import os
import time
from functools import partial
from typing import Any

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)


def record(line: str) -> None:
    path = os.environ.get("HOST_TEST_RECORD")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")


def _recorded() -> list[str]:
    path = os.environ.get("HOST_TEST_RECORD")
    if not path or not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def counter(key: str) -> int:
    """How many times `key` was seen (a file per key next to the record file)."""
    path = os.environ["HOST_TEST_RECORD"] + f".{key}"
    n = 1
    if os.path.exists(path):
        with open(path) as f:
            n = int(f.read()) + 1
    with open(path, "w") as f:
        f.write(str(n))
    return n


# --- starters ------------------------------------------------------------------------------------
@app.route(route="start/{name}/{instance_id?}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    value = json.loads(body) if body else None
    try:
        iid = await client.start_new(req.route_params["name"], req.route_params.get("instance_id"), value)
    except Exception as exc:
        return func.HttpResponse(json.dumps({"error": str(exc)}), status_code=409, mimetype="application/json")
    response: func.HttpResponse = client.create_check_status_response(req, iid)
    return response


@app.route(route="ops/{op}/{instance_id}", methods=["GET", "POST"])
@app.durable_client_input(client_name="client")
async def http_ops(req: func.HttpRequest, client) -> func.HttpResponse:
    op, iid = req.route_params["op"], req.route_params["instance_id"]
    try:
        if op == "status":
            status = await client.get_status(iid, show_history=req.params.get("history") == "1")
            result: Any = status.to_json() if status else None
            if status and req.params.get("history") == "1":
                result["history"] = status.historyEvents
        elif op == "terminate":
            await client.terminate(iid, "stopped by test")
            result = "ok"
        elif op == "purge":
            result = (await client.purge_instance_history(iid)).instances_deleted
        elif op == "raise":
            await client.raise_event(iid, req.params["event"], json.loads(req.get_body() or b"null"))
            result = "ok"
        elif op == "payload":
            result = client.create_http_management_payload(iid)
        else:
            return func.HttpResponse("unknown op", status_code=400)
    except Exception as exc:
        return func.HttpResponse(json.dumps({"error": str(exc)}), status_code=500, mimetype="application/json")
    return func.HttpResponse(json.dumps(result, default=str), mimetype="application/json")


@app.queue_trigger(arg_name="msg", queue_name="%TEST_START_QUEUE%", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="out", queue_name="starter-results", connection="AzureWebJobsStorage")
@app.durable_client_input(client_name="client")
async def queue_start(msg: func.QueueMessage, out: func.Out[str], client) -> None:
    request = json.loads(msg.get_body())
    try:
        iid = await client.start_new(request["name"], request.get("id"), request.get("input"))
        out.set(json.dumps({"id": iid, "ok": True}))
    except Exception as exc:
        out.set(json.dumps({"id": request.get("id"), "ok": False, "error": str(exc)}))


@app.queue_trigger(arg_name="msg", queue_name="%TEST_WORK_QUEUE%", connection="AzureWebJobsStorage")
def queue_work(msg: func.QueueMessage) -> None:
    text = msg.get_body().decode()
    record(f"work {text} {msg.dequeue_count}")
    if text.startswith("poison"):
        raise RuntimeError("this message always fails")


# --- orchestrators -------------------------------------------------------------------------------
@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    n = context.get_input()
    results = yield context.task_all([context.call_activity("double", i) for i in range(n)])
    return {"sum": sum(results), "results": results}


@app.orchestration_trigger(context_name="context")
def retry_orch(context: df.DurableOrchestrationContext):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=200, max_number_of_attempts=3)
    ok = yield context.call_activity_with_retry("flaky", options, {"key": context.instance_id, "fail": 2})
    try:
        yield context.call_activity_with_retry(
            "flaky", df.RetryOptions(100, 2), {"key": context.instance_id + "-x", "fail": 5}
        )
        exhausted = "no error"
    except Exception as exc:
        exhausted = str(exc)
    return {"ok": ok, "exhausted": exhausted}


@app.orchestration_trigger(context_name="context")
def parent_orch(context: df.DurableOrchestrationContext):
    value = context.get_input()
    child = yield context.call_sub_orchestrator("child_orch", value, instance_id=f"{context.instance_id}-child")
    auto = yield context.call_sub_orchestrator("child_orch", value + 1)
    try:
        yield context.call_sub_orchestrator("child_orch", -1, instance_id=f"{context.instance_id}-bad")
        error = None
    except Exception as exc:
        error = str(exc)
    return {"child": child, "auto": auto, "error": error}


@app.orchestration_trigger(context_name="context")
def child_orch(context: df.DurableOrchestrationContext):
    value = context.get_input()
    if value < 0:
        raise ValueError("negative input")
    doubled = yield context.call_activity("double", value)
    return {"doubled": doubled, "parent": context.parent_instance_id}


@app.orchestration_trigger(context_name="context")
def timer_orch(context: df.DurableOrchestrationContext):
    start = context.current_utc_datetime
    yield context.create_timer(start + datetime.timedelta(seconds=1))
    elapsed = (context.current_utc_datetime - start).total_seconds()
    return {"elapsed_ok": elapsed >= 1.0}


@app.orchestration_trigger(context_name="context")
def can_orch(context: df.DurableOrchestrationContext):
    count = context.get_input() or 0
    value = yield context.call_activity("double", count)
    if count < 3:
        context.continue_as_new(count + 1)
        return None
    return {"count": count, "last": value}


@app.orchestration_trigger(context_name="context")
def fail_orch(context: df.DurableOrchestrationContext):
    yield context.call_activity("fails", context.get_input() or "bad input")
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def event_orch(context: df.DurableOrchestrationContext):
    context.set_custom_status({"phase": "waiting"})
    approval = yield context.wait_for_external_event("approve")
    deadline = context.current_utc_datetime + datetime.timedelta(seconds=1)
    timeout = context.create_timer(deadline)
    second = context.wait_for_external_event("never")
    winner = yield context.task_any([second, timeout])
    context.set_custom_status({"phase": "done"})
    return {"approval": approval, "timed_out": winner == timeout}


@app.orchestration_trigger(context_name="context")
def wait_orch(context: df.DurableOrchestrationContext):
    value = yield context.wait_for_external_event("go")
    return value


@app.orchestration_trigger(context_name="context")
def race_orch(context: df.DurableOrchestrationContext):
    timeout = context.create_timer(context.current_utc_datetime + datetime.timedelta(seconds=30))
    work = context.call_activity("double", 21)
    winner = yield context.task_any([work, timeout])
    if winner == work:
        timeout.cancel()
        return {"won": "work", "value": work.result}
    return {"won": "timeout"}


@app.orchestration_trigger(context_name="context")
def window_orch(context: df.DurableOrchestrationContext):
    """cvdsr's sliding window (shared.orchestration.context.in_window) over ``hold`` activities."""
    from shared.orchestration.context import in_window

    spec = context.get_input()
    starters = [
        partial(
            context.call_activity,
            "fails" if item.get("fail") else "hold",
            {"run": context.instance_id, "i": i, **item},
        )
        for i, item in enumerate(spec["items"])
    ]
    finished: list[int] = []
    try:
        results = yield from in_window(context, starters, spec["width"], lambda index, _: finished.append(index))
    except Exception as exc:
        return {"error": str(exc), "finished": finished}
    return {"results": results, "finished": finished}


@app.orchestration_trigger(context_name="context")
def big_orch(context: df.DurableOrchestrationContext):
    text = yield context.call_activity("big", context.get_input())
    return text


@app.orchestration_trigger(context_name="context")
def status_orch(context: df.DurableOrchestrationContext):
    context.set_custom_status("x" * context.get_input())
    yield context.call_activity("double", 1)
    return "set"


@app.orchestration_trigger(context_name="context")
def hello_orch(context: df.DurableOrchestrationContext):
    yield context.call_activity("double", 1)
    return "hello"


@app.orchestration_trigger(context_name="context")
def at_child_orch(context: df.DurableOrchestrationContext):
    yield context.call_sub_orchestrator("child_orch", 1, instance_id="@child")
    return "started"


# --- activities ----------------------------------------------------------------------------------
@app.activity_trigger(input_name="value")
def double(value: int) -> int:
    record(f"start double {value}")
    time.sleep(float(os.environ.get("HOST_TEST_SLOW", "0")))
    record(f"end double {value}")
    return value * 2


@app.activity_trigger(input_name="work")
async def hold(work: dict[str, Any]) -> int:
    record(f"start hold {work['run']} {work['i']}")
    if "after" in work:  # hold until another hold of the same run has ended (at most 20 s)
        awaited = f"end hold {work['run']} {work['after']}"
        for _ in range(400):  # the other activity may run anywhere: watch the record file
            if awaited in _recorded():
                break
            await asyncio.sleep(0.05)
    else:
        await asyncio.sleep(work["seconds"])
    record(f"end hold {work['run']} {work['i']}")
    return int(work["i"]) * 10


@app.activity_trigger(input_name="request")
async def flaky(request: dict[str, Any]) -> str:
    await asyncio.sleep(0)
    n = counter(request["key"])
    if n <= request["fail"]:
        raise RuntimeError(f"boom {n}")
    return f"ok after {n}"


@app.activity_trigger(input_name="text")
def fails(text: str) -> str:
    raise ValueError(text)


@app.activity_trigger(input_name="size")
def big(size: int) -> str:
    return "x" * size
