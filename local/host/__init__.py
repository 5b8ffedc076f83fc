"""cvdsr's development host: runs ``function_app.py`` end to end on Azurite, without Core Tools.

It does what the Functions host and the Durable Task extension do for the bindings this app uses:
HTTP, Storage queue, Service Bus queue and timer triggers, queue output bindings, the durable client binding
(with the extension's HTTP API), orchestrations replayed through the Durable library's own handle, and
activities. Durable state lives in Azure Storage (see :mod:`local.host.store`), so a killed host
resumes every running instance on restart. A development tool: production runs on Azure Functions.

Programmatic use (tests)::

    from local.host import HostConfig, run_host, start_host_process

    with run_host(HostConfig(project_dir=path, port=0, env={"AzureWebJobsStorage": conn})) as host:
        httpx.post(f"{host.base_url}/api/...")

    proc = start_host_process(path, env={"AzureWebJobsStorage": conn})
    proc.kill()   # SIGKILL
"""

from .config import HostConfigError
from .host import Host, HostConfig, HostProcess, RunningHost, run_host, start_host_process
from .loader import UnsupportedBindingError

__all__ = [
    "Host",
    "HostConfig",
    "HostConfigError",
    "HostProcess",
    "RunningHost",
    "UnsupportedBindingError",
    "run_host",
    "start_host_process",
]
