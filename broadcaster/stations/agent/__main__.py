import sys

from broadcaster.stations.agent.runner import main

sys.exit(main())
