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

    key = commands.add_parser("key", help="the shared internal auth key of ASAB services",
                              description="Act on /asab/auth/internal_auth_private.key directly in ZooKeeper.")
    key.add_argument("action", choices=["show", "rotate"],
                     help="show: the key's kid and validity (never the key); rotate: replace it in place "
                          "(compare-and-set). ASAB services notice within 300 s and disagree meanwhile.")
    key.add_argument("--zookeeper-servers", help="ZooKeeper connection string [env: ASAB_OPERATOR_ZOOKEEPER_SERVERS]")
    return top


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.command == "run":
        from .runner import configure_logging, run
        config = from_arguments(args)
        configure_logging(config)
        asyncio.run(run(config))
    elif args.command == "key":
        key_command(args)


def key_command(args) -> None:
    import os

    from kazoo.client import KazooClient
    from kazoo.exceptions import NoNodeError

    from . import authkey
    from .config import zookeeper_problem
    from .keykeeper import rotate_in_place

    servers = args.zookeeper_servers or os.environ.get("ASAB_OPERATOR_ZOOKEEPER_SERVERS")
    if not servers or zookeeper_problem(servers):
        raise SystemExit("error: --zookeeper-servers (ASAB_OPERATOR_ZOOKEEPER_SERVERS): "
                         + (zookeeper_problem(servers) if servers else "is required"))
    client = KazooClient(hosts=servers)
    client.start(timeout=15)
    try:
        if args.action == "show":
            try:
                data, stat = client.get(authkey.KEY_PATH)
            except NoNodeError:
                raise SystemExit(f"{authkey.KEY_PATH}: missing")
            found = authkey.check(data)
            print(f"{authkey.KEY_PATH}: {'valid' if found.valid else 'INVALID: ' + found.problem}, "
                  f"kid {found.kid}, version {stat.version}")
        else:
            try:
                old, new = asyncio.run(rotate_in_place(client))
            except NoNodeError:
                raise SystemExit(f"{authkey.KEY_PATH} is missing: nothing to rotate (the operator creates it)")
            print(f"rotated: kid {old} -> {new}; ASAB services pick it up within 300 s and disagree meanwhile")
    finally:
        client.stop()
        client.close()
