# mypy: disable-error-code="untyped-decorator"
"""Timer triggers for the development host's tests (not part of cvdsr). Every run appends a line to the
file named by the app setting HOST_TEST_RECORD."""

import asyncio
import os
import time

import azure.durable_functions as df
import azure.functions as func
from azure.functions.timer import TimerRequest  # the worker's concrete class, with schedule_status

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def record(line: str) -> None:
    with open(os.environ["HOST_TEST_RECORD"], "a", encoding="utf-8") as f:
        f.write(line + "\n")


@app.timer_trigger(schedule="%TEST_TICK_SCHEDULE%", arg_name="timer")
def tick(timer: TimerRequest) -> None:
    record(f"tick {time.time():.3f} {timer.past_due!r} {timer.schedule_status.get('Next')}")


@app.timer_trigger(schedule="0 0 0 1 Jan *", arg_name="timer", run_on_startup=True)
def on_startup(timer: func.TimerRequest) -> None:
    record("startup")


@app.timer_trigger(schedule="* * * * * *", arg_name="timer")
async def slow(timer: func.TimerRequest) -> None:
    record("slow start")
    await asyncio.sleep(2.5)
    record("slow end")


@app.timer_trigger(schedule="*/1 * * * * *", arg_name="timer")
def failing(timer: func.TimerRequest) -> None:
    record("failing")
    raise RuntimeError("cannot reach DefaultEndpointsProtocol=http;AccountName=a;AccountKey=topsecret123==;")


@app.timer_trigger(schedule="*/2 * * * * *", arg_name="timer")
@app.durable_client_input(client_name="client")
async def starter(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    instance_id = await client.start_new("hello", None, "from a timer")
    record(f"started {instance_id}")


@app.orchestration_trigger(context_name="context")
def hello(context: df.DurableOrchestrationContext) -> str:
    return f"hello {context.get_input()}"
