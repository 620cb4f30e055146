"""A digital-skills assistant for the residents of a commune (first user: Thuan Chau, Son La)."""
