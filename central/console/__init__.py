"""The web console: server-rendered pages with htmx, Chinese first."""
