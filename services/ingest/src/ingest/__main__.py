"""``python -m ingest migrate | api | worker | relay | notifications | all``."""

from ingest.bootstrap import SPEC
from ingest.settings import IngestSettings
from shared.runtime import main

if __name__ == "__main__":
    main(SPEC, IngestSettings)
