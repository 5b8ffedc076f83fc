"""Azure Functions blueprints: triggers, orchestrators and activities, one line deep each.

``function_app.py`` registers every blueprint listed in ``BLUEPRINTS``.
"""

from __future__ import annotations

import azure.durable_functions as df

from . import activities, connectors, intake, orchestrators, timers

BLUEPRINTS: tuple[df.Blueprint, ...] = (intake.bp, connectors.bp, orchestrators.bp, activities.bp, timers.bp)
