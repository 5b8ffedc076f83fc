# mypy: disable-error-code="untyped-decorator"
"""Service Bus queue trigger sample for the development host's tests."""

import os

import azure.functions as func

app = func.FunctionApp()


@app.service_bus_queue_trigger(arg_name="msg", queue_name="%TEST_SB_QUEUE%", connection="ServiceBusConnection")
def sb_intake(msg: func.ServiceBusMessage) -> None:
    body = msg.get_body().decode()
    with open(os.environ["HOST_TEST_RECORD"], "a", encoding="utf-8") as f:
        f.write(f"{body} {msg.message_id} {msg.delivery_count} {msg.application_properties.get('kind')}\n")
    if body.startswith("fail"):
        raise RuntimeError("always fails")
