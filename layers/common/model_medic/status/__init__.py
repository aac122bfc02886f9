"""What a deployed Model Medic is doing, for people and scripts: `model-medic status` and `explain` (read-only)."""
