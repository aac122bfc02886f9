"""Where the daily reports are kept in the reports bucket: a folder per endpoint, and the day's index."""

from __future__ import annotations

FOLDER = "reports/"
# The fleet's index, in a folder no endpoint can take: SageMaker endpoint names are letters,
# digits and hyphens (EndpointName's pattern, `[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`), so an endpoint
# named `index` keeps `reports/index/` to itself.
INDEX_FOLDER = f"{FOLDER}_index/"


def endpoint_folder(endpoint: str) -> str:
    """An endpoint's reports: `reports/<endpoint>/`, each day's page and JSON in it."""
    return f"{FOLDER}{endpoint}/"


def index_page(day: str) -> str:
    """The day's index of every endpoint: `reports/_index/<YYYY-MM-DD>.html`."""
    return f"{INDEX_FOLDER}{day}.html"
