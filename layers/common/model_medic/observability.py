"""The one Logger, Tracer and Metrics that every Model Medic module imports."""

from aws_lambda_powertools import Logger, Metrics, Tracer

# Operational metrics of the service itself (rejected events, skipped actions, ...).
# The endpoint metrics the service computes go to Custom/SageMaker instead.
METRICS_NAMESPACE = "ModelMedic"

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=METRICS_NAMESPACE)
