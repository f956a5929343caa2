"""wallet room (pure): see docs/architecture.md."""
