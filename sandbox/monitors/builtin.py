"""Imports every built-in monitor module so their registrations run."""
