"""The edge toward Blaxel: one pooled HTTP client and typed errors."""
