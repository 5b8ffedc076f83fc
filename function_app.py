"""The Azure Functions entry point: build the Durable Functions app and register the blueprints.

Nothing else lives here (the layout of azure-functions-durable-python's ``samples-v2/blueprint``):
triggers, orchestrators and activities are in ``functions/``, the logic they call in ``shared/``.
The settings are validated first: a bad ``CVDSR_*`` value, or a connector searching resources without
an identity mapping, stops the app at start, naming the setting, instead of failing (or being read
differently) in the middle of a request.
"""

import azure.durable_functions as df
import azure.functions as func

from functions import BLUEPRINTS
from shared import connectors
from shared.settings import app_settings

app_settings()
connectors.check_settings()

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in BLUEPRINTS:
    app.register_functions(blueprint)
