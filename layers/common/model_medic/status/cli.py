"""The `model-medic` command: `status [ENDPOINT]` and `explain INCIDENT` of a deployed stack, read-only."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError

from model_medic.platform import aws
from model_medic.platform.observability import logger
from model_medic.status import deployed
from model_medic.status.deployed import StatusError
from model_medic.status.gather import Reader
from model_medic.status.render import as_json, text

DEFAULT_STACK = "model-medic"

USAGE = """what a deployed Model Medic is doing, read-only:

    model-medic status                  every endpoint in scope: mode, tags, open incidents, rollouts, last actions
    model-medic status ENDPOINT         one endpoint: every incident of the last 24 h with its timeline, every decision
    model-medic explain INCIDENT        one incident's whole story: timeline, steps and changes, decisions, messages

Options go before or after the command. AWS credentials are the caller's own (the usual chain:
environment, profile, role); --endpoint-url points at the local cloud (`make up` prints it)."""


def default_stack(directory: Path) -> str:
    """The stack `sam deploy` deploys from this directory (samconfig.toml's default stack_name), else model-medic."""
    config = directory / "samconfig.toml"
    if not config.is_file():
        return DEFAULT_STACK
    try:
        parsed = tomllib.loads(config.read_text())
    except tomllib.TOMLDecodeError:
        return DEFAULT_STACK
    name = parsed.get("default", {}).get("global", {}).get("parameters", {}).get("stack_name")
    return name if isinstance(name, str) and name else DEFAULT_STACK


def _moment(value: str) -> datetime:
    at = datetime.fromisoformat(value)
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).astimezone(UTC)


def _options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """The common options; on a command (`defaults` False) they override what came before it only when given."""

    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument("--stack", default=default(None), help="the stack's name (default: samconfig.toml's)")
    parser.add_argument("--region", default=default(None), help="the stack's Region (default: the AWS config's)")
    parser.add_argument(
        "--endpoint-url",
        default=default(None),
        help="where the AWS APIs answer: the local cloud (default: AWS_ENDPOINT_URL, else AWS)",
    )
    parser.add_argument("--json", action="store_true", default=default(False), help="JSON for scripts")
    parser.add_argument("--at", type=_moment, default=default(None), help="ISO 8601 time taken as now")


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="model-medic", description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _options(main, defaults=True)
    commands = main.add_subparsers(dest="command", required=True)
    status = commands.add_parser("status", help="every endpoint in scope, or one endpoint in detail")
    status.add_argument("endpoint", nargs="?", default=None)
    explain = commands.add_parser("explain", help="one incident's whole story")
    explain.add_argument("incident", help="the incident's id, or its 16-character digest (or its first 6+)")
    for command in (status, explain):
        _options(command, defaults=False)
    return main


def use_aws(region: str | None, endpoint_url: str | None) -> None:
    """Point the clients (`platform/aws.py`) at this Region and endpoint, as the AWS CLI's options do."""
    if region:
        os.environ["AWS_DEFAULT_REGION"] = region
    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    aws.reset()


def coloured(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    use_aws(args.region, args.endpoint_url)
    at = args.at or datetime.now(UTC)
    try:
        with _logs_to_stderr():
            reader = Reader(deployed.find(args.stack or default_stack(Path.cwd())), at)
            view = reader.explain(args.incident) if args.command == "explain" else reader.status(args.endpoint)
    except StatusError as error:
        print(f"model-medic: {error}", file=sys.stderr)
        return 1
    except ClientError as error:
        print(f"model-medic: AWS answered: {error}", file=sys.stderr)
        return 1
    except BotoCoreError as error:  # no credentials, no Region, no connection
        print(f"model-medic: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(as_json(view) if args.json else text(view, colour=coloured(sys.stdout)))
    return 0


@contextmanager
def _logs_to_stderr() -> Iterator[None]:
    """The domain code's log lines (a kill switch that cannot be read, say) go to stderr, warnings
    and above, while the command reads: stdout is its answer, JSON for scripts."""
    handler = logger.registered_handler
    level = logger.log_level
    stream = handler.setStream(sys.stderr) if isinstance(handler, logging.StreamHandler) else None
    logger.setLevel("WARNING")
    try:
        yield
    finally:
        logger.setLevel(level)
        if stream is not None and isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)
