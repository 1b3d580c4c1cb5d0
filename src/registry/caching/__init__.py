"""Answers kept in each API process, and the version of the data they were built from."""
