"""Keep secrets out of logs and exception messages.

Image and export URIs are storage URLs that may carry a SAS signature (``sig=``); request headers carry
the ``Training-Key``. Everything this client logs or puts in an exception passes through here first.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "REDACTED"

# Query parameters that are credentials in Azure URLs (SAS signature, ARM/REST keys and tokens).
_SECRET_QUERY_PARAMS = frozenset({"sig", "signature", "code", "key", "subscription-key", "token", "access_token"})


# Query parameters whose values are personal data rather than credentials: a metadata ``$filter`` names
# the data subject ("subject eq 'alice'"). Kept out of the audit log, which outlives an erasure.
PERSONAL_QUERY_PARAMS = frozenset({"$filter"})


def redact_url(url: str, also: frozenset[str] = frozenset()) -> str:
    """``url`` with the values of credential query parameters (and of ``also``) replaced by ``REDACTED``."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [
        (name, REDACTED if name.lower() in _SECRET_QUERY_PARAMS or name.lower() in also else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query, safe=",")))
