"""Shared helpers of the Python test runners; see orgdrive_server.py."""
