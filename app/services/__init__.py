"""Use cases: take a Session and plain values, never import Flask, never commit."""
