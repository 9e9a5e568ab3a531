"""``python -m fulfillment migrate | api | worker | relay | all``."""

from fulfillment.bootstrap import SPEC
from fulfillment.settings import FulfillmentSettings
from shared.runtime import main

if __name__ == "__main__":
    main(SPEC, FulfillmentSettings)
