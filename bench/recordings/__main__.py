from __future__ import annotations

import sys

from bench.recordings.command import main

sys.exit(main())
