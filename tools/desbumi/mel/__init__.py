"""MEL: indicators and helpers for the MEAL instruments (training, tests, village capacity, MSC)."""
