"""The fleet's alarms: the catalog of alarms per endpoint, the manager that keeps them, and its custom resource."""
