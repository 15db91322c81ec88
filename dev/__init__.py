"""Local development stack: the demo OpenID provider and the static site server."""
