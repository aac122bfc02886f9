"""The store: the ledger table - incidents, claims, boosts, marks, decisions and what the remediations remember."""
