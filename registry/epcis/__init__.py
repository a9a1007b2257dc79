"""GS1 EPCIS 2.0: the registry's history as EPCIS events (export) and EPCIS events from partners
turned into registry commands (capture). See docs/epcis.md."""
