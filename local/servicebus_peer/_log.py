"""The one logger every module of the peer writes to."""

from __future__ import annotations

import logging

LOGGER_NAME = "local.servicebus_peer"
log = logging.getLogger(LOGGER_NAME)

_SOCKET_NOISE = ("Couldn't send", "Couldn't recv")
_PEER_GONE = ("BrokenPipeError", "ConnectionResetError")


class _PeerGoneFilter(logging.Filter):
    """Turn proton's ERROR for writing to a socket the client already closed into a DEBUG line.

    The SDK closes its socket right after sending its own close frame, so proton's answer regularly
    meets a closed socket. That is routine for this peer, not an error.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(_SOCKET_NOISE) and any(name in message for name in _PEER_GONE):
            log.debug("proton: %s", message)
            return False
        return True


_FILTER = _PeerGoneFilter()


def quiet_proton_socket_errors() -> None:
    """Install the filter on proton's logger (idempotent)."""
    proton_logger = logging.getLogger("proton")
    if _FILTER not in proton_logger.filters:
        proton_logger.addFilter(_FILTER)
