"""One interface over every provider's SDK.

`types` holds the plain request/response types, `errors` the error taxonomy, `base` the ABC,
one module per wire protocol, and `registry` the kind -> adapter map and the client pool.
Nothing here imports Django models: adapters take ProviderSettings.
"""
