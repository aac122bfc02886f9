"""The control loop: entry points and gates (`loop`, `gating`), taking a step (`stepping`, `step`), endings."""
