"""The command-line shell: parse, call the core, render. Nothing else lives here."""
