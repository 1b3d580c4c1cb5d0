"""Telling people when something needs them: messages written to the outbox in the transaction of
the change (`events`), delivered by SMTP afterwards (`sender`), listed by `registry outbox`."""
