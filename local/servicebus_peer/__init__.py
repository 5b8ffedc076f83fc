"""A local Azure Service Bus stand-in for development and tests.

Microsoft's Service Bus emulator needs Docker, which these machines do not have, so cvdsr ships this
small AMQP 1.0 peer built on python-qpid-proton. The real ``azure-servicebus`` SDK (sync and
``azure.servicebus.aio``) talks to it through a development-emulator connection string::

    with run_peer() as peer:
        with ServiceBusClient.from_connection_string(peer.connection_string) as client:
            ...
        peer.wait_for("dsr-events/subscriptions/all", 1)

From a shell: ``python -m local.servicebus_peer --port 5672 --queue dsr-requests --topic dsr-events:all``.
"""

from .broker import PeerError, PeerMessage, UnknownEntityError
from .peer import ServiceBusPeer, run_peer

__all__ = ["PeerError", "PeerMessage", "ServiceBusPeer", "UnknownEntityError", "run_peer"]
