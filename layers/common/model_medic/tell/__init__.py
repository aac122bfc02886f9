"""Telling people and machines: the decision record, SNS messages and EventBridge events, each once."""
