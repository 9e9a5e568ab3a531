"""``python -m analytics migrate | api | worker | relay | all``."""

from analytics.bootstrap import SPEC
from analytics.settings import AnalyticsSettings
from shared.runtime import main

if __name__ == "__main__":
    main(SPEC, AnalyticsSettings)
