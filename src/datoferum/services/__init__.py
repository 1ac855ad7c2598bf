"""Services: the domain logic. They know nothing of HTTP or the command line."""
