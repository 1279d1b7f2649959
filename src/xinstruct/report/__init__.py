"""Seeing a run: a self-contained HTML report (``xinstruct report``) and the dataset card.

Everything here reads a run directory and writes files; nothing runs data, nothing is fetched.
"""
