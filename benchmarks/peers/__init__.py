"""Real third-party peers, installed into their own virtualenvs and served as they would be in production,
so FinCare's figures sit next to something other than its own opinion of itself."""
