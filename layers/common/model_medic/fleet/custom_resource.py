"""The CloudFormation custom resource contract: read a request, answer it at its ResponseURL."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Literal

Status = Literal["SUCCESS", "FAILED"]
_MAX_BODY = 4096
_REQUEST_KEYS = ("RequestType", "ResponseURL", "StackId", "RequestId", "LogicalResourceId")


def is_request(event: Any) -> bool:
    """Whether the event is a CloudFormation custom resource request."""
    return isinstance(event, dict) and all(isinstance(event.get(k), str) for k in _REQUEST_KEYS)


def response_body(
    request: Mapping[str, Any],
    status: Status,
    physical_id: str,
    reason: str = "",
    data: Mapping[str, Any] | None = None,
) -> bytes:
    """The response document, cut to fit: Data is dropped before Reason is shortened."""
    body: dict[str, Any] = {
        "Status": status,
        "Reason": reason or ("done" if status == "SUCCESS" else "failed"),
        "PhysicalResourceId": physical_id,
        "StackId": request["StackId"],
        "RequestId": request["RequestId"],
        "LogicalResourceId": request["LogicalResourceId"],
    }
    if data:
        body["Data"] = dict(data)
    encoded = json.dumps(body).encode()
    if len(encoded) > _MAX_BODY:
        body.pop("Data", None)
        encoded = json.dumps(body).encode()
    if len(encoded) > _MAX_BODY:
        room = len(body["Reason"]) - (len(encoded) - _MAX_BODY) - 3
        body["Reason"] = body["Reason"][: max(room, 0)] + "..."
        encoded = json.dumps(body).encode()
    return encoded


def physical_id(request: Mapping[str, Any], default: str) -> str:
    """Update and Delete must answer with the id Create gave; Create gives `default`."""
    given = request.get("PhysicalResourceId")
    return given if isinstance(given, str) and given else default


def send(url: str, body: bytes, opener: Callable[..., Any] = urllib.request.urlopen) -> None:
    """PUT the response to the pre-signed URL. The URL is signed for an empty content type,
    so none is sent (as AWS's own cfn-response module does)."""
    if not url.startswith("https://") and not url.startswith("http://"):
        raise ValueError(f"ResponseURL is not an http(s) URL: {url[:60]!r}")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    with opener(request, timeout=30) as answer:
        answer.read()
