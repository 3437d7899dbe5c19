"""Intake of files and scans: decoding, OCR, particulars, and resumable batch triage."""
