"""Faithful local fakes of the privacy platforms cvdsr connects to (docs/connectors.md), built from
``../shared/specs/ticketing-platforms.md``: each sends what its platform sends and checks what it checks."""
