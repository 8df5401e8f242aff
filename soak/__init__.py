"""The soak with faults (`make soak`): a harness like bench/, outside the app."""
