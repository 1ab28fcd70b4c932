"""The demo: one set of synthetic children, each kind's extract generators, and the loader
`sendx run --demo` uses."""
