"""Platform: the AWS clients and their retries, settings from the environment, the clock, logs, metrics and traces."""
