"""Lessons to listen to and look at: speech (eSpeak NG), sound files (PyAV), recordings by people,
pictures, and the cache that serves them (bot/media/library.py)."""
