"""Intake: each Lambda event read into a typed trigger, and every shape of CloudWatch alarm into one `AlarmEvent`."""
