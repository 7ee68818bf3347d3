"""FinCare."""
