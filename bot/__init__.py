"""Trợ lý Bình dân học vụ số: a digital-skills assistant for residents of xã Thuận Châu."""
