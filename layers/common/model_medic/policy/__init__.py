"""What may be done to each endpoint: the scope, the automation mode, and its own policy from tags."""
