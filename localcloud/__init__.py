"""The local cloud: Model Medic on moto, for tests and `make demo` (no AWS account, no Docker)."""
