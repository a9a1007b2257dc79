"""The registry's domain model: aggregates, events and rules. Imports no infrastructure."""
