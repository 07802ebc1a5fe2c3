# SPDX-License-Identifier: GPL-2.0
"""Test suites; each module has run(suite)."""
