"""PKGDOC cli"""
