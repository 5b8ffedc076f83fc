"""Privacy platforms' webhooks: each route is one call into its connector in ``shared.connectors``."""

import azure.durable_functions as df
import azure.functions as func

from functions.intake import respond
from shared.connectors import datagrail, fides, onetrust, transcend

bp = df.Blueprint()


@bp.function_name("dsr_connector_transcend")
@bp.route(route="connectors/transcend", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def dsr_connector_transcend(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return respond(await transcend.receive(req.headers, req.get_body(), client))


@bp.function_name("dsr_connector_datagrail")
@bp.route(route="connectors/datagrail", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def dsr_connector_datagrail(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return respond(await datagrail.receive(req.headers, req.get_body(), client))


@bp.function_name("dsr_connector_onetrust")
@bp.route(route="connectors/onetrust", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def dsr_connector_onetrust(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return respond(await onetrust.receive(req.headers, req.get_body(), client))


@bp.function_name("dsr_connector_fides")
@bp.route(route="connectors/fides", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def dsr_connector_fides(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return respond(await fides.receive(req.headers, req.get_body(), client))
