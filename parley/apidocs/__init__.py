"""The API's own description: the OpenAPI document (every operation's real errors and an
example of each body) and the interactive docs pages served from installed assets."""
