"""`cvdsr simulate`: run the Custom Vision simulator in the foreground until Ctrl-C.

`local/cli.py` wires `add_arguments`/`run_from_args` into the `cvdsr` command; `python -m local.simulator`
runs the same thing. Keys are never printed: the output names the setting that holds them. Only the
light config module is imported at the top, because `cvdsr` builds every subcommand's parser.
"""

from __future__ import annotations

import argparse
import sys

from local.simulator.config import DEFAULT_TRAINING_KEY, TRAINING_VALIDATIONS, SimulatorConfig, parse_seed


def _seed(value: str) -> str:
    try:
        parse_seed(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8089, help="port to listen on, 0 = any (default: %(default)s)")
    parser.add_argument(
        "--training-key",
        default=None,
        help="the Training-Key clients must send (default: the built-in development key)",
    )
    parser.add_argument("--prediction-key", default=None, help="the Prediction-Key (default: the training key)")
    parser.add_argument("--tps", type=float, default=None, help="requests per second per key (default: unlimited)")
    parser.add_argument("--burst", type=int, default=None, help="token bucket size (default: ceil(tps))")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added latency per request (default: 0)")
    parser.add_argument(
        "--fault-rate", type=float, default=0.0, help="fraction of requests failing with 500/503/drop (default: 0)"
    )
    parser.add_argument(
        "--uri-ttl-seconds", type=float, default=600.0, help="lifetime of image/export URLs (default: 600)"
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default="none",
        help="initial data: none, demo or synthetic:PROJECTS:IMAGES (default: %(default)s)",
    )
    parser.add_argument("--random-seed", type=int, default=0, help="seed for ids, faults and jitter (default: 0)")
    parser.add_argument(
        "--prediction-page-cap",
        type=int,
        default=256,
        help="largest QueryPredictions maxCount accepted, to test clients against a lower limit (default: 256)",
    )
    parser.add_argument(
        "--training-seconds", type=float, default=0.0, help="how long TrainProject trains (default: 0, at once)"
    )
    parser.add_argument(
        "--training-validation",
        choices=TRAINING_VALIDATIONS,
        default="lenient",
        help="TrainProject's rules: the service's minimums per tag, or one tagged image (default: %(default)s)",
    )


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    return SimulatorConfig(
        training_key=args.training_key or DEFAULT_TRAINING_KEY,
        prediction_key=args.prediction_key,
        tps=args.tps,
        burst=args.burst,
        latency_ms=args.latency_ms,
        fault_rate=args.fault_rate,
        seed=args.seed,
        uri_ttl_seconds=args.uri_ttl_seconds,
        random_seed=args.random_seed,
        prediction_page_cap=args.prediction_page_cap,
        training_seconds=args.training_seconds,
        training_validation=args.training_validation,
    )


def run_from_args(args: argparse.Namespace) -> int:
    # Imported here: `cvdsr` builds every subcommand's parser, which must not load the whole simulator.
    from local.simulator.app import create_app
    from local.simulator.server import serve_forever

    try:
        config = config_from_args(args)
    except ValueError as error:
        print(f"cvdsr simulate: {error}", file=sys.stderr)
        return 2
    app = create_app(config)
    try:
        base_url, server, sock = serve_forever(app, args.host, args.port)
    except OSError as error:
        print(f"cvdsr simulate: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    key_source = "the value of --training-key" if args.training_key else "the built-in development key"
    arm_id = (
        f"/subscriptions/{config.subscription_id}/resourceGroups/{config.resource_group}"
        f"/providers/Microsoft.CognitiveServices/accounts/{config.account_name}"
    )
    print(f"Custom Vision simulator on {base_url} (seed: {config.seed})")
    print(f"  Endpoint:      {base_url}")
    print(f"  Training-Key:  {key_source}")
    print(f"  ARM:           {base_url}/_arm{arm_id}")
    print(f"  Introspection: {base_url}/_simulator/summary (send the Training-Key)")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cvdsr simulate", description="Run the Custom Vision simulator.")
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))
