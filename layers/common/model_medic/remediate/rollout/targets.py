"""Which endpoints a package goes to: the fleet's states from Search, and the group each config serves."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from model_medic.platform import aws
from model_medic.platform.observability import logger
from model_medic.store.deployments import SERVING_KEEP, Deployments

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

# Unknown configs are read this many at a time: about 2 calls each, so that the first
# approval after a deployment (every config unknown) reads 500 endpoints' in about 12 s in
# AWS rather than 100 s. boto3's clients are thread-safe; throttling is retried by the
# clients' standard retry mode (aws.py).
READ_CONCURRENCY = 8
# A tick reads at most this many unknown (or ageing) config entries, so that an approval
# finds them known; ticks also refresh an entry in its last week (deployments.SERVING_KEEP).
READS_PER_TICK = 100
REFRESH_AFTER = SERVING_KEEP - timedelta(days=7)
# Readers run in threads (`ServingGroups`): each package is described once per invocation.
_PACKAGES_READ = threading.Lock()


def serving_group(sagemaker: SageMakerClient, endpoint: str, primary: str) -> tuple[str | None, str]:
    """(model package group of the endpoint's primary variant, or None; the endpoint's ARN),
    read now: DescribeEndpoint, then what its config's primary variant serves (`variant_group`)."""
    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    group = variant_group(sagemaker, str(described["EndpointConfigName"]), primary, {})
    return group, str(described["EndpointArn"])


def variant_group(sagemaker: SageMakerClient, config: str, variant: str, packages: dict[str, str | None]) -> str | None:
    """The model package group behind `variant` of endpoint config `config`, or None: the
    config has no such variant, the variant names no model (an endpoint of inference
    components: its models are the components'), or the model was not made from a package.
    DescribeEndpointConfig and DescribeModel, and DescribeModelPackage once per package
    (`packages`: what this invocation has read)."""
    described = sagemaker.describe_endpoint_config(EndpointConfigName=config)
    model = next((v.get("ModelName") for v in described["ProductionVariants"] if v["VariantName"] == variant), None)
    if not model:
        return None
    found = sagemaker.describe_model(ModelName=model)
    containers = [found.get("PrimaryContainer", {}), *found.get("Containers", [])]
    names = [c["ModelPackageName"] for c in containers if c.get("ModelPackageName")]
    if not names:
        return None
    with _PACKAGES_READ:  # readers run in threads (`ServingGroups`): each package is described once
        if names[0] not in packages:
            group = sagemaker.describe_model_package(ModelPackageName=names[0]).get("ModelPackageGroupName")
            packages[names[0]] = str(group) if group else None
        return packages[names[0]]


def endpoint_states(sagemaker: SageMakerClient, endpoints: list[str]) -> dict[str, dict[str, Any]]:
    """The endpoints in scope as DescribeEndpoint would show them (config, variants with their
    weights and counts), read in batches: SageMaker's Search on resource `Endpoint`, 100 a page
    (botocore's sagemaker model: SearchRecord.Endpoint has EndpointConfigName and
    ProductionVariants as ProductionVariantSummary; MaxResults 1-100). AWS does not document how
    soon Search shows a change, so what these records say picks the endpoints worth a fresh
    DescribeEndpoint, and is never acted on as such. An endpoint in scope that Search did not
    return (just created, or named but missing) is described on its own (`readable`)."""
    wanted = set(endpoints)
    found: dict[str, dict[str, Any]] = {}
    if not wanted:
        return found
    pages = sagemaker.get_paginator("search").paginate(Resource="Endpoint", PaginationConfig={"PageSize": 100})
    for page in pages:
        for result in page.get("Results", []):
            record = result.get("Endpoint") or {}
            if record.get("EndpointName") in wanted and record.get("EndpointConfigName"):
                found[str(record["EndpointName"])] = record
    for endpoint in sorted(wanted - set(found)):
        described = readable(
            endpoint, lambda name: cast("dict[str, Any]", sagemaker.describe_endpoint(EndpointName=name))
        )
        if described is not None:
            found[endpoint] = described
    return found


