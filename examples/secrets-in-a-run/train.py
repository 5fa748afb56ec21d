# Code in submitted run: the seed's second block with only the import changed.
from casemate import Run

run = Run.get_context()
secret_value = run.get_secret(name="mysecret")

# What a training script then does with it (the stored log shows *** here).
print("connecting with", secret_value)
run.log("accuracy", 0.91, step=1)
