"""PKGDOC jobs"""
