"""Completion events (DESIGN §6): CloudEvents 1.0 on Service Bus, a Storage queue, and a signed webhook."""
