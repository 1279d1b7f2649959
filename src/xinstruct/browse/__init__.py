"""``xinstruct browse``: a read-only local web app over a run's samples (index, pages, server)."""
