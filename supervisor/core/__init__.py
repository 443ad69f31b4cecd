"""The pure core of the supervisor: config model, restart policy, control protocol."""
