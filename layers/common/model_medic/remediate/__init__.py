"""The remediations, one module each: capacity, rollback, retraining, the judged rollout and its clean-up."""
