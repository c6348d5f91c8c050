"""PKGDOC runtime"""
