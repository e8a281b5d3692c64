"""HTTP routes, one module per resource; each adds its routes to the app itself (add_routes)."""
