# mypy: disable-error-code="untyped-decorator"
"""An HTTP function for the development host's body-limit tests (not part of cvdsr): it records each
invocation in the file named by HOST_TEST_RECORD and answers the size of the body it got."""

import os

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="size", methods=["POST"])
def size(req: func.HttpRequest) -> func.HttpResponse:
    body = req.get_body()
    with open(os.environ["HOST_TEST_RECORD"], "a", encoding="utf-8") as f:
        f.write(f"size {len(body)}\n")
    return func.HttpResponse(str(len(body)))


@app.route(route="echo/{value}", methods=["GET"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(repr(req.route_params["value"]))
