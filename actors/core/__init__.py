"""The pure core of the actor side: wire, topics, declarations, engine. No IO here."""
