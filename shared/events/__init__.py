"""Completion events (README "Completion event"): CloudEvents 1.0 on Service Bus, a Storage queue, a
signed webhook."""
