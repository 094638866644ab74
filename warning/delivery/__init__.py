"""Alert delivery: the durable outbox, grouping, silences and the mail transports."""
