"""``python -m analytics migrate | api | worker | relay | all``."""

from shared.runtime import main

from analytics.bootstrap import SPEC
from analytics.settings import AnalyticsSettings

if __name__ == "__main__":
    main(SPEC, AnalyticsSettings)
