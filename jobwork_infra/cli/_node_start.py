"""Imported first by the CLI package: when this process is going to synth, start Node.js now.

The CDK's Node.js process takes about a third of a synth to start; started before the CLI imports
typer, rich and pydantic and checks the schema, it runs alongside them (see compile.warm_up).
Every other command leaves compile unimported (start-up time: bench/validate.py).
"""

import sys

if "synth" in sys.argv[1:3]:  # `jobwork-infra synth …`, `jobwork-infra --debug synth …`, `cli.py synth`
    from ..compile import warm_up

    warm_up()
