"""Export: the steps that copy a Custom Vision account's data into the results container.

Each step is a plain async function that an activity calls. Steps take and return plain dicts of ids
and counts (never image lists or bytes), write their output under deterministic blob names, and are
safe to re-run.
"""
