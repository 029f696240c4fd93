# Empty compiler generated dependencies file for anxin_sim.
# This may be replaced when dependencies are built.
