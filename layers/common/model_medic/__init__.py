"""Model Medic's shared code: alarm intake, safety gates, ledger, outcomes, settings, clients."""
