"""Where a request's results go in Blob Storage (DESIGN §5) and how they are written."""
