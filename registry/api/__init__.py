"""The registry's published API contracts (generated code lives in versioned subpackages)."""
