"""The weekly risk digest for the IP bureau."""
