"""Intake triggers: Storage queue, Service Bus queue and HTTP, all into ``shared.intake.submit``."""

import json
import logging

import azure.durable_functions as df
import azure.functions as func

from shared import intake, status

bp = df.Blueprint()
logger = logging.getLogger(__name__)


@bp.function_name("dsr_intake_queue")
@bp.queue_trigger(arg_name="message", queue_name="dsr-requests", connection="AzureWebJobsStorage")
@bp.durable_client_input(client_name="client")
async def dsr_intake_queue(message: func.QueueMessage, client: df.DurableOrchestrationClient) -> None:
    await intake.submit(message.get_body(), client, channel="storage-queue")


@bp.function_name("dsr_intake_servicebus")
@bp.service_bus_queue_trigger(arg_name="message", queue_name="dsr-requests", connection="ServiceBusConnection")
@bp.durable_client_input(client_name="client")
async def dsr_intake_servicebus(message: func.ServiceBusMessage, client: df.DurableOrchestrationClient) -> None:
    await intake.submit(message.get_body(), client, channel="servicebus")


@bp.function_name("dsr_intake_http")
@bp.route(route="requests", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def dsr_intake_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    result = await intake.submit(req.get_body(), client, channel="http")
    code = 400 if result.outcome == "rejected" else 202
    headers = {"Location": f"/api/requests/{result.request_id}"} if code == 202 else {}
    return func.HttpResponse(
        json.dumps(result.to_json()), status_code=code, mimetype="application/json", headers=headers
    )


@bp.function_name("dsr_status_http")
@bp.route(route="requests/{request_id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def dsr_status_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    request_id = req.route_params["request_id"]
    try:
        document = await status.read(client, request_id)
    except Exception as error:  # the Durable extension did not answer: say "try again", not "broken"
        logger.warning("status of %s unavailable: %s", request_id, type(error).__name__)
        return func.HttpResponse(
            json.dumps({"error": "status unavailable, retry"}),
            status_code=503,
            mimetype="application/json",
            headers={"Retry-After": "1"},
        )
    if document is None:
        return func.HttpResponse(json.dumps({"error": "no such request"}), status_code=404, mimetype="application/json")
    return func.HttpResponse(json.dumps(document), mimetype="application/json")
