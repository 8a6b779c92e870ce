"""A protocol written outside the library, as a third party would: see ``acme_chat``."""
