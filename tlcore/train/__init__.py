"""PKGDOC train"""
