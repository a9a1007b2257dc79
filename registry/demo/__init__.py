"""A deterministic, seeded version of the 260,000-GPU Korea deployment, with planted anomalies."""
