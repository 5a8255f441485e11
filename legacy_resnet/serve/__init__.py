"""Export for serving: SavedModels, frozen graphs and the runtimes that load them."""
