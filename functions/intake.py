"""Intake triggers: Storage queue, Service Bus queue and HTTP, all into ``shared.intake.submit``; the
status, result, register and health routes."""

import json

import azure.durable_functions as df
import azure.functions as func

from shared import http_api, intake

bp = df.Blueprint()


def respond(answer: http_api.Answer) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(answer.document), status_code=answer.code, mimetype="application/json", headers=answer.headers
    )


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
    return respond(await http_api.submit_request(req.get_body(), req.headers, client))


@bp.function_name("dsr_register_http")
@bp.route(route="requests", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
async def dsr_register_http(req: func.HttpRequest) -> func.HttpResponse:
    return respond(await http_api.register_records(req.params))


@bp.function_name("dsr_status_http")
@bp.route(route="requests/{request_id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def dsr_status_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return respond(await http_api.request_status(req.route_params.get("request_id", ""), client))


@bp.function_name("dsr_result_http")
@bp.route(route="requests/{request_id}/result", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def dsr_result_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return respond(await http_api.request_result(req.route_params.get("request_id", ""), client))


@bp.function_name("dsr_extend_http")
@bp.route(route="requests/{request_id}/extend", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def dsr_extend_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return respond(await http_api.extend_request(req.route_params.get("request_id", ""), req.get_body(), client))


@bp.function_name("dsr_health_http")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
async def dsr_health_http(req: func.HttpRequest) -> func.HttpResponse:
    return respond(await http_api.health())
