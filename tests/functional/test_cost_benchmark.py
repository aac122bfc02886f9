"""The cost benchmark runs an hour of the stack for one endpoint in moto; README "Cost" takes its figures from it."""

from benchmarks import cost
from benchmarks.cost_world import Fleet
from localcloud.template import ROOT

README = (ROOT / "README.md").read_text()
# What does not depend on this machine's speed (Lambda's duration and the logs' bytes do).
STEADY = (
    "CloudWatch alarms",
    "CloudWatch dashboards",
    "CloudWatch custom metrics",
    "CloudWatch GetMetricData",
    "CloudWatch other API requests",
    "Lambda requests",
    "DynamoDB reads (on demand)",
    "DynamoDB writes (on demand)",
    "S3 GET requests",
    "S3 PUT and LIST requests",
    "SQS requests",
)


def rows(lines: list[str], header: str) -> dict[str, list[str]]:
    """A markdown table's rows by their first cell: the table whose header starts with `header`."""
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    found: dict[str, list[str]] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        found[cells[0]] = cells[1:]
    return found


def test_the_readmes_cost_tables_for_one_endpoint_are_what_the_benchmark_counts() -> None:
    usage, held = cost.run_hour(Fleet(1))
    assert held == {"alarms": 4, "dashboards": 1}  # no canary variant: four alarms
    functions = cost.stack_schedules()
    section = README.split("### Cost", 1)[1].split("\n## ", 1)[0].splitlines()

    counted = rows(cost.function_table({1: usage}, functions), "| function |")
    shown = rows(section, "| function |")
    assert {name: cells[1] for name, cells in shown.items()} == {name: cells[1] for name, cells in counted.items()}

    billed = rows(cost.bill_table({1: usage}, {1: held}, functions), "| USD a month")
    priced = rows(section, "| USD a month")
    assert {line: priced[line][0] for line in STEADY} == {line: billed[line][0] for line in STEADY}
