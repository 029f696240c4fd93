# Empty compiler generated dependencies file for anxin_dispatcher.
# This may be replaced when dependencies are built.
