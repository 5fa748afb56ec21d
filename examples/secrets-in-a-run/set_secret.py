# The seed's first block with only the import changed: run locally, signed in with
# `casemate login`, next to a .casemate/config.json naming the workspace.
from casemate import Workspace
import os

ws = Workspace.from_config()
my_secret = os.environ.get("MY_SECRET")
keyvault = ws.get_default_keyvault()
keyvault.set_secret(name="mysecret", value = my_secret)
