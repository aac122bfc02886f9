"""Canary rollouts: plan, judge, evidence, deployment, targets, and the entry point PromoteCanaryFunction calls."""
