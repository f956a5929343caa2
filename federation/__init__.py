"""federation room (pure): see docs/architecture.md."""
