"""Slack wiring: the Bolt app, its middleware, the HTTP server and the manifest."""
