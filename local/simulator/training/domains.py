"""GetDomains and GetDomain."""

from __future__ import annotations

from starlette.responses import Response

from local.simulator.errors import not_found
from local.simulator.operations import OperationCall, OperationRegistry, json_response
from local.simulator.wire import domain_json

operations = OperationRegistry()


@operations.operation("GetDomains", "GET", "/domains")
async def get_domains(call: OperationCall) -> Response:
    return json_response([domain_json(domain) for domain in call.simulator.domains.values()])


@operations.operation("GetDomain", "GET", "/domains/{domainId}")
async def get_domain(call: OperationCall) -> Response:
    domain_id = call.path_uuid("domainId", "domain")
    domain = call.simulator.domains.get(domain_id)
    if domain is None:
        raise not_found("Domain", domain_id)
    return json_response(domain_json(domain))
