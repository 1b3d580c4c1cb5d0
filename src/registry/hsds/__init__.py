"""Open Referral HSDS 3.0: the public read API under /hsds and the importer of HSDS services.

- `mapping`: registry rows -> HSDS objects (pure), and the `Page` envelope.
- `inbound`: an HSDS service -> what the program services accept (pure).
- `queries`: SQL for the public subset; `service`: one function per endpoint.
- `importer`: read an export, import it in batches (as if record by record), the CLI entry point.
- `profile`: the IPV profile's schema modifications; `profile.md` is its document.
"""
