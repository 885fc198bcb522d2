"""Dashboard metrics export, the static page's data, and the markdown decision report."""
