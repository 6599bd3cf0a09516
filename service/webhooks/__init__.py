"""Webhook delivery: event payloads, SIEM formats, senders and exports."""