class ServingGroups:
    """Which model package group each endpoint's primary variant serves, without reading every
    endpoint's config, model and package on every approval.

    Endpoint configs and models cannot be changed once created (SageMaker has no
    UpdateEndpointConfig or UpdateModel; UpdateModelPackage cannot move a package to another
    group), so what `<config>#<variant>` serves is read once (`variant_group`) and remembered in
    the ledger (`Deployments.serving_groups`, one Query for the whole fleet). A name can be deleted
    and reused for another config: an entry is read again after SERVING_KEEP (ticks refresh
    entries in their last week, `refresh`), and an approval confirms each endpoint it is about
    to act on with a fresh read (`serving_endpoints`)."""

    def __init__(self, sagemaker: SageMakerClient, deployments: Deployments, now: datetime) -> None:
        self._sagemaker = sagemaker
        self._deployments = deployments
        self._now = now
        self._known: dict[str, tuple[str | None, datetime]] | None = None
        self._packages: dict[str, str | None] = {}
        self._read: set[str] = set()  # the entries this object read from SageMaker

    def groups(
        self,
        serving: dict[str, tuple[str, str]],
        budget: int | None = None,
        refresh: timedelta | None = None,
        reread: bool = False,
    ) -> dict[str, str | None]:
        """endpoint -> the group its (config, primary variant) serves. What the ledger does not
        know (or, with `refresh`, read longer ago than that; with `reread`, anything not read
        by this object) is read now - at most `budget` entries, READ_CONCURRENCY at a time; an
        endpoint left unread (budget, or a permanent error, logged) is absent. What was read is
        remembered before a transient error is raised, so that the retry goes on from there."""
        if self._known is None:
            self._known = self._deployments.serving_groups(self._now)
        wanted: dict[str, tuple[str, str, str]] = {}  # key -> an endpoint, the config, the variant
        for endpoint, (config, variant) in sorted(serving.items()):
            key = f"{config}#{variant}"
            known = self._known.get(key)
            if key in self._read or (
                known is not None and not reread and (refresh is None or self._now - known[1] <= refresh)
            ):
                continue
            if key not in wanted and (budget is None or len(wanted) < budget):
                wanted[key] = (endpoint, config, variant)
        read: dict[str, str | None] = {}
        try:
            with ThreadPoolExecutor(max_workers=READ_CONCURRENCY) as pool:
                futures = {
                    pool.submit(readable, endpoint, self._reader(config, variant)): key
                    for key, (endpoint, config, variant) in wanted.items()
                }
                for future in as_completed(futures):
                    group = future.result()
                    if group is not None:
                        read[futures[future]] = group[0]
        finally:
            self.remember(read)
        found: dict[str, str | None] = {}
        for endpoint, (config, variant) in serving.items():
            known = self._known.get(f"{config}#{variant}")
            if known is not None:
                found[endpoint] = known[0]
        return found

    def _reader(self, config: str, variant: str) -> Callable[[str], tuple[str | None]]:
        """A read of what (config, variant) serves, as a 1-tuple, so that "serves no group"
        (None inside) is told from "could not be read" (`readable`'s None)."""
        return lambda _: (variant_group(self._sagemaker, config, variant, self._packages),)

    def remember(self, read: dict[str, str | None]) -> None:
        """Keep what was read, in this object and in the ledger. The ledger is a cache here:
        a write that fails is logged, and the next invocation reads the config again."""
        if not read:
            return
        assert self._known is not None
        self._known.update({key: (group, self._now) for key, group in read.items()})
        self._read.update(read)
        try:
            aws.persist(lambda: self._deployments.save_serving_groups(read, self._now))
        except (ClientError, RuntimeError) as error:
            logger.warning("what endpoint configs serve was not remembered", entries=len(read), error=str(error))


def readable[T](endpoint: str, read: Callable[[str], T]) -> T | None:
    """A read of one endpoint in scope, or None when AWS's answer is permanent (the endpoint
    was deleted, access is denied): logged, and the other endpoints go on. Transient errors
    raise, so the invocation is retried."""
    try:
        return read(endpoint)
    except ClientError as error:
        if aws.is_transient(error):
            raise
        logger.warning("endpoint skipped", endpoint=endpoint, error=f"{aws.error_code(error)}: {error}")
        return None


def serving_endpoints(
    sagemaker: SageMakerClient,
    deployments: Deployments,
    group: str,
    endpoints: list[str],
    primary: Callable[[str], str],
    now: datetime,
) -> list[str]:
    """The endpoints in scope whose primary variant serves a model of `group`: the endpoints'
    configs from Search (`endpoint_states`), what each config serves from the ledger
    (`ServingGroups`, read now where unknown), and each endpoint found this way read again now
    (DescribeEndpoint, and what its config serves), so that neither Search's index nor a
    remembered entry decides a deployment. What this cannot see: an endpoint moved onto the
    group so recently that Search still shows its old config."""
    states = endpoint_states(sagemaker, endpoints)
    serving = ServingGroups(sagemaker, deployments, now)
    known = serving.groups({e: (str(s["EndpointConfigName"]), primary(e)) for e, s in states.items()})
    fresh = {}
    for endpoint in [e for e in endpoints if known.get(e) == group]:
        described = readable(endpoint, lambda name: sagemaker.describe_endpoint(EndpointName=name))
        if described is not None:
            fresh[endpoint] = (str(described["EndpointConfigName"]), primary(endpoint))
    confirmed = serving.groups(fresh, reread=True)
    return [e for e in fresh if confirmed.get(e) == group]
