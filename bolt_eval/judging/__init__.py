"""Judges: any backend + a prompt template + a verdict parser, behind a ledger of judgments."""
