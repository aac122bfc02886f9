"""Model Medic's shared code, one room per concern (docs/architecture.md, "The house"):
`intake` reads events, `wiring` composes each invocation, `control` runs incidents through the
gates, `remediate` holds the remediations, `store` the ledger, `tell` the messages, `policy`
what may be done to each endpoint, `measure` the computed metrics, `report` the daily report,
`fleet` the alarms, and `platform` clients, settings and the clock."""
