"""PKGDOC evaluate"""
