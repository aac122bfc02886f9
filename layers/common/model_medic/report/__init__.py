"""The daily report: what happened to each endpoint, as HTML with charts and as an SNS summary."""
