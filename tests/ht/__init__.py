# SPDX-License-Identifier: GPL-2.0
"""Host-side test driver for hetero-tiering."""
