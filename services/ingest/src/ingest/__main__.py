"""``python -m ingest migrate | api | worker | relay | all``."""

from shared.runtime import main

from ingest.bootstrap import SPEC
from ingest.settings import IngestSettings

if __name__ == "__main__":
    main(SPEC, IngestSettings)
