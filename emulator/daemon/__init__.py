"""The daemon: start-up and recovery, serving, shutdown."""
