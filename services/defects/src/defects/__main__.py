"""``python -m defects migrate | api | worker | relay | all``."""

from defects.bootstrap import SPEC
from defects.settings import DefectsSettings
from shared.runtime import main

if __name__ == "__main__":
    main(SPEC, DefectsSettings)
