"""Shipbell: a self-hosted Slack chat-ops bot for deploys, incidents, releases and metrics."""

__version__ = "0.1.0"
