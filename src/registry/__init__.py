"""IPV peer-program registry: programs, partners, matching and reports over an async API."""
