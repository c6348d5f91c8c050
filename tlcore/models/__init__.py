"""PKGDOC models"""
