"""Run by a Ray job's entrypoint after the user's command: uploads ``./outputs`` as the run's
outputs with the run's token. (A local run's outputs are collected by the server from its
scratch directory; a Ray job's directory is on a Ray node, so the job sends them itself.)"""

import os
import sys

from .core import Run


def main():
    root = "outputs"
    if not os.path.isdir(root):
        return 0
    run = Run.get_context()
    for directory, _, files in os.walk(root):
        for name in sorted(files):
            path = os.path.join(directory, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            relative = os.path.relpath(path, root)
            try:
                run.upload_file(relative, path)
            except Exception as error:  # one output refused must not lose the others
                print(f"output '{relative}' was not uploaded: {error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
