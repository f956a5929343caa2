"""HTTP edge of the node: routers, sessions, CSRF, error responses and page rendering."""
