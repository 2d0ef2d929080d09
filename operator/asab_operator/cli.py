"""`asab-operator`: the command line."""
from __future__ import annotations

import argparse
import asyncio

from . import __version__
from .config import add_arguments, from_arguments


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="asab-operator",
        description="Bridges Kubernetes into ASAB service discovery: annotated Pods become "
                    "ephemeral advertisements under /<path>/run in ZooKeeper.")
    top.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run", help="run the operator",
        description="Run the operator. Each setting is a flag, or the environment variable named "
                    "in its help; flags win. Kubernetes credentials come from the in-cluster "
                    "service account, else from KUBECONFIG or ~/.kube/config.")
    add_arguments(run)
    return top


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.command == "run":
        from .runner import configure_logging, run
        config = from_arguments(args)
        configure_logging(config)
        asyncio.run(run(config))
