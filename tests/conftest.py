import pathlib
import sys

# The harness and the local environment are plain modules beside the tests.
sys.path.insert(0, str(pathlib.Path(__file__).parent))
