"""PKGDOC runs"""
