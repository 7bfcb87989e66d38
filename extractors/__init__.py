"""Bytes of one file -> clean text blocks with structure -> sections, metadata, kind."""

from .compiled import guard

guard()  # before anything imports the PDF layout: a stale compiled build must not run
