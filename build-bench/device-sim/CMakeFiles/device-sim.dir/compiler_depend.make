# Empty compiler generated dependencies file for device-sim.
# This may be replaced when dependencies are built.
