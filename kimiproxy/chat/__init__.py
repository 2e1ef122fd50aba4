"""The chat core: one request's lifecycle from account choice to cleanup, whatever the API
surface."""
