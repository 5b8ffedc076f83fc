# mypy: disable-error-code="untyped-decorator"
"""Uses a blob trigger, which the development host does not implement."""

import azure.functions as func

app = func.FunctionApp()


@app.blob_trigger(arg_name="blob", path="uploads/{name}", connection="AzureWebJobsStorage")
def on_upload(blob: func.InputStream) -> None:
    pass


@app.route(route="ok")
def ok(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("ok")
