"""The database: models' base, engines and sessions, the embedded server, migrations."""
