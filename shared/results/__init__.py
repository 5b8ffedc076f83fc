"""Where a request's results go in Blob Storage (README "What an export writes") and how they are written."""
