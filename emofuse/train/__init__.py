"""Training recipes (need the ``train`` extra: torch). Inference code never imports this package."""
