"""Timer functions. Each is one line: the logic is in ``shared``."""

import azure.durable_functions as df
import azure.functions as func

from shared import endings

bp = df.Blueprint()


@bp.function_name("dsr_sweep")
@bp.timer_trigger(schedule="%CVDSR_SWEEP_SCHEDULE%", arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def dsr_sweep(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    await endings.sweep(client)
