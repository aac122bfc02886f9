"""The `model-medic` command: `status [ENDPOINT]`, `explain INCIDENT` and `backtest` of a deployed stack, read-only."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError

from model_medic.platform import aws
from model_medic.platform.observability import logger
from model_medic.status import deployed
from model_medic.status.deployed import DeployedStack, StatusError
from model_medic.status.gather import Reader
from model_medic.status.render import as_json, text

DEFAULT_STACK = "model-medic"
# `backtest`: the window when none is given ("what would it have done last week?"), and how long a
# simulated endpoint change stays Updating (SageMaker documents no duration: say yours).
DEFAULT_WINDOW = timedelta(days=7)
DEFAULT_UPDATE_MINUTES = 5.0
# CloudWatch's alarm history goes back 14 days (docs/rooms/backtest.md).
HISTORY_KEPT = timedelta(days=14)

USAGE = """what a deployed Model Medic is doing, read-only:

    model-medic status                  every endpoint in scope: mode, tags, open incidents, rollouts, last actions
    model-medic status ENDPOINT         one endpoint: every incident of the last 24 h with its timeline, every decision
    model-medic explain INCIDENT        one incident's whole story: timeline, steps and changes, decisions, messages
    model-medic backtest [--since T]    what it would have done in enforce over a past window (default: the last
                                        7 days): the alarm history replayed on a simulated endpoint; --html FILE

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
    backtest = commands.add_parser(
        "backtest", help="what it would have done over a past window, replayed on a simulated endpoint"
    )
    backtest.add_argument("--since", type=_moment, default=None, help="ISO 8601 start (default: 7 days before --until)")
    backtest.add_argument("--until", type=_moment, default=None, help="ISO 8601 end (default: --at, else now)")
    backtest.add_argument(
        "--update-minutes",
        type=float,
        default=DEFAULT_UPDATE_MINUTES,
        help=f"how long a simulated endpoint change stays Updating (default {DEFAULT_UPDATE_MINUTES:g})",
    )
    backtest.add_argument("--html", type=Path, default=None, help="also write the backtest as an HTML page here")
    for command in (status, explain, backtest):
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
            answer = _answer(args, deployed.find(args.stack or default_stack(Path.cwd())), at)
    except StatusError as error:
        print(f"model-medic: {error}", file=sys.stderr)
        return 1
    except ClientError as error:
        print(f"model-medic: AWS answered: {error}", file=sys.stderr)
        return 1
    except BotoCoreError as error:  # no credentials, no Region, no connection
        print(f"model-medic: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(answer)
    return 0


def _answer(args: argparse.Namespace, stack: DeployedStack, at: datetime) -> str:
    """The command's answer, as text or JSON."""
    if args.command == "backtest":
        return _backtest(args, stack, at)
    reader = Reader(stack, at)
    view = reader.explain(args.incident) if args.command == "explain" else reader.status(args.endpoint)
    return as_json(view) if args.json else text(view, colour=coloured(sys.stdout))


def _backtest(args: argparse.Namespace, stack: DeployedStack, at: datetime) -> str:
    """`backtest`: its room is imported only here, so `status` never pays for it."""
    from model_medic.backtest import render
    from model_medic.backtest.run import backtest

    until = args.until or at
    since = args.since or until - DEFAULT_WINDOW
    if at - since > HISTORY_KEPT:
        print(
            f"model-medic: CloudWatch keeps {HISTORY_KEPT.days} days of alarm history: older transitions are gone",
            file=sys.stderr,
        )
    view = backtest(stack, since, until, args.update_minutes)
    if args.html is not None:
        args.html.write_text(render.html(view))
    return render.as_json(view) if args.json else render.text(view, colour=coloured(sys.stdout))


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
