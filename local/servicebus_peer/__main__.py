"""``python -m local.servicebus_peer``: run the Service Bus peer in the foreground."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from ._log import LOGGER_NAME
from .broker import PeerError
from .peer import DEFAULT_QUEUES, DEFAULT_TOPICS, ServiceBusPeer


def _topic(value: str) -> tuple[str, tuple[str, ...]]:
    topic, _, subscriptions = value.partition(":")
    names = tuple(s.strip() for s in subscriptions.split(",") if s.strip())
    if not topic.strip() or not names:
        raise argparse.ArgumentTypeError(f"expected TOPIC:SUBSCRIPTION[,SUBSCRIPTION...], got {value!r}")
    return topic.strip(), names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local.servicebus_peer",
        description="A local AMQP 1.0 peer the azure-servicebus SDK can use instead of Service Bus.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5672, help="port (default 5672, the emulator's; 0 = any)")
    parser.add_argument(
        "--queue",
        action="append",
        default=None,
        metavar="NAME",
        help="a queue (repeatable; default dsr-requests)",
    )
    parser.add_argument(
        "--topic",
        action="append",
        type=_topic,
        default=None,
        metavar="TOPIC:SUB[,SUB]",
        help="a topic and its subscriptions (repeatable; default dsr-events:all)",
    )
    parser.add_argument("--max-delivery-count", type=int, default=10)
    parser.add_argument("--lock-duration", type=float, default=30.0, metavar="SECONDS")
    parser.add_argument(
        "--duplicate-window",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="duplicate detection window on topics (0 disables; default 600)",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger(LOGGER_NAME).setLevel(args.log_level)
    explicit = args.queue is not None or args.topic is not None
    queues = args.queue or ([] if explicit else list(DEFAULT_QUEUES))
    topics = dict(args.topic or ([] if explicit else DEFAULT_TOPICS.items()))
    try:
        peer = ServiceBusPeer(
            args.host,
            args.port,
            queues,
            topics,
            args.max_delivery_count,
            args.lock_duration,
            duplicate_detection_window_seconds=args.duplicate_window,
        )
    except ValueError as exc:
        print(f"servicebus peer: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        peer.start()
    except PeerError as exc:
        print(f"servicebus peer: {exc}: {exc.__cause__}", file=sys.stderr)
        return 1
    print(peer.connection_string, flush=True)
    print("entities: " + ", ".join(peer.entities), file=sys.stderr, flush=True)
    try:
        while not stop.wait(0.5):
            if not peer.running:
                print(f"the peer stopped: {peer.error!r}", file=sys.stderr)
                return 1
    finally:
        peer.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
