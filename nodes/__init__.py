"""The deployable Passerelle node: the only edge (settings, storage, HTTP, pages, CLI)."""
