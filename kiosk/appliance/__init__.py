"""The appliance: the one event loop that joins everything, and its life under systemd."""
