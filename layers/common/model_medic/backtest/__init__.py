"""`model-medic backtest`: what a stack would have done over a past window, on a simulated endpoint."""
